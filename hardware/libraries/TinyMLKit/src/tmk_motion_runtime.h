// tmk_motion_runtime.h: everything the motion_inference sketches of the three kits share, as
// tmk::MotionRuntime: the interpreter and op resolver with their checks, the model/settings
// consistency check, the ImuApp with its window, RECORD buffer and #RESULT lines, the header and
// #ERR lines of a failed set-up, Invoke() timing, and the 50 Hz sample loop with the serial
// commands (tmk::ImuLoop of tmk_sketch.h, shared with imu_capture). A sketch keeps only its IMU glue (begin and read, in g and rad/s), its board id and
// its "imu not found" advice, and calls begin() in setup(), poll() in loop().
//
// Sketch-only and header-only, like tmk_kws_runtime.h (see there why): it calls Arduino (Serial,
// millis, micros) and TensorFlow Lite Micro. A motion_inference sketch includes TinyMLKit.h and
// TFLM's micro_interpreter.h, micro_mutable_op_resolver.h and schema_generated.h first, then this
// file; TMK_MOTION_SETTINGS_FROM_MODEL_SETTINGS() expands in the sketch, where model_data.h and
// model_settings.h are visible. The Nano sketches compile with it against the real core on every
// make test (tests/test_arduino_core.py).
#ifndef TINYMLKIT_MOTION_RUNTIME_H_
#define TINYMLKIT_MOTION_RUNTIME_H_

#if !defined(TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_) || \
    !defined(TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_)
#error "tmk_motion_runtime.h needs TensorFlow Lite Micro's micro_interpreter.h and micro_mutable_op_resolver.h included before it (as motion_inference does)."
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tmk_imu_app.h"
#include "tmk_protocol.h"
#include "tmk_sketch.h"
#include "tmk_timing.h"

namespace tmk {

// Everything of model_data.h and model_settings.h (tinymlkit.export.ModelSettings) the runtime
// needs: TMK_MOTION_SETTINGS_FROM_MODEL_SETTINGS() fills it in the sketch.
struct MotionSettings {
  const unsigned char* model_data;  // g_model_data
  float sample_rate_hz;             // kSampleRateHz
  size_t window_samples;            // kWindowSamples
  size_t stride_samples;            // kStrideSamples
  const char* const* channel_names;  // kChannelNames
  size_t channel_count;             // kChannelCount
  const float* channel_sign;        // kChannelSign: mirrors a right-wrist board into the left
  const float* channel_mean;        // kChannelMean
  const float* channel_std;         // kChannelStd
  QuantParams input;                // kInputScale, kInputZeroPoint
  QuantParams output;               // kOutputScale, kOutputZeroPoint
  const char* const* labels;        // kCategoryLabels
  size_t label_count;               // kCategoryCount
};

#define TMK_MOTION_SETTINGS_FROM_MODEL_SETTINGS()                                              \
  (tmk::MotionSettings{g_model_data, kSampleRateHz, kWindowSamples, kStrideSamples, kChannelNames, \
                       kChannelCount, kChannelSign, kChannelMean, kChannelStd,                  \
                       tmk::QuantParams{kInputScale, kInputZeroPoint},                          \
                       tmk::QuantParams{kOutputScale, kOutputZeroPoint}, kCategoryLabels,       \
                       kCategoryCount})

// The sketch's memory (sized by model_settings.h, so it lives in the sketch).
struct MotionBuffers {
  uint8_t* arena;          // alignas(16) kTensorArenaBytes: the tensor arena
  size_t arena_bytes;      // kTensorArenaBytes
  float* window;           // kWindowSamples * kChannelCount floats: the latest window
  float* record;           // record_samples * kChannelCount floats, for RECORD
  size_t record_samples;   // e.g. 500: 10 s at 50 Hz (12 KB)
};

// The board's IMU glue, as imu_capture's (tmk_sketch.h).
using MotionImu = SketchImu;

class MotionRuntime {
 public:
  // Serial, the model (with every check), the header, the IMU's status, the 50 Hz ticker.
  // worn_on_right_wrist: mirror into the left-wrist frame the model was trained in.
  void begin(const MotionSettings& s, const MotionBuffers& b, const MotionImu& imu,
             const char* board_id, bool worn_on_right_wrist) {
    begin_serial();
    settings_ = s;
    info_ = StreamInfo{board_id, "imu", s.sample_rate_hz, s.channel_names, kImuUnits, s.channel_count};
    app_.begin(info_, write_serial, nullptr, b.record, b.record_samples, nullptr);
    const bool model_ok = s.channel_count == 6 && setup_model(b, worn_on_right_wrist);
    if (model_ok && !app_.begin(info_, write_serial, nullptr, b.record, b.record_samples, &model_)) {
      app_.send_error("model settings rejected (more than 32 labels?)");
    }
    app_.send_header();
    if (model_ok) {
      char text[80];
      snprintf(text, sizeof(text), "model ready: arena %u of %u bytes used",
               static_cast<unsigned>(interpreter_->arena_used_bytes()),
               static_cast<unsigned>(b.arena_bytes));
      Serial.print("# ");
      Serial.println(text);
    }
    if (!imu.ok) app_.send_error(imu.not_found_advice);
    loop_.start(&app_, imu, s.sample_rate_hz);
  }

