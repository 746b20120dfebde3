#include "tmk_mic_app.h"

namespace tmk {

namespace {
const char* const kMicChannels[] = {"mic"};
const char* const kMicUnits[] = {"int16"};
}  // namespace

bool MicApp::begin(const char* board_id, uint32_t rate_hz, WriteFn write, void* write_ctx,
                   int16_t* storage, uint32_t capacity, RecordFn record, void* record_ctx) {
  if (board_id == nullptr || write == nullptr || record == nullptr || storage == nullptr ||
      capacity == 0 || rate_hz == 0 || rate_hz % 1000 != 0) {
    return false;
  }
  board_id_ = board_id;
  rate_hz_ = rate_hz;
  write_ = write;
  write_ctx_ = write_ctx;
  storage_ = storage;
  capacity_ = capacity;
  record_ = record;
  record_ctx_ = record_ctx;
  return true;
}

void MicApp::send(int len) {
  if (len > 0) write_(write_ctx_, line_, static_cast<size_t>(len));
}

void MicApp::send_header() {
  const StreamInfo info{board_id_, "mic", static_cast<float>(rate_hz_), kMicChannels, kMicUnits, 1};
  send(format_header(line_, sizeof(line_), info));
}

void MicApp::send_error(const char* text) { send(format_err(line_, sizeof(line_), "%s", text)); }

void MicApp::record_take(uint32_t ms) {
  const uint32_t per_ms = rate_hz_ / 1000;
  if (!mic_ok_) {
    send_error("microphone not found");
    return;
  }
  if (ms > capacity_ / per_ms) {
    send(format_err(line_, sizeof(line_), "RECORD ms=%u does not fit in RAM: at most %u ms",
                    static_cast<unsigned>(ms), static_cast<unsigned>(capacity_ / per_ms)));
    return;
  }
  const uint32_t n = ms * per_ms;
  if (!record_(record_ctx_, storage_, n)) {
    send_error("the microphone stopped delivering samples");
    return;
  }
  send(format_start(line_, sizeof(line_)));
  for (uint32_t i = 0; i < n; ++i) send(format_sample_int16(line_, sizeof(line_), i, &storage_[i], 1));
  send(format_stop(line_, sizeof(line_), n));
  last_count_ = n;
}

void MicApp::on_line(const char* line, bool overflowed) {
  if (overflowed) {
    send_error("line too long");
    return;
  }
  const Command cmd = parse_command(line);
  switch (cmd.kind) {
    case CommandKind::kEmpty:
      break;
    case CommandKind::kInfo:
      send_header();
      break;
    case CommandKind::kRecord:
      record_take(cmd.record_ms);
      break;
    case CommandKind::kStart:
      send_error("16 kHz audio is faster than the serial link: use RECORD ms=<n>");
      break;
    case CommandKind::kStop:
      send(format_stop(line_, sizeof(line_), last_count_));
      break;
    case CommandKind::kInfer:
      send_error("no model");
      break;
    case CommandKind::kSnap:  // no camera here: "#ERR unknown command SNAP"
    case CommandKind::kUnknown:
    case CommandKind::kInvalid:
      send(format_command_error(line_, sizeof(line_), cmd));
      break;
  }
}

}  // namespace tmk
