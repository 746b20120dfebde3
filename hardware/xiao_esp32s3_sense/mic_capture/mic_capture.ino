// mic_capture: records the PDM microphone of a Seeed Studio XIAO ESP32S3 Sense at 16 kHz and sends
// it per hardware/PROTOCOL.md. 16,000 samples/s are more than a 115200-baud serial line carries,
// so the board records into memory first: RECORD ms=<n> (at most 10 s in the 8 MB PSRAM, 1 s
// without PSRAM), then #START, one line per sample "<n>,<int16>", #STOP n=<count>. INFO answers
// the header (sensor=mic rate_hz=16000 channels=mic units=int16); START and INFER are refused.
// The protocol side is tmk::MicApp (libraries/TinyMLKit, tested on a laptop), setup() and loop()
// tmk::MicCaptureRuntime (tmk_sketch.h); this file is the microphone glue.
//
// Microphone: the Sense board's digital PDM microphone, clock on GPIO42 and data on GPIO41 (Seeed
// wiki, "XIAO ESP32S3 Sense: microphone usage"), read with the ESP_I2S library of the esp32 core
// 3.x in PDM RX mode, 16-bit mono at 16 kHz.
#include <ESP_I2S.h>
#include <TinyMLKit.h>
#include <tmk_sketch.h>  // setup() and loop() of every capture sketch: only the microphone glue is here

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr int kPdmClockPin = 42;
constexpr int kPdmDataPin = 41;
constexpr uint32_t kMicRateHz = 16000;
constexpr uint32_t kPsramSeconds = 10;        // 10 s x 32 KB/s = 320 KB of PSRAM
constexpr uint32_t kSettleSamples = 512;      // dropped before each take: old audio in the DMA buffers

I2SClass g_i2s;
int16_t g_fallback[kMicRateHz];               // 1 s in internal RAM when PSRAM is off
tmk::MicCaptureRuntime g_capture;

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

// tmk::RecordFn: drop the stale DMA audio, then read the take.
bool record_samples(void*, int16_t* out, uint32_t n) {
  static int16_t settle[kSettleSamples];
  return read_samples(settle, kSettleSamples) && read_samples(out, n);
}

}  // namespace

// The USB serial port needs "USB CDC On Boot: Enabled", the core's default for this board (../README.md).
void setup() {
  int16_t* audio = g_fallback;
  uint32_t capacity = kMicRateHz;
  if (psramFound()) {  // PSRAM=opi in the profile's FQBN
    void* big = ps_malloc(kPsramSeconds * kMicRateHz * sizeof(int16_t));
    if (big != nullptr) {
      audio = static_cast<int16_t*>(big);
      capacity = kPsramSeconds * kMicRateHz;
    }
  }
  g_i2s.setPinsPdmRx(kPdmClockPin, kPdmDataPin);
  const bool mic_ok = g_i2s.begin(I2S_MODE_PDM_RX, kMicRateHz, I2S_DATA_BIT_WIDTH_16BIT, I2S_SLOT_MODE_MONO);
  g_capture.begin(kBoardId, kMicRateHz, audio, capacity, record_samples, mic_ok);
}

void loop() { g_capture.poll(); }
