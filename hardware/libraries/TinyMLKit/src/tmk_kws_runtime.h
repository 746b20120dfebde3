// tmk_kws_runtime.h: everything the kws_inference sketches of the three kits share, as
// tmk::KwsRuntime: the TFLM audio microfrontend (FrontendConfig from model_settings.h), the
// interpreter and op resolver with their checks, the header and #ERR line of a failed set-up,
// Invoke() timing, audio ring -> FrontendProcessSamples -> tmk::KwsApp::on_slice, the LED after a
// detection, and the serial command loop. A sketch keeps only its microphone glue (writing into
// KwsRuntime::audio()), its board id and LED levels, and calls begin() in setup(), poll() in loop().
//
// Sketch-only, on purpose header-only. Unlike the rest of the library it calls Arduino (Serial,
// millis, micros, digitalWrite) and TensorFlow Lite Micro, whose headers the library's host tests
// (tests/test_hardware.py) do not have; Arduino builds only a library's .c/.cpp files, so a header
// is compiled only where a sketch includes it. TinyMLKit.h does NOT include it, and it includes
// neither Arduino's nor TFLM's headers itself (the library's own files use only the C library):
// a kws_inference sketch includes TinyMLKit.h and the TensorFlow Lite Micro library's headers
// (micro_interpreter.h, micro_mutable_op_resolver.h, schema_generated.h and the microfrontend's
// frontend.h and frontend_util.h) first, then this file (Arduino.h is implicit in a sketch). Nor
// does it include the sketch's model_settings.h (a library header's quoted includes do not search the
// sketch folder): TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS() below expands in the sketch, where the
// constants are visible. Compiled with the Nano's kws_inference against the real arduino:mbed_nano
// core on each make test (tests/test_arduino_core.py); hardware/README.md, "What was compiled".
#ifndef TINYMLKIT_KWS_RUNTIME_H_
#define TINYMLKIT_KWS_RUNTIME_H_

#if !defined(TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_) ||          \
    !defined(TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_) || \
    !defined(TENSORFLOW_LITE_EXPERIMENTAL_MICROFRONTEND_LIB_FRONTEND_UTIL_H_)
#error "tmk_kws_runtime.h needs TensorFlow Lite Micro's micro_interpreter.h, micro_mutable_op_resolver.h and the microfrontend's frontend_util.h included before it (as kws_inference does)."
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tmk_kws.h"
#include "tmk_protocol.h"
#include "tmk_sketch.h"

namespace tmk {

// The TFLM audio microfrontend's settings: model_settings.h's kFrontend* constants
// (tinymlkit.export.KeywordModelSettings; micro_speech's micro_features_generator.cc defaults).
struct KwsFrontendSettings {
  float lower_band_hz;         // kFrontendLowerBandHz
  float upper_band_hz;         // kFrontendUpperBandHz
  int smoothing_bits;          // kFrontendSmoothingBits
  float even_smoothing;        // kFrontendEvenSmoothing
  float odd_smoothing;         // kFrontendOddSmoothing
  float min_signal_remaining;  // kFrontendMinSignalRemaining
  int pcan_enable;             // kFrontendPcanEnable
  float pcan_strength;         // kFrontendPcanStrength
  float pcan_offset;           // kFrontendPcanOffset
  int pcan_gain_bits;          // kFrontendPcanGainBits
  int log_scale_enable;        // kFrontendLogScaleEnable
  int log_scale_shift;         // kFrontendLogScaleShift
};

// Everything of model_data.h and model_settings.h the runtime needs:
// TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS() fills it in the sketch.
struct KwsSettings {
  const unsigned char* model_data;  // g_model_data
  // The keyword model; begin() fills in window_storage, input_data, output_data and invoke.
  KwsModel model;
  KwsFrontendSettings frontend;
};

// The sketch's buffers (sized from model_settings.h; statically allocated, no heap).
struct KwsBuffers {
  uint8_t* arena;          // the tensor arena, alignas(16), kTensorArenaBytes
  size_t arena_bytes;      // kTensorArenaBytes
  int8_t* window;          // kFeatureElementCount: the latest 49 slices (not in the arena:
                           // TFLM reuses the input tensor's memory)
  int16_t* audio;          // storage of the AudioRing between the microphone and loop()
  uint32_t audio_samples;  // its size in samples
  int16_t* chunk;          // kFeatureSliceStrideSamples: one stride of audio for the frontend
};

class KwsRuntime {
 public:
  // Starts the microphone: its driver (or task) writes into audio(). false: no microphone.
  using StartMicrophoneFn = bool (*)();
  // HIGH / LOW: PinStatus on arduino:mbed_nano, int on esp32:esp32.
  using LedLevel = decltype(HIGH);
  static constexpr uint32_t kLedOnMs = 1000;  // LED lit after a detection

