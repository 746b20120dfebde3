#include "tmk_protocol.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

namespace tmk {
namespace {

// Appends to a caller buffer; remembers whether anything did not fit.
struct Writer {
  char* buf;
  size_t cap;
  size_t len;
  bool ok;

  Writer(char* b, size_t c) : buf(b), cap(c), len(0), ok(b != nullptr && c > 0) {}

  void put(char c) {
    if (ok && len + 1 < cap) {
      buf[len++] = c;
    } else {
      ok = false;
    }
  }
  void str(const char* s) {
    while (*s) put(*s++);
  }
  void u32(uint32_t v) {
    char t[10];
    int n = 0;
    do {
      t[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(t[--n]);
  }
  void i32(int32_t v) {
    if (v < 0) {
      put('-');
      u32(static_cast<uint32_t>(-(static_cast<int64_t>(v))));
    } else {
      u32(static_cast<uint32_t>(v));
    }
  }
  void f32(float v) {
    char t[16];
    const int n = format_float(t, sizeof(t), v);
    if (n < 0) {
      ok = false;
    } else {
      str(t);
    }
  }
  // Ends the line with '\n' and a NUL; the line's length, or -1 if anything failed.
  int end_line() {
    if (ok && len > kMaxLineChars) ok = false;
    put('\n');
    if (!ok) {
      if (buf != nullptr && cap > 0) buf[0] = '\0';
      return -1;
    }
    buf[len] = '\0';
    return static_cast<int>(len);
  }
};

// a * 10^k; exact powers of ten up to 10^22 keep the result correctly rounded.
double scale_pow10(double a, int k) {
  double p = 1.0;
  for (int i = 0; i < (k < 0 ? -k : k); ++i) p *= 10.0;
  return k >= 0 ? a * p : a / p;
}

int format_text_line(char* buf, size_t cap, const char* tag, const char* fmt, va_list args) {
  Writer w(buf, cap);
  w.str(tag);
  if (!w.ok) return w.end_line();
  const int n = vsnprintf(buf + w.len, cap - w.len, fmt, args);
  if (n < 0 || static_cast<size_t>(n) >= cap - w.len) {
    buf[0] = '\0';
    return -1;
  }
  for (int i = 0; i < n; ++i) {  // one line: a newline in the text would start a bad line
    char& c = buf[w.len + static_cast<size_t>(i)];
    if (c == '\n' || c == '\r') c = ' ';
  }
  w.len += static_cast<size_t>(n);
  return w.end_line();
}

// The first word equals name, ignoring case (the simulated board, tinymlkit/simboard.py, does too).
bool word_is(const char* word, size_t len, const char* name) {
  if (strlen(name) != len) return false;
  for (size_t i = 0; i < len; ++i) {
    char c = word[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != name[i]) return false;
  }
  return true;
}

bool has_blank_or_equals(const char* s) {
  for (; *s; ++s) {
    if (*s == ' ' || *s == '\t' || *s == '=' || *s == '\n' || *s == '\r') return true;
  }
  return false;
}

}  // namespace

int format_float(char* buf, size_t cap, float value) {
  Writer w(buf, cap);
  if (isnan(value)) {
    w.str("nan");
  } else if (isinf(value)) {
    w.str(value < 0.0f ? "-inf" : "inf");
  } else {
    if (signbit(value)) w.put('-');
    const double a = fabs(static_cast<double>(value));
    if (a == 0.0) {
      w.put('0');
    } else {
      // 6 significant digits: m in [100000, 999999], value = m * 10^(e - 5).
      int e = static_cast<int>(floor(log10(a)));
      double m = rint(scale_pow10(a, 5 - e));  // ties to even, as glibc's printf
      for (int tries = 0; tries < 3 && (m >= 1e6 || m < 1e5); ++tries) {
        e += (m >= 1e6) ? 1 : -1;
        m = rint(scale_pow10(a, 5 - e));
      }
      char d[6];
      uint32_t mi = static_cast<uint32_t>(m);
      for (int i = 5; i >= 0; --i) {
        d[i] = static_cast<char>('0' + mi % 10);
        mi /= 10;
      }
      int last = 5;  // %g drops trailing zeros
      while (last > 0 && d[last] == '0') --last;
      if (e < -4 || e >= 6) {  // scientific, as %g: d.ddddde+XX
        w.put(d[0]);
        if (last > 0) {
          w.put('.');
          for (int i = 1; i <= last; ++i) w.put(d[i]);
        }
        w.put('e');
        w.put(e < 0 ? '-' : '+');
        const int ae = e < 0 ? -e : e;
        if (ae < 10) w.put('0');
        w.u32(static_cast<uint32_t>(ae));
      } else if (e >= 0) {  // ddd.ddd
        for (int i = 0; i <= e; ++i) w.put(d[i]);
        if (last > e) {
          w.put('.');
          for (int i = e + 1; i <= last; ++i) w.put(d[i]);
        }
      } else {  // 0.000ddd
        w.str("0.");
        for (int i = 0; i < -e - 1; ++i) w.put('0');
        for (int i = 0; i <= last; ++i) w.put(d[i]);
      }
    }
  }
  if (!w.ok) {
    if (buf != nullptr && cap > 0) buf[0] = '\0';
    return -1;
  }
  buf[w.len] = '\0';
  return static_cast<int>(w.len);
}

int format_header(char* buf, size_t cap, const StreamInfo& info) {
  Writer w(buf, cap);
  w.str("#TINYMLKIT v=");
  w.i32(kProtocolVersion);
  w.str(" board=");
  w.str(info.board);
  w.str(" sensor=");
  w.str(info.sensor);
  w.str(" rate_hz=");
  w.f32(info.rate_hz);
  w.str(" channels=");
  for (size_t c = 0; c < info.channel_count; ++c) {
    if (c > 0) w.put(',');
    w.str(info.channels[c]);
  }
  w.str(" units=");
  for (size_t c = 0; c < info.channel_count; ++c) {
    if (c > 0) w.put(',');
    w.str(info.units[c]);
  }
  if (info.channel_count == 0) w.ok = false;
  return w.end_line();
}

int format_start(char* buf, size_t cap) {
  Writer w(buf, cap);
  w.str("#START");
  return w.end_line();
}

int format_stop(char* buf, size_t cap, uint32_t count) {
  Writer w(buf, cap);
  w.str("#STOP n=");
  w.u32(count);
  return w.end_line();
}

int format_frame_header(char* buf, size_t cap, uint32_t n, uint32_t width, uint32_t height, uint32_t crc) {
  Writer w(buf, cap);
  w.str("#FRAME n=");
  w.u32(n);
  w.str(" width=");
  w.u32(width);
  w.str(" height=");
  w.u32(height);
  w.str(" bytes=");
  w.u32(width * height);
  w.str(" crc32=");
  static const char kHex[] = "0123456789abcdef";
  for (int shift = 28; shift >= 0; shift -= 4) w.put(kHex[(crc >> shift) & 0xFu]);
  return w.end_line();
}

int format_frame_end(char* buf, size_t cap, uint32_t n) {
  Writer w(buf, cap);
  w.str("\n#ENDFRAME n=");
  w.u32(n);
  return w.end_line();
}

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

int format_sample(char* buf, size_t cap, uint32_t n, const float* values, size_t channel_count) {
  Writer w(buf, cap);
  w.u32(n);
  for (size_t c = 0; c < channel_count; ++c) {
    w.put(',');
    w.f32(values[c]);
  }
  return w.end_line();
}

int format_sample_int16(char* buf, size_t cap, uint32_t n, const int16_t* values,
                        size_t channel_count) {
  Writer w(buf, cap);
  w.u32(n);
  for (size_t c = 0; c < channel_count; ++c) {
    w.put(',');
    w.i32(values[c]);
  }
  return w.end_line();
}

int format_result(char* buf, size_t cap, uint32_t n, const char* label, const float* logits,
                  size_t logit_count, uint32_t invoke_us) {
  Writer w(buf, cap);
  if (label == nullptr || *label == '\0' || has_blank_or_equals(label) || logit_count == 0) {
    w.ok = false;
    return w.end_line();
  }
  w.str("#RESULT n=");
  w.u32(n);
  w.str(" label=");
  w.str(label);
  w.str(" logits=");
  for (size_t k = 0; k < logit_count; ++k) {
    if (k > 0) w.put(',');
    w.f32(logits[k]);
  }
  w.str(" us=");
  w.u32(invoke_us);
  return w.end_line();
}

int format_ok(char* buf, size_t cap, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int n = format_text_line(buf, cap, "#OK ", fmt, args);
  va_end(args);
  return n;
}

int format_err(char* buf, size_t cap, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int n = format_text_line(buf, cap, "#ERR ", fmt, args);
  va_end(args);
  return n;
}

Command parse_command(const char* line) {
  Command cmd;
  cmd.kind = CommandKind::kEmpty;
  cmd.record_ms = 0;
  cmd.word[0] = '\0';
  cmd.problem = "";
  const char* p = line;
  while (*p == ' ' || *p == '\t') ++p;
  const char* end = p + strlen(p);
  while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) {
    --end;
  }
  if (p == end) return cmd;
  const char* word_end = p;
  while (word_end < end && *word_end != ' ' && *word_end != '\t') ++word_end;
  size_t word_len = static_cast<size_t>(word_end - p);
  const size_t kept = word_len < sizeof(cmd.word) - 1 ? word_len : sizeof(cmd.word) - 1;
  memcpy(cmd.word, p, kept);
  cmd.word[kept] = '\0';
  const char* arg = word_end;
  while (arg < end && (*arg == ' ' || *arg == '\t')) ++arg;
  const size_t arg_len = static_cast<size_t>(end - arg);

