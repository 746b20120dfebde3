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
//   tested on a laptop against tinymlkit's Python (tests/test_kws_native.py); this file is glue.
//
// Not compiled here (no Arduino cores offline): see ../../README.md, "What was compiled".
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

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";
constexpr uint32_t kAudioRingSamples = kAudioSampleRateHz / 2;  // 0.5 s (16 KB) for a slow loop()
constexpr uint32_t kLedOnMs = 1000;                             // LED lit after a detection
constexpr PinStatus kLedOn = HIGH, kLedOff = LOW;  // the orange LED (LED_BUILTIN, pin 13)
static_assert(kFeatureSliceSize <= 256, "tmk::KwsApp holds one slice of at most 256 values");

alignas(16) uint8_t g_arena[kTensorArenaBytes];  // the tensor arena, sized by tinymlkit.tflm
int8_t g_window[kFeatureElementCount];            // the latest 49 slices (not in the arena:
                                                  // TFLM reuses the input tensor's memory)
int16_t g_audio_storage[kAudioRingSamples];
int16_t g_chunk[kFeatureSliceStrideSamples];
tmk::AudioRing g_audio;
FrontendState g_frontend;
tflite::MicroMutableOpResolver<8> g_ops;
tflite::MicroInterpreter* g_interpreter = nullptr;
tmk::KwsApp g_app;
tmk::LineReader g_reader;
bool g_ready = false;
const char* g_setup_error = nullptr;
uint32_t g_led_since_ms = 0;
bool g_led_lit = false;

void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

// Before the model is ready KwsApp cannot talk: the header and #ERR lines are written here.
void send_setup_error() {
  static const char* const kChannels[] = {"mic"};
  static const char* const kUnits[] = {"int16"};
  char line[tmk::kLineBufferBytes];
  const tmk::StreamInfo info{kBoardId, "mic", static_cast<float>(kAudioSampleRateHz), kChannels, kUnits, 1};
  int n = tmk::format_header(line, sizeof(line), info);
  if (n > 0) Serial.write(line, n);
  n = tmk::format_err(line, sizeof(line), "%s", g_setup_error);
  if (n > 0) Serial.write(line, n);
}

bool invoke(void*, uint32_t* invoke_us) {
  const uint32_t t0 = micros();
  const bool ok = g_interpreter->Invoke() == kTfLiteOk;
  *invoke_us = micros() - t0;
  return ok;
}

int16_t g_pdm_chunk[512];  // one PDM callback's samples

// Called by the PDM driver (interrupt context) whenever a buffer of samples is ready.
void on_pdm_data() {
  int bytes = PDM.available();
  if (bytes > static_cast<int>(sizeof(g_pdm_chunk))) bytes = static_cast<int>(sizeof(g_pdm_chunk));
  const int n = PDM.read(g_pdm_chunk, bytes) / 2;
  if (n > 0) g_audio.write(g_pdm_chunk, static_cast<uint32_t>(n));  // counts what does not fit
}

// PDM.begin(1 channel, 16 kHz) as mic_capture (same default gain, so recordings from
// mic_capture match what this sketch hears).
bool start_microphone() {
  PDM.onReceive(on_pdm_data);
  return PDM.begin(1, kAudioSampleRateHz);
}

// micro_speech's frontend configuration, from model_settings.h (tinymlkit.export).
bool setup_frontend() {
  FrontendConfig config;
  FrontendFillConfigWithDefaults(&config);
  config.window.size_ms = kFeatureSliceDurationMs;
  config.window.step_size_ms = kFeatureSliceStrideMs;
  config.filterbank.num_channels = kFeatureSliceSize;
  config.filterbank.lower_band_limit = kFrontendLowerBandHz;
  config.filterbank.upper_band_limit = kFrontendUpperBandHz;
  config.noise_reduction.smoothing_bits = kFrontendSmoothingBits;
  config.noise_reduction.even_smoothing = kFrontendEvenSmoothing;
  config.noise_reduction.odd_smoothing = kFrontendOddSmoothing;
  config.noise_reduction.min_signal_remaining = kFrontendMinSignalRemaining;
  config.pcan_gain_control.enable_pcan = kFrontendPcanEnable;
  config.pcan_gain_control.strength = kFrontendPcanStrength;
  config.pcan_gain_control.offset = kFrontendPcanOffset;
  config.pcan_gain_control.gain_bits = kFrontendPcanGainBits;
  config.log_scale.enable_log = kFrontendLogScaleEnable;
  config.log_scale.scale_shift = kFrontendLogScaleShift;
  return FrontendPopulateState(&config, &g_frontend, kAudioSampleRateHz) != 0;
}

