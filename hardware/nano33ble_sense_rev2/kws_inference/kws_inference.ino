// kws_inference: keyword spotting on an Arduino Nano 33 BLE Sense Rev2: the PDM microphone at 16 kHz, TensorFlow Lite
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
// Pipeline: MP34DT06JTR PDM microphone (PDM library of arduino:mbed_nano, interrupt)
//   -> tmk::AudioRing (0.5 s) -> loop(): 320 samples (20 ms) at a time into FrontendProcessSamples
//   (30 ms window, 20 ms stride, 40 channels: model_settings.h) -> every new 40-value slice:
//   tmk::KwsApp::on_slice: int8 (FeaturesToInt8) into the 49-slice window -> every
//   kInvokeEverySlices slices: Invoke() -> integer softmax scores -> KeywordRecognizer (1 s
//   average, threshold, suppression) -> #DETECT. All of that after the frontend is TinyMLKit code,
//   tested on a laptop against tinymlkit's Python (tests/test_kws_native.py). The frontend, the
//   interpreter, the LED and the serial loop are tmk::KwsRuntime (TinyMLKit's tmk_kws_runtime.h,
//   shared by the three kits); this file is the microphone glue.
//
// Compiled against the real pinned core on every make test: see ../../README.md, "What was compiled".
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. Export a keyword model with tinymlkit.export.write_model_files(folder, model_bytes, KeywordModelSettings(...)) and copy those three files into this sketch's folder. See hardware/nano33ble_sense_rev2/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"
#if !defined(TINYMLKIT_KEYWORD_MODEL)
#error "model_settings.h is a motion model's (motion_inference). kws_inference needs a keyword model's: export it with KeywordModelSettings."
#endif

#include <PDM.h>
#include <Chirale_TensorFlowLite.h>
#include <TinyMLKit.h>

#if !__has_include("tensorflow/lite/experimental/microfrontend/lib/frontend.h")
#error "This TensorFlow Lite Micro library has no audio microfrontend (tensorflow/lite/experimental/microfrontend/lib). Use the library version pinned in sketch.yaml; see ../README.md."
#endif
#include "tensorflow/lite/experimental/microfrontend/lib/frontend.h"
#include "tensorflow/lite/experimental/microfrontend/lib/frontend_util.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_kws_runtime.h>  // after the TensorFlow Lite Micro headers: it uses them
#include <tmk_pdm_mic.h>      // after PDM.h: the PDM glue shared with mic_capture

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";
constexpr PinStatus kLedOn = HIGH, kLedOff = LOW;  // the orange LED (LED_BUILTIN, pin 13)
constexpr uint32_t kAudioRingSamples = kAudioSampleRateHz / 2;  // 0.5 s (16 KB) for a slow loop()

alignas(16) uint8_t g_arena[kTensorArenaBytes];  // the tensor arena, sized by tinymlkit.tflm
int8_t g_window[kFeatureElementCount];            // the latest 49 slices (not in the arena:
                                                  // TFLM reuses the input tensor's memory)
int16_t g_audio_storage[kAudioRingSamples];       // tmk::AudioRing: microphone -> loop()
int16_t g_chunk[kFeatureSliceStrideSamples];      // one stride (20 ms) for the frontend
tmk::KwsRuntime g_kws;  // frontend, interpreter, KwsApp, LED, serial loop (tmk_kws_runtime.h)

// Every PDM callback's samples into the runtime's audio ring (which counts what does not fit).
void to_audio_ring(const int16_t* samples, uint32_t n) { g_kws.audio().write(samples, n); }

// PDM.begin(1 channel, 16 kHz) through tmk::PdmMic, as mic_capture (same default gain, so
// recordings from mic_capture match what this sketch hears).
bool start_microphone() { return tmk::PdmMic::begin(kAudioSampleRateHz, to_audio_ring); }

}  // namespace

void setup() {
  g_kws.begin(TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS(),
              tmk::KwsBuffers{g_arena, kTensorArenaBytes, g_window, g_audio_storage,
                              kAudioRingSamples, g_chunk},
              start_microphone, kBoardId, kLedOn, kLedOff);
}

void loop() { g_kws.poll(); }
