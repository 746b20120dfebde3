// mic_capture: records the PDM microphone of an Arduino Nano 33 BLE Sense Rev2 at 16 kHz and
// sends it per hardware/PROTOCOL.md. 16,000 samples/s are more than a 115200-baud serial line
// carries, so the board records into RAM first: RECORD ms=<n> (at most 1000 ms: 32 KB of RAM),
// then #START, one line per sample "<n>,<int16>", #STOP n=<count>. INFO answers the header
// (sensor=mic rate_hz=16000 channels=mic units=int16); START, STOP and INFER are refused.
//
// Microphone: ST MP34DT06JTR (Rev2; MP34DT05 on Rev1), read with the PDM library of the
// arduino:mbed_nano core: PDM.begin(1 channel, 16000 Hz) gives 16-bit PCM samples.
// Build and upload: ../README.md.
#include <PDM.h>
#include <TinyMLKit.h>

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";
constexpr uint32_t kMicRateHz = 16000;                // PDM.begin(1, 16000): 16 kHz mono
constexpr uint32_t kMaxSamples = kMicRateHz;          // RECORD holds at most 1 s (32 KB)
const char* const kChannels[] = {"mic"};
const char* const kUnits[] = {"int16"};

int16_t g_audio[kMaxSamples];
int16_t g_chunk[512];                                 // one PDM callback's samples
volatile uint32_t g_filled = 0;
volatile uint32_t g_target = 0;                       // 0: not recording
uint32_t g_last_count = 0;
bool g_mic_ok = false;
tmk::LineReader g_reader;
char g_line[tmk::kLineBufferBytes];

void send(int len) {
  if (len > 0) Serial.write(g_line, static_cast<size_t>(len));
}

// Called by the PDM driver (interrupt context) whenever a buffer of samples is ready.
void on_pdm_data() {
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof(g_chunk))) bytes = static_cast<int>(sizeof(g_chunk));
  const int n = PDM.read(g_chunk, bytes) / 2;
  for (int i = 0; i < n && g_filled < g_target; ++i) g_audio[g_filled++] = g_chunk[i];
}

void send_recording(uint32_t count) {
  send(tmk::format_start(g_line, sizeof(g_line)));
  for (uint32_t i = 0; i < count; ++i) {
    send(tmk::format_sample_int16(g_line, sizeof(g_line), i, &g_audio[i], 1));
  }
  send(tmk::format_stop(g_line, sizeof(g_line), count));
  g_last_count = count;
}

void record(uint32_t ms) {
  const uint32_t n = ms * (kMicRateHz / 1000);
  if (!g_mic_ok) {
    send(tmk::format_err(g_line, sizeof(g_line), "microphone not found"));
  } else if (n > kMaxSamples) {
    send(tmk::format_err(g_line, sizeof(g_line), "RECORD ms=%u does not fit in RAM: at most %u ms",
                         static_cast<unsigned>(ms), static_cast<unsigned>(kMaxSamples / 16)));
  } else {
    noInterrupts();
    g_filled = 0;
    g_target = n;
    interrupts();
    while (g_filled < g_target) delay(1);  // the PDM callback fills g_audio
    g_target = 0;
    send_recording(n);
  }
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
  Serial.begin(tmk::kBaudRate);
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  PDM.onReceive(on_pdm_data);
  g_mic_ok = PDM.begin(1, kMicRateHz);
  on_line("INFO", false);
  if (!g_mic_ok) send(tmk::format_err(g_line, sizeof(g_line), "microphone not found"));
}

void loop() {
  while (Serial.available() > 0) {
    if (g_reader.push(static_cast<char>(Serial.read()))) on_line(g_reader.line(), g_reader.overflowed());
  }
}