  // For setup(): Serial, the LED, the frontend, the model, then the microphone. Sends the header
  // and "# listening: ..." and returns true; or, when something does not match, the header and an
  // #ERR in plain words (again for every host line later) and returns false.
  bool begin(const KwsSettings& settings, const KwsBuffers& buffers,
             StartMicrophoneFn start_microphone, const char* board_id, LedLevel led_on,
             LedLevel led_off) {
    settings_ = settings;
    buffers_ = buffers;
    board_id_ = board_id;
    led_on_ = led_on;
    led_off_ = led_off;
    begin_serial();
    pinMode(LED_BUILTIN, OUTPUT);
    set_led(false);
    audio_.init(buffers_.audio, buffers_.audio_samples);
    if (!setup_frontend()) {
      setup_error_ = "FrontendPopulateState() failed (out of memory?)";
    } else if (setup_model()) {
      ready_ = true;
    }
    if (ready_ && !start_microphone()) {
      ready_ = false;
      setup_error_ = "microphone not found";
    }
    if (!ready_) {
      send_setup_error();
      return false;
    }
    app_.send_header();
    char text[96];
    snprintf(text, sizeof(text), "# listening: %d labels, arena %u of %u bytes used",
             static_cast<int>(settings_.model.label_count),
             static_cast<unsigned>(interpreter_->arena_used_bytes()),
             static_cast<unsigned>(buffers_.arena_bytes));
    Serial.println(text);
    return true;
  }

  // For loop(): host commands, then the audio that has arrived, then the LED.
  void poll() {
    while (Serial.available() > 0) {
      if (reader_.push(static_cast<char>(Serial.read()))) {
        if (ready_) {
          app_.on_line(reader_.line(), reader_.overflowed());
        } else {
          send_setup_error();
        }
      }
    }
    if (!ready_) return;
    process_audio();
    if (led_lit_ && millis() - led_since_ms_ >= kLedOnMs) set_led(false);
  }

  // The ring the microphone glue writes into (interrupt or another core; one writer).
  AudioRing& audio() { return audio_; }

 private:

  static bool invoke(void* ctx, uint32_t* invoke_us) {
    tflite::MicroInterpreter* interpreter = static_cast<KwsRuntime*>(ctx)->interpreter_;
    const uint32_t t0 = micros();
    const bool ok = interpreter->Invoke() == kTfLiteOk;
    *invoke_us = micros() - t0;
    return ok;
  }

  // Before the model is ready KwsApp cannot talk: the header and #ERR lines are written here.
  void send_setup_error() {
    static const char* const kChannels[] = {"mic"};
    static const char* const kUnits[] = {"int16"};
    char line[kLineBufferBytes];
    const StreamInfo info{board_id_, "mic", static_cast<float>(settings_.model.sample_rate_hz),
                          kChannels, kUnits, 1};
    int n = format_header(line, sizeof(line), info);
    if (n > 0) Serial.write(line, n);
    n = format_err(line, sizeof(line), "%s", setup_error_);
    if (n > 0) Serial.write(line, n);
  }

  // micro_speech's frontend configuration, from model_settings.h (tinymlkit.export).
  bool setup_frontend() {
    const KwsModel& m = settings_.model;
    const KwsFrontendSettings& f = settings_.frontend;
    FrontendConfig config;
    FrontendFillConfigWithDefaults(&config);
    config.window.size_ms = m.slice_duration_ms;
    config.window.step_size_ms = m.slice_stride_ms;
    config.filterbank.num_channels = static_cast<int>(m.slice_size);
    config.filterbank.lower_band_limit = f.lower_band_hz;
    config.filterbank.upper_band_limit = f.upper_band_hz;
    config.noise_reduction.smoothing_bits = f.smoothing_bits;
    config.noise_reduction.even_smoothing = f.even_smoothing;
    config.noise_reduction.odd_smoothing = f.odd_smoothing;
    config.noise_reduction.min_signal_remaining = f.min_signal_remaining;
    config.pcan_gain_control.enable_pcan = f.pcan_enable;
    config.pcan_gain_control.strength = f.pcan_strength;
    config.pcan_gain_control.offset = f.pcan_offset;
    config.pcan_gain_control.gain_bits = f.pcan_gain_bits;
    config.log_scale.enable_log = f.log_scale_enable;
    config.log_scale.scale_shift = f.log_scale_shift;
    return FrontendPopulateState(&config, &frontend_, static_cast<int>(m.sample_rate_hz)) != 0;
  }