  struct Plain {
    const char* name;
    CommandKind kind;
  };
  static const Plain kPlain[] = {{"INFO", CommandKind::kInfo},
                                 {"START", CommandKind::kStart},
                                 {"STOP", CommandKind::kStop},
                                 {"INFER", CommandKind::kInfer},
                                 {"SNAP", CommandKind::kSnap}};
  for (const Plain& c : kPlain) {
    if (word_is(p, word_len, c.name)) {
      if (arg_len != 0) {
        cmd.kind = CommandKind::kInvalid;
        cmd.problem = "takes no arguments";
      } else {
        cmd.kind = c.kind;
      }
      return cmd;
    }
  }
  if (word_is(p, word_len, "RECORD")) {
    cmd.kind = CommandKind::kInvalid;
    cmd.problem = "needs ms=<duration in ms>, e.g. RECORD ms=1000";
    if (arg_len < 4 || !word_is(arg, 3, "MS=")) return cmd;
    uint32_t ms = 0;
    for (const char* q = arg + 3; q < end; ++q) {
      if (*q < '0' || *q > '9') return cmd;
      ms = ms * 10 + static_cast<uint32_t>(*q - '0');
      if (ms > kMaxRecordMs) {
        cmd.problem = "ms= is too long (at most 600000 ms)";
        return cmd;
      }
    }
    if (ms == 0) {
      cmd.problem = "ms= must be at least 1";
      return cmd;
    }
    cmd.kind = CommandKind::kRecord;
    cmd.record_ms = ms;
    cmd.problem = "";
    return cmd;
  }
  cmd.kind = CommandKind::kUnknown;
  return cmd;
}

int format_command_error(char* buf, size_t cap, const Command& command) {
  if (command.kind == CommandKind::kUnknown || command.kind == CommandKind::kSnap) {
    return format_err(buf, cap, "unknown command %s", command.word);  // PROTOCOL.md wording
  }
  if (command.kind == CommandKind::kInvalid) {
    return format_err(buf, cap, "%s: %s", command.word, command.problem);
  }
  if (buf != nullptr && cap > 0) buf[0] = '\0';
  return -1;
}

LineReader::LineReader() : len_(0), overflowing_(false), overflowed_(false), done_(false) {
  buf_[0] = '\0';
}

bool LineReader::push(char c) {
  if (done_) {  // the previous line was handed out: start a new one
    len_ = 0;
    overflowing_ = overflowed_ = done_ = false;
  }
  if (c == '\n') {
    if (len_ > 0 && buf_[len_ - 1] == '\r') --len_;
    buf_[len_] = '\0';
    overflowed_ = overflowing_;
    done_ = true;
    return true;
  }
  if (len_ < kMaxLineChars) {
    buf_[len_++] = c;
  } else {
    overflowing_ = true;
  }
  buf_[len_] = '\0';
  return false;
}

}  // namespace tmk
