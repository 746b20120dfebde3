// The TinyML Lab Kit serial protocol, version 1 (hardware/PROTOCOL.md): format every line a board
// sends, parse every command a host sends. The host side is tinymlkit/capture.py.
//
// Every format_* function writes one complete line INCLUDING its '\n' into buf (NUL-terminated)
// and returns its length in bytes (without the NUL), or -1 when the line would not fit in `cap`
// or would be longer than kMaxLineChars: nothing half-written is ever meant to be sent.
// Floats are written like C's "%.6g" (6 significant digits, correctly rounded) by format_float,
// which needs no printf float support (newlib-nano leaves it out unless linked with
// -u _printf_float).
#ifndef TINYMLKIT_PROTOCOL_H_
#define TINYMLKIT_PROTOCOL_H_

#include <stddef.h>
#include <stdint.h>

namespace tmk {

constexpr int kProtocolVersion = 1;
constexpr uint32_t kBaudRate = 115200;
constexpr size_t kMaxLineChars = 255;                  // without the '\n' (PROTOCOL.md)
constexpr size_t kLineBufferBytes = kMaxLineChars + 2;  // + '\n' + NUL
constexpr uint32_t kMaxRecordMs = 600000;               // RECORD ms= above this is refused

// What the header line announces.
struct StreamInfo {
  const char* board;            // profile id from tinymlkit/data/boards.toml
  const char* sensor;           // "imu" or "mic"
  float rate_hz;                // samples per second
  const char* const* channels;  // channel_count names, e.g. "ax"
  const char* const* units;     // channel_count units, e.g. "g"
  size_t channel_count;
};

// value as "%.6g" would print it ("0.0123", "-0.981", "1.5e-05", "nan", "inf"), no '\n'.
// Returns the length, or -1 if it does not fit (cap >= 14 always fits).
int format_float(char* buf, size_t cap, float value);

int format_header(char* buf, size_t cap, const StreamInfo& info);
int format_start(char* buf, size_t cap);
int format_stop(char* buf, size_t cap, uint32_t count);
// "<n>,<v1>,...,<vC>\n"
int format_sample(char* buf, size_t cap, uint32_t n, const float* values, size_t channel_count);
int format_sample_int16(char* buf, size_t cap, uint32_t n, const int16_t* values,
                        size_t channel_count);
// "#RESULT n=<n> label=<label> logits=<l1,...,lK> us=<us>\n"; label must have no blank or '='.
int format_result(char* buf, size_t cap, uint32_t n, const char* label, const float* logits,
                  size_t logit_count, uint32_t invoke_us);
// Camera frames (PROTOCOL.md, "Camera frames"): the line before the frame's bytes,
// "#FRAME n=<n> width=<w> height=<h> bytes=<w*h> crc32=<8 lower-case hex digits>\n", and the one
// after them, "\n#ENDFRAME n=<n>\n" (its leading "\n" ends the binary run).
int format_frame_header(char* buf, size_t cap, uint32_t n, uint32_t width, uint32_t height, uint32_t crc);
int format_frame_end(char* buf, size_t cap, uint32_t n);
// CRC-32 of a frame's bytes: IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR
// 0xFFFFFFFF (zlib's crc32). Continue over several pieces with crc32_update, starting from 0.
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n);
inline uint32_t crc32(const uint8_t* data, size_t n) { return crc32_update(0, data, n); }

// "#OK <text>\n" / "#ERR <text>\n" with printf-style text (integers and strings only: no %f).
int format_ok(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
int format_err(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

enum class CommandKind : uint8_t {
  kEmpty,    // blank line: ignore
  kInfo,     // INFO
  kStart,    // START
  kStop,     // STOP
  kRecord,   // RECORD ms=<duration>
  kInfer,    // INFER
  kSnap,     // SNAP (camera sketches; every other sketch answers "#ERR unknown command SNAP")
  kUnknown,  // a word no course board knows (e.g. the simulated board's ACT)
  kInvalid,  // a known command with wrong arguments
};

struct Command {
  CommandKind kind;
  uint32_t record_ms;   // RECORD only
  char word[17];        // the first word as typed (cut at 16 characters)
  const char* problem;  // kInvalid: what is wrong, for the #ERR line
};

// Parse one host line (with or without "\r\n"). PROTOCOL.md writes commands in upper case;
// lower case is accepted too, as by the simulated board (people type them in a Serial Monitor).
Command parse_command(const char* line);

// The #ERR line for a kUnknown or kInvalid command: "#ERR unknown command ACT" (PROTOCOL.md),
// "#ERR RECORD: needs ms=<duration in ms>, e.g. RECORD ms=1000". -1 for other kinds.
int format_command_error(char* buf, size_t cap, const Command& command);

// Collects host bytes into lines. push() returns true when a line is complete; line() is then
// valid (without "\r\n") until the next push. A line longer than kMaxLineChars is cut and
// flagged with overflowed(): answer it with an #ERR, never act on it.
class LineReader {
 public:
  LineReader();
  bool push(char c);
  const char* line() const { return buf_; }
  bool overflowed() const { return overflowed_; }

 private:
  char buf_[kMaxLineChars + 1];
  size_t len_;
  bool overflowing_;
  bool overflowed_;
  bool done_;
};

}  // namespace tmk

#endif  // TINYMLKIT_PROTOCOL_H_