  // Serial commands, then one sample when the ticker is due (tmk::ImuLoop); during a take each
  // sample is streamed and, every kStrideSamples, classified.
  void poll() { loop_.poll(); }

 private:
  static bool invoke(void* ctx, uint32_t* invoke_us) {
    tflite::MicroInterpreter* interpreter = static_cast<tflite::MicroInterpreter*>(ctx);
    const uint32_t t0 = micros();
    const bool ok = interpreter->Invoke() == kTfLiteOk;
    *invoke_us = micros() - t0;
    return ok;
  }

  // Builds the interpreter; false (after an #ERR) when the model does not match its settings.
  bool setup_model(const MotionBuffers& b, bool worn_on_right_wrist) {
    const tflite::Model* model = tflite::GetModel(settings_.model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
      app_.send_error("model schema version differs from this TFLM: re-export the model");
      return false;
    }
    // The ops of tinymlkit.models.build_cnn1d (Conv1D = EXPAND_DIMS + CONV_2D + RESHAPE, global
    // average pooling = MEAN, Dense = FULLY_CONNECTED) and a few a student's variant may add.
    ops_.AddConv2D();
    ops_.AddDepthwiseConv2D();
    ops_.AddExpandDims();
    ops_.AddReshape();
    ops_.AddMean();
    ops_.AddFullyConnected();
    ops_.AddMaxPool2D();
    ops_.AddAveragePool2D();
    ops_.AddSoftmax();
    ops_.AddRelu();
    static tflite::MicroInterpreter interpreter(model, ops_, b.arena, b.arena_bytes);
    interpreter_ = &interpreter;
    if (interpreter.AllocateTensors() != kTfLiteOk) {
      app_.send_error("AllocateTensors() failed: the tensor arena is too small or the model uses "
                      "an op this sketch does not add");
      return false;
    }
    TfLiteTensor* input = interpreter.input(0);
    TfLiteTensor* output = interpreter.output(0);
    const size_t input_count = settings_.window_samples * settings_.channel_count;
    if (input->type != kTfLiteInt8 || input->bytes != input_count || output->type != kTfLiteInt8 ||
        output->bytes != settings_.label_count ||
        input->params.zero_point != settings_.input.zero_point ||
        output->params.zero_point != settings_.output.zero_point) {
      app_.send_error("model_data.cc and model_settings.h come from different exports: copy all "
                      "three files from one export");
      return false;
    }
    model_ = ImuModel{settings_.window_samples, settings_.stride_samples,
                      Normalization{worn_on_right_wrist ? settings_.channel_sign : nullptr,
                                    settings_.channel_mean, settings_.channel_std,
                                    settings_.channel_count},
                      settings_.input, settings_.output, settings_.labels, settings_.label_count,
                      input->data.int8, output->data.int8, b.window, invoke, &interpreter,
                      nullptr, nullptr};  // no window step: the classifier's
    return true;
  }

  MotionSettings settings_{};
  StreamInfo info_{};
  tflite::MicroMutableOpResolver<10> ops_;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  ImuModel model_{};
  ImuApp app_;
  ImuLoop loop_;
};

}  // namespace tmk

#endif  // TINYMLKIT_MOTION_RUNTIME_H_
