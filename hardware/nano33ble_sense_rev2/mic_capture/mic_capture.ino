// mic_capture: records the PDM microphone of an Arduino Nano 33 BLE Sense Rev2 at 16 kHz and
// sends it per hardware/PROTOCOL.md. 16,000 samples/s are more than a 115200-baud serial line
// carries, so the board records into RAM first: RECORD ms=<n> (at most 1000 ms: 32 KB of RAM),
// then #START, one line per sample "<n>,<int16>", #STOP n=<count>. INFO answers the header
// (sensor=mic rate_hz=16000 channels=mic units=int16); START and INFER are refused. The protocol
// side is tmk::MicApp (libraries/TinyMLKit, tested on a laptop); this file is the microphone glue.
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

int16_t g_audio[kMaxSamples];
int16_t g_chunk[512];                                 // one PDM callback's samples
int16_t* volatile g_target_buffer = nullptr;          // nullptr: not recording
volatile uint32_t g_filled = 0;
volatile uint32_t g_target = 0;
tmk::MicApp g_app;
tmk::LineReader g_reader;

void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

// Called by the PDM driver (interrupt context) whenever a buffer of samples is ready.
void on_pdm_data() {
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof(g_chunk))) bytes = static_cast<int>(sizeof(g_chunk));
  const int n = PDM.read(g_chunk, bytes) / 2;
  for (int i = 0; i < n && g_target_buffer != nullptr && g_filled < g_target; ++i) {
    g_target_buffer[g_filled++] = g_chunk[i];
  }
}

// tmk::RecordFn: the PDM callback fills out; false if it stops delivering for 2 s.
bool record_samples(void*, int16_t* out, uint32_t n) {
  noInterrupts();
  g_filled = 0;
  g_target = n;
  g_target_buffer = out;
  interrupts();
  const uint32_t t0 = millis();
  while (g_filled < n && millis() - t0 < 2000 + n / 16) delay(1);
  g_target_buffer = nullptr;
  return g_filled >= n;
}

}  // namespace

void setup() {
  Serial.begin(tmk::kBaudRate);
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  g_app.begin(kBoardId, kMicRateHz, write_serial, nullptr, g_audio, kMaxSamples, record_samples, nullptr);
  PDM.onReceive(on_pdm_data);
  const bool mic_ok = PDM.begin(1, kMicRateHz);
  g_app.set_mic_ok(mic_ok);
  g_app.send_header();
  if (!mic_ok) g_app.send_error("microphone not found");
}

void loop() {
  while (Serial.available() > 0) {
    if (g_reader.push(static_cast<char>(Serial.read()))) g_app.on_line(g_reader.line(), g_reader.overflowed());
  }
}
