// MicApp: everything a microphone sketch does between the microphone and the serial link, per
// hardware/PROTOCOL.md, with no Arduino calls. The sketch gives it a buffer for the audio, a
// function that records n samples into it (the PDM/I2S glue), and a write function (Serial.write);
// MicApp answers INFO and RECORD ms=<n> (record into RAM, then #START, "<n>,<int16>" lines,
// #STOP n=<count>) and refuses START (16 kHz is more than the link carries) and INFER.
#ifndef TINYMLKIT_MIC_APP_H_
#define TINYMLKIT_MIC_APP_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_imu_app.h"  // WriteFn
#include "tmk_protocol.h"

namespace tmk {

// Records exactly n samples (at the app's rate) into out; false if the microphone failed.
using RecordFn = bool (*)(void* ctx, int16_t* out, uint32_t n);

class MicApp {
 public:
  // board_id: a tinymlkit/data/boards.toml id. storage: room for capacity samples. Returns false
  // for inconsistent arguments (no write or record function, no storage, rate not a kHz multiple).
  bool begin(const char* board_id, uint32_t rate_hz, WriteFn write, void* write_ctx,
             int16_t* storage, uint32_t capacity, RecordFn record, void* record_ctx);
  // false: the microphone did not start (RECORD then answers "#ERR microphone not found").
  void set_mic_ok(bool ok) { mic_ok_ = ok; }
  void send_header();
  void send_error(const char* text);
  // One complete host line (LineReader::line()); overflowed: LineReader::overflowed().
  void on_line(const char* line, bool overflowed);

 private:
  void send(int len);
  void record_take(uint32_t ms);

  const char* board_id_ = nullptr;
  uint32_t rate_hz_ = 0;
  WriteFn write_ = nullptr;
  void* write_ctx_ = nullptr;
  int16_t* storage_ = nullptr;
  uint32_t capacity_ = 0;
  RecordFn record_ = nullptr;
  void* record_ctx_ = nullptr;
  bool mic_ok_ = true;
  uint32_t last_count_ = 0;
  char line_[kLineBufferBytes];
};

}  // namespace tmk

#endif  // TINYMLKIT_MIC_APP_H_
