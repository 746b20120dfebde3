// kws_inference: keyword spotting on a Seeed Studio XIAO ESP32S3 Sense: the PDM microphone at 16 kHz, TensorFlow Lite
// Micro's audio microfrontend, an int8 keyword model from tinymlkit.export (KeywordModelSettings)
// and TinyMLKit's KwsApp, speaking hardware/PROTOCOL.md. Say a keyword: the board prints
// "#DETECT n=<sample> t=<ms> label=<keyword> score=<0..255>" and lights its LED for a second.
// INFO: the header; INFER: "#RESULT ..." for the latest second of audio; START ... STOP: a
// "#RESULT" line after every Invoke(). RECORD is refused (upload mic_capture for recordings).
//
// Before building, copy the exported keyword model here (see ../README.md, "kws_inference"):
//   model_data.cc, model_data.h, model_settings.h  (tinymlkit.export.write_model_files with
//   KeywordModelSettings; a motion model's files do not fit this sketch).
//
// Pipeline: the Sense board's PDM microphone (GPIO42 clock, GPIO41 data; ESP_I2S, a task on core 0)
//   -> tmk::AudioRing (0.5 s) -> loop(): 320 samples (20 ms) at a time into FrontendProcessSamples
//   (30 ms window, 20 ms stride, 40 channels: model_settings.h) -> every new 40-value slice:
//   tmk::KwsApp::on_slice: int8 (FeaturesToInt8) into the 49-slice window -> every
//   kInvokeEverySlices slices: Invoke() -> integer softmax scores -> KeywordRecognizer (1 s
//   average, threshold, suppression) -> #DETECT. All of that after the frontend is TinyMLKit code,
//   tested on a laptop against tinymlkit's Python (tests/test_kws_native.py). The frontend, the
//   interpreter, the LED and the serial loop are tmk::KwsRuntime (TinyMLKit's tmk_kws_runtime.h,
//   shared by the three kits); this file is the microphone glue.
//
// Not compiled here (no esp32 core offline): see ../../README.md, "What was compiled".
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. Export a keyword model with tinymlkit.export.write_model_files(folder, model_bytes, KeywordModelSettings(...)) and copy those three files into this sketch's folder. See hardware/xiao_esp32s3_sense/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"
#if !defined(TINYMLKIT_KEYWORD_MODEL)
#error "model_settings.h is a motion model's (motion_inference). kws_inference needs a keyword model's: export it with KeywordModelSettings."
#endif

#include <ESP_I2S.h>
#include <TinyMLKit.h>

#if !__has_include("tensorflow/lite/experimental/microfrontend/lib/frontend.h")
#error "The esp32 core's TensorFlow Lite Micro (esp-tflite-micro) has no audio microfrontend (tensorflow/lite/experimental/microfrontend/lib). Use the core version pinned in sketch.yaml (esp32 3.3.10); see ../README.md, Which TensorFlow Lite Micro."
#endif
#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_kws_runtime.h>  // after the TensorFlow Lite Micro headers: it uses them

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr int kPdmClockPin = 42;  // Seeed wiki, "XIAO ESP32S3 Sense: microphone usage"
constexpr int kPdmDataPin = 41;
constexpr uint32_t kAudioRingSamples = kAudioSampleRateHz / 2;  // 0.5 s (16 KB) for a slow loop()
// The user LED (LED_BUILTIN = GPIO21 in the core's variant) is wired to light on LOW on the
// XIAO boards we know of; if yours is lit between detections instead, swap the two.
constexpr uint8_t kLedOn = LOW, kLedOff = HIGH;

alignas(16) uint8_t g_arena[kTensorArenaBytes];  // the tensor arena, sized by tinymlkit.tflm
int8_t g_window[kFeatureElementCount];            // the latest 49 slices (not in the arena:
                                                  // TFLM reuses the input tensor's memory)
int16_t g_audio_storage[kAudioRingSamples];       // tmk::AudioRing: microphone task -> loop()
int16_t g_chunk[kFeatureSliceStrideSamples];      // one stride (20 ms) for the frontend
tmk::KwsRuntime g_kws;  // frontend, interpreter, KwsApp, LED, serial loop (tmk_kws_runtime.h)
I2SClass g_i2s;

// Runs on core 0 (loop() runs on core 1): blocks on the I2S driver and moves the audio into the
// ring. tmk::AudioRing publishes its indices with acquire/release atomics, safe across cores.
void microphone_task(void*) {
  static int16_t chunk[256];
  for (;;) {
    const size_t bytes = g_i2s.readBytes(reinterpret_cast<char*>(chunk), sizeof(chunk));
    if (bytes >= 2) g_kws.audio().write(chunk, static_cast<uint32_t>(bytes / 2));
  }
}

// ESP_I2S in PDM RX mode, 16-bit mono at 16 kHz, as mic_capture.
bool start_microphone() {
  g_i2s.setPinsPdmRx(kPdmClockPin, kPdmDataPin);
  if (!g_i2s.begin(I2S_MODE_PDM_RX, kAudioSampleRateHz, I2S_DATA_BIT_WIDTH_16BIT, I2S_SLOT_MODE_MONO)) {
    return false;
  }
  return xTaskCreatePinnedToCore(microphone_task, "microphone", 4096, nullptr, 2, nullptr, 0) == pdPASS;
}

}  // namespace

void setup() {
  g_kws.begin(TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS(),
              tmk::KwsBuffers{g_arena, kTensorArenaBytes, g_window, g_audio_storage,
                              kAudioRingSamples, g_chunk},
              start_microphone, kBoardId, kLedOn, kLedOff);
}

void loop() { g_kws.poll(); }
