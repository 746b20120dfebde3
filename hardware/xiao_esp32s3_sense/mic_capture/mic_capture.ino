// mic_capture: records the PDM microphone of a Seeed Studio XIAO ESP32S3 Sense at 16 kHz and sends
// it per hardware/PROTOCOL.md. 16,000 samples/s are more than a 115200-baud serial line carries,
// so the board records into memory first: RECORD ms=<n> (at most 10 s in the 8 MB PSRAM, 1 s
// without PSRAM), then #START, one line per sample "<n>,<int16>", #STOP n=<count>. INFO answers
// the header (sensor=mic rate_hz=16000 channels=mic units=int16); START, STOP, INFER are refused.
//
// Microphone: the Sense board's digital PDM microphone, clock on GPIO42 and data on GPIO41 (Seeed
// wiki, "XIAO ESP32S3 Sense: microphone usage"), read with the ESP_I2S library of the esp32 core
// 3.x in PDM RX mode, 16-bit mono at 16 kHz.
#include <ESP_I2S.h>
#include <TinyMLKit.h>

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr int kPdmClockPin = 42;
constexpr int kPdmDataPin = 41;
constexpr uint32_t kMicRateHz = 16000;
constexpr uint32_t kPsramSeconds = 10;        // 10 s x 32 KB/s = 320 KB of PSRAM
constexpr uint32_t kSettleSamples = 512;      // dropped before each take: old audio in the DMA buffers
const char* const kChannels[] = {"mic"};
const char* const kUnits[] = {"int16"};

I2SClass g_i2s;
int16_t g_fallback[kMicRateHz];               // 1 s in internal RAM when PSRAM is off
int16_t* g_audio = g_fallback;
uint32_t g_max_samples = kMicRateHz;
uint32_t g_last_count = 0;
bool g_mic_ok = false;
tmk::LineReader g_reader;
char g_line[tmk::kLineBufferBytes];

void send(int len) {
  if (len > 0) Serial.write(g_line, static_cast<size_t>(len));
}

// Reads n samples into out; false if the I2S driver stops delivering.
bool read_samples(int16_t* out, uint32_t n) {
  uint32_t got = 0;
  while (got < n) {
    const size_t bytes = g_i2s.readBytes(reinterpret_cast<char*>(out + got), (n - got) * 2);
    if (bytes == 0) return false;
    got += bytes / 2;
  }
  return true;
}

void record(uint32_t ms) {
  const uint32_t n = ms * (kMicRateHz / 1000);
  if (!g_mic_ok) {
    send(tmk::format_err(g_line, sizeof(g_line), "microphone not found"));
    return;
  }
  if (n > g_max_samples) {
    send(tmk::format_err(g_line, sizeof(g_line), "RECORD ms=%u does not fit in memory: at most %u ms",
                         static_cast<unsigned>(ms), static_cast<unsigned>(g_max_samples / 16)));
    return;
  }
  static int16_t settle[kSettleSamples];
  if (!read_samples(settle, kSettleSamples) || !read_samples(g_audio, n)) {
    send(tmk::format_err(g_line, sizeof(g_line), "microphone read failed"));
    return;
  }
  send(tmk::format_start(g_line, sizeof(g_line)));
  for (uint32_t i = 0; i < n; ++i) {
    send(tmk::format_sample_int16(g_line, sizeof(g_line), i, &g_audio[i], 1));
  }
  send(tmk::format_stop(g_line, sizeof(g_line), n));
  g_last_count = n;
}

void on_line(const char* line, bool overflowed) {
  if (overflowed) {
    send(tmk::format_err(g_line, sizeof(g_line), "line too long"));
    return;
  }
  const tmk::Command cmd = tmk::parse_command(line);
  switch (cmd.kind) {
    case tmk::CommandKind::kEmpty:
      break;
    case tmk::CommandKind::kInfo: {
      const tmk::StreamInfo info{kBoardId, "mic", static_cast<float>(kMicRateHz), kChannels, kUnits, 1};
      send(tmk::format_header(g_line, sizeof(g_line), info));
      break;
    }
    case tmk::CommandKind::kRecord:
      record(cmd.record_ms);
      break;
    case tmk::CommandKind::kStart:
      send(tmk::format_err(g_line, sizeof(g_line),
                           "16 kHz audio is faster than the serial link: use RECORD ms=<n>"));
      break;
    case tmk::CommandKind::kStop:
      send(tmk::format_stop(g_line, sizeof(g_line), g_last_count));
      break;
    case tmk::CommandKind::kInfer:
      send(tmk::format_err(g_line, sizeof(g_line), "no model"));
      break;
    case tmk::CommandKind::kUnknown:
    case tmk::CommandKind::kInvalid:
      send(tmk::format_command_error(g_line, sizeof(g_line), cmd));
      break;
  }
}

}  // namespace

void setup() {
  Serial.begin(tmk::kBaudRate);  // USB CDC: needs "USB CDC On Boot: Enabled" (../README.md)
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  if (psramFound()) {  // PSRAM=opi in the profile's FQBN
    void* big = ps_malloc(kPsramSeconds * kMicRateHz * sizeof(int16_t));
    if (big != nullptr) {
      g_audio = static_cast<int16_t*>(big);
      g_max_samples = kPsramSeconds * kMicRateHz;
    }
  }
  g_i2s.setPinsPdmRx(kPdmClockPin, kPdmDataPin);
  g_mic_ok = g_i2s.begin(I2S_MODE_PDM_RX, kMicRateHz, I2S_DATA_BIT_WIDTH_16BIT, I2S_SLOT_MODE_MONO);
  on_line("INFO", false);
  if (!g_mic_ok) send(tmk::format_err(g_line, sizeof(g_line), "microphone not found"));
}

void loop() {
  while (Serial.available() > 0) {
    if (g_reader.push(static_cast<char>(Serial.read()))) on_line(g_reader.line(), g_reader.overflowed());
  }
}