// Builds the interpreter and the KwsApp; false (g_setup_error set) when something does not match.
bool setup_model() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    g_setup_error = "model schema version differs from this TFLM: re-export the model";
    return false;
  }
  // The ops of tinymlkit.models.build_ds_cnn (EXPAND_DIMS, CONV_2D, DEPTHWISE_CONV_2D, MEAN,
  // FULLY_CONNECTED) and a few a student's variant may add.
  g_ops.AddExpandDims();
  g_ops.AddConv2D();
  g_ops.AddDepthwiseConv2D();
  g_ops.AddMean();
  g_ops.AddFullyConnected();
  g_ops.AddReshape();
  g_ops.AddAveragePool2D();
  g_ops.AddMaxPool2D();
  static tflite::MicroInterpreter interpreter(model, g_ops, g_arena, kTensorArenaBytes);
  g_interpreter = &interpreter;
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    g_setup_error = "AllocateTensors() failed: the tensor arena is too small or the model uses an "
                    "op this sketch does not add";
    return false;
  }
  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);
  if (input->type != kTfLiteInt8 || input->bytes != static_cast<size_t>(kFeatureElementCount) ||
      output->type != kTfLiteInt8 || output->bytes != static_cast<size_t>(kCategoryCount) ||
      input->params.zero_point != kInputZeroPoint || output->params.zero_point != kOutputZeroPoint) {
    g_setup_error = "model_data.cc and model_settings.h come from different exports: copy all "
                    "three files from one export";
    return false;
  }
  const tmk::KwsModel kws{
      kAudioSampleRateHz, kFeatureSliceSamples, kFeatureSliceStrideSamples,
      kFeatureSliceDurationMs, kFeatureSliceStrideMs, kFeatureSliceSize, kFeatureSliceCount,
      kFeatureScale, tmk::QuantParams{kInputScale, kInputZeroPoint},
      tmk::QuantParams{kOutputScale, kOutputZeroPoint}, kCategoryLabels, kCategoryCount,
      kScoreExpTable,
      tmk::KeywordRecognizerConfig{kCategoryCount, kAverageWindowMs, kDetectionThreshold,
                                    kSuppressionMs, kMinimumCount, kSilenceIndex, kUnknownIndex},
      kInvokeEverySlices, g_window, input->data.int8, output->data.int8, invoke, nullptr};
  if (!g_app.begin(kBoardId, write_serial, nullptr, kws)) {
    g_setup_error = "model settings rejected (more than 16 labels?)";
    return false;
  }
  return true;
}

void set_led(bool lit) {
  digitalWrite(LED_BUILTIN, lit ? kLedOn : kLedOff);
  g_led_lit = lit;
}

// Audio from the ring, 20 ms at a time, through the frontend; each new slice to KwsApp.
void process_audio() {
  while (g_audio.available() >= static_cast<uint32_t>(kFeatureSliceStrideSamples)) {
    g_audio.read(g_chunk, kFeatureSliceStrideSamples);
    const int16_t* samples = g_chunk;
    size_t left = kFeatureSliceStrideSamples;
    while (left > 0) {
      size_t used = 0;
      const FrontendOutput out = FrontendProcessSamples(&g_frontend, samples, left, &used);
      samples += used;
      left -= used;
      if (out.values != nullptr && out.size == static_cast<size_t>(kFeatureSliceSize) &&
          g_app.on_slice(out.values)) {
        set_led(true);
        g_led_since_ms = millis();
      }
      if (used == 0) break;
    }
  }
  g_app.on_audio_lost(g_audio.take_dropped());
}

}  // namespace

void setup() {
  Serial.begin(tmk::kBaudRate);
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  pinMode(LED_BUILTIN, OUTPUT);
  set_led(false);
  g_audio.init(g_audio_storage, kAudioRingSamples);
  if (!setup_frontend()) {
    g_setup_error = "FrontendPopulateState() failed (out of memory?)";
  } else if (setup_model()) {
    g_ready = true;
  }
  if (g_ready && !start_microphone()) {
    g_ready = false;
    g_setup_error = "microphone not found";
  }
  if (!g_ready) {
    send_setup_error();
    return;
  }
  g_app.send_header();
  char text[96];
  snprintf(text, sizeof(text), "# listening: %d labels, arena %u of %u bytes used", kCategoryCount,
           static_cast<unsigned>(g_interpreter->arena_used_bytes()),
           static_cast<unsigned>(kTensorArenaBytes));
  Serial.println(text);
}

void loop() {
  while (Serial.available() > 0) {
    if (g_reader.push(static_cast<char>(Serial.read()))) {
      if (g_ready) {
        g_app.on_line(g_reader.line(), g_reader.overflowed());
      } else {
        send_setup_error();
      }
    }
  }
  if (!g_ready) return;
  process_audio();
  if (g_led_lit && millis() - g_led_since_ms >= kLedOnMs) set_led(false);
}