  // Builds the interpreter and the KwsApp; false (setup_error_ set) when something does not match.
  bool setup_model() {
    const tflite::Model* model = tflite::GetModel(settings_.model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
      setup_error_ = "model schema version differs from this TFLM: re-export the model";
      return false;
    }
    // The ops of tinymlkit.models.build_ds_cnn (EXPAND_DIMS, CONV_2D, DEPTHWISE_CONV_2D, MEAN,
    // FULLY_CONNECTED) and a few a student's variant may add.
    ops_.AddExpandDims();
    ops_.AddConv2D();
    ops_.AddDepthwiseConv2D();
    ops_.AddMean();
    ops_.AddFullyConnected();
    ops_.AddReshape();
    ops_.AddAveragePool2D();
    ops_.AddMaxPool2D();
    static tflite::MicroInterpreter interpreter(model, ops_, buffers_.arena, buffers_.arena_bytes);
    interpreter_ = &interpreter;
    if (interpreter.AllocateTensors() != kTfLiteOk) {
      setup_error_ = "AllocateTensors() failed: the tensor arena is too small or the model uses an "
                     "op this sketch does not add";
      return false;
    }
    TfLiteTensor* input = interpreter.input(0);
    TfLiteTensor* output = interpreter.output(0);
    KwsModel kws = settings_.model;
    if (input->type != kTfLiteInt8 || input->bytes != kws.slice_count * kws.slice_size ||
        output->type != kTfLiteInt8 || output->bytes != kws.label_count ||
        input->params.zero_point != kws.input.zero_point ||
        output->params.zero_point != kws.output.zero_point) {
      setup_error_ = "model_data.cc and model_settings.h come from different exports: copy all "
                     "three files from one export";
      return false;
    }
    kws.window_storage = buffers_.window;
    kws.input_data = input->data.int8;
    kws.output_data = output->data.int8;
    kws.invoke = invoke;
    kws.invoke_ctx = this;
    if (!app_.begin(board_id_, write_serial, nullptr, kws)) {
      setup_error_ = "model settings rejected (more than 16 labels?)";
      return false;
    }
    return true;
  }

  void set_led(bool lit) {
    digitalWrite(LED_BUILTIN, lit ? led_on_ : led_off_);
    led_lit_ = lit;
  }

  // Audio from the ring, one stride (20 ms) at a time, through the frontend; each new slice to
  // KwsApp.
  void process_audio() {
    const uint32_t stride = settings_.model.slice_stride_samples;
    while (audio_.available() >= stride) {
      audio_.read(buffers_.chunk, stride);
      const int16_t* samples = buffers_.chunk;
      size_t left = stride;
      while (left > 0) {
        size_t used = 0;
        const FrontendOutput out = FrontendProcessSamples(&frontend_, samples, left, &used);
        samples += used;
        left -= used;
        if (out.values != nullptr && out.size == settings_.model.slice_size &&
            app_.on_slice(out.values)) {
          set_led(true);
          led_since_ms_ = millis();
        }
        if (used == 0) break;
      }
    }
    app_.on_audio_lost(audio_.take_dropped());
  }

  KwsSettings settings_{};
  KwsBuffers buffers_{};
  const char* board_id_ = nullptr;
  LedLevel led_on_{};
  LedLevel led_off_{};
  AudioRing audio_;
  FrontendState frontend_{};
  tflite::MicroMutableOpResolver<8> ops_;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  KwsApp app_;
  LineReader reader_;
  bool ready_ = false;
  const char* setup_error_ = nullptr;
  uint32_t led_since_ms_ = 0;
  bool led_lit_ = false;
};

}  // namespace tmk

// Expands, in a kws_inference sketch (after model_data.h and model_settings.h), to a
// tmk::KwsSettings filled from g_model_data and model_settings.h's constants.
#define TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS()                                                  \
  [] {                                                                                           \
    static_assert(kFeatureSliceSize <= 256, "tmk::KwsApp holds one slice of at most 256 values"); \
    tmk::KwsSettings s{};                                                                        \
    s.model_data = g_model_data;                                                                 \
    s.model = tmk::KwsModel{                                                                     \
        kAudioSampleRateHz, kFeatureSliceSamples, kFeatureSliceStrideSamples,                    \
        kFeatureSliceDurationMs, kFeatureSliceStrideMs, kFeatureSliceSize, kFeatureSliceCount,   \
        kFeatureScale, tmk::QuantParams{kInputScale, kInputZeroPoint},                           \
        tmk::QuantParams{kOutputScale, kOutputZeroPoint}, kCategoryLabels, kCategoryCount,       \
        kScoreExpTable,                                                                          \
        tmk::KeywordRecognizerConfig{kCategoryCount, kAverageWindowMs, kDetectionThreshold,      \
                                     kSuppressionMs, kMinimumCount, kSilenceIndex,               \
                                     kUnknownIndex},                                             \
        kInvokeEverySlices, nullptr, nullptr, nullptr, nullptr, nullptr};                        \
    s.frontend.lower_band_hz = kFrontendLowerBandHz;                                             \
    s.frontend.upper_band_hz = kFrontendUpperBandHz;                                             \
    s.frontend.smoothing_bits = kFrontendSmoothingBits;                                          \
    s.frontend.even_smoothing = kFrontendEvenSmoothing;                                          \
    s.frontend.odd_smoothing = kFrontendOddSmoothing;                                            \
    s.frontend.min_signal_remaining = kFrontendMinSignalRemaining;                               \
    s.frontend.pcan_enable = kFrontendPcanEnable;                                                \
    s.frontend.pcan_strength = kFrontendPcanStrength;                                            \
    s.frontend.pcan_offset = kFrontendPcanOffset;                                                \
    s.frontend.pcan_gain_bits = kFrontendPcanGainBits;                                           \
    s.frontend.log_scale_enable = kFrontendLogScaleEnable;                                       \
    s.frontend.log_scale_shift = kFrontendLogScaleShift;                                         \
    return s;                                                                                    \
  }()

#endif  // TINYMLKIT_KWS_RUNTIME_H_
