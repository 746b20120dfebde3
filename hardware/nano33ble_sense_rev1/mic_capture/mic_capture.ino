// mic_capture: records the PDM microphone of an Arduino Nano 33 BLE Sense (Rev1) at 16 kHz and
// sends it per hardware/PROTOCOL.md. 16,000 samples/s are more than a 115200-baud serial line
// carries, so the board records into RAM first: RECORD ms=<n> (at most 1000 ms: 32 KB of RAM),
// then #START, one line per sample "<n>,<int16>", #STOP n=<count>. INFO answers the header
// (sensor=mic rate_hz=16000 channels=mic units=int16); START and INFER are refused. The protocol
// side is tmk::MicApp (libraries/TinyMLKit, tested on a laptop), the sketch's setup() and loop()
// tmk::MicCaptureRuntime (tmk_sketch.h), the PDM glue tmk::PdmMic (tmk_pdm_mic.h, shared with
// kws_inference); this file holds only the board's choices.
//
// Microphone: ST MP34DT05 (Rev1; MP34DT06JTR on Rev2), read with the PDM library of the
// arduino:mbed_nano core: PDM.begin(1 channel, 16000 Hz) gives 16-bit PCM samples.
// Build and upload: ../README.md.
#include <PDM.h>
#include <TinyMLKit.h>
#include <tmk_pdm_mic.h>
#include <tmk_sketch.h>

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev1";
constexpr uint32_t kMicRateHz = 16000;                // PDM.begin(1, 16000): 16 kHz mono
constexpr uint32_t kMaxSamples = kMicRateHz;          // RECORD holds at most 1 s (32 KB)

int16_t g_audio[kMaxSamples];
tmk::MicCaptureRuntime g_capture;

}  // namespace

void setup() {
  const bool mic_ok = tmk::PdmMic::begin(kMicRateHz, tmk::PdmMic::record_sink);
  g_capture.begin(kBoardId, kMicRateHz, g_audio, kMaxSamples, tmk::PdmMic::record, mic_ok);
}

void loop() { g_capture.poll(); }
