// tmk_anomaly_runtime.h: everything the anomaly_inference sketches of the three kits share, as
// tmk::AnomalyRuntime: the interpreter and op resolver of the course's autoencoder with their
// checks, the model/settings consistency check, the ImuApp whose window step is the anomaly
// detector of tmk_anomaly.h (window statistics -> standardise -> K-means distance and int8
// autoencoder -> reconstruction error), the header and #ERR lines of a failed set-up, Invoke()
// timing, and the 50 Hz sample loop with the serial commands (tmk::ImuLoop of tmk_sketch.h). A
// sketch keeps only its IMU glue, its board id and its "imu not found" advice, as
// motion_inference does, and calls begin() in setup(), poll() in loop().
//
// Every kStrideSamples of a take, and on INFER, the board sends (hardware/PROTOCOL.md)
//   #RESULT n=<counter> label=normal|anomaly logits=<autoencoder score>,<K-means score> us=<Invoke µs>
// label is "anomaly" when the autoencoder score is above kAutoencoderThreshold.
//
// Sketch-only and header-only, like tmk_motion_runtime.h (see there why): it calls Arduino (Serial,
// millis, micros) and TensorFlow Lite Micro. An anomaly_inference sketch includes model_data.h,
// model_settings.h (from `tinymlkit anomaly`: tinymlkit.export.anomaly_settings_header), TinyMLKit.h
// and TFLM's micro_interpreter.h, micro_mutable_op_resolver.h and schema_generated.h first, then
// this file; TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS() expands in the sketch. The Nano sketches
// compile with it against the real core on every make test (tests/test_arduino_core.py).
#ifndef TINYMLKIT_ANOMALY_RUNTIME_H_
#define TINYMLKIT_ANOMALY_RUNTIME_H_

#if !defined(TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_) || \
    !defined(TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_)
#error "tmk_anomaly_runtime.h needs TensorFlow Lite Micro's micro_interpreter.h and micro_mutable_op_resolver.h included before it (as anomaly_inference does)."
#endif
#if !defined(TINYMLKIT_MODEL_SETTINGS_H_)
#error "tmk_anomaly_runtime.h needs model_settings.h included before it (as anomaly_inference does)."
#elif !defined(TINYMLKIT_ANOMALY_MODEL)
#error "model_settings.h is not an anomaly detector's: it looks like a classifier's (motion, keyword or image). anomaly_inference needs the three files `tinymlkit anomaly` writes: copy build/anomaly/model_data.cc, build/anomaly/model_data.h and build/anomaly/model_settings.h into this sketch's folder."
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tmk_anomaly.h"
#include "tmk_imu_app.h"
#include "tmk_protocol.h"
#include "tmk_sketch.h"
#include "tmk_timing.h"

namespace tmk {

// Everything of model_data.h and model_settings.h (tinymlkit.model_settings.AnomalyModelSettings)
// the runtime needs: TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS() fills it in the sketch.
struct AnomalySettings {
  const unsigned char* model_data;    // g_model_data: the int8 autoencoder
  float sample_rate_hz;               // kSampleRateHz
  size_t window_samples;              // kWindowSamples
  size_t stride_samples;              // kStrideSamples
  const char* const* channel_names;   // kChannelNames
  size_t channel_count;               // kChannelCount
  const float* channel_sign;          // kChannelSign: mirrors a right-wrist board into the left
  const float* feature_mean;          // kFeatureMean[kFeatureCount]
  const float* feature_std;           // kFeatureStd[kFeatureCount]
  size_t feature_count;               // kFeatureCount = 5 * kChannelCount
  const float* centroids;             // &kCentroids[0][0]: kClusterCount * kFeatureCount
  size_t cluster_count;               // kClusterCount
  QuantParams input;                  // kInputScale, kInputZeroPoint
  QuantParams output;                 // kOutputScale, kOutputZeroPoint
  float autoencoder_threshold;        // kAutoencoderThreshold
  float kmeans_threshold;             // kKmeansThreshold
};

#define TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS()                                                 \
  (tmk::AnomalySettings{g_model_data, kSampleRateHz, kWindowSamples, kStrideSamples, kChannelNames, \
                        kChannelCount, kChannelSign, kFeatureMean, kFeatureStd, kFeatureCount,     \
                        &kCentroids[0][0], kClusterCount,                                         \
                        tmk::QuantParams{kInputScale, kInputZeroPoint},                           \
                        tmk::QuantParams{kOutputScale, kOutputZeroPoint}, kAutoencoderThreshold,  \
                        kKmeansThreshold})

// The sketch's memory (sized by model_settings.h, so it lives in the sketch).
struct AnomalyBuffers {
  uint8_t* arena;          // alignas(16) kTensorArenaBytes: the tensor arena
  size_t arena_bytes;      // kTensorArenaBytes
  float* window;           // kWindowSamples * kChannelCount floats: the latest window
  float* record;           // record_samples * kChannelCount floats, for RECORD
  size_t record_samples;   // e.g. 500: 10 s at 50 Hz (12 KB)
};

class AnomalyRuntime {
 public:
  // Serial, the model (with every check), the header, the IMU's status, the 50 Hz ticker.
  // worn_on_right_wrist: mirror into the left-wrist frame the detector was trained in.
  void begin(const AnomalySettings& s, const AnomalyBuffers& b, const SketchImu& imu,
             const char* board_id, bool worn_on_right_wrist) {
    begin_serial();
    settings_ = s;
    info_ = StreamInfo{board_id, "imu", s.sample_rate_hz, s.channel_names, kImuUnits, s.channel_count};
    app_.begin(info_, write_serial, nullptr, b.record, b.record_samples, nullptr);
    const bool imu_shape = s.channel_count == kImuChannelCount &&
                           s.feature_count == kWindowStatisticCount * s.channel_count;
    if (!imu_shape) app_.send_error("model_settings.h is not for this IMU: expected 6 channels, 30 features");
    const bool model_ok = imu_shape && setup_model(b, worn_on_right_wrist);
    if (model_ok && !app_.begin(info_, write_serial, nullptr, b.record, b.record_samples, &model_)) {
      app_.send_error("model settings rejected (a zero stride or window?)");
    }
    app_.send_header();
    if (model_ok) {
      char threshold[24];
      format_float(threshold, sizeof(threshold), s.autoencoder_threshold);
      char text[128];
      snprintf(text, sizeof(text), "model ready: arena %u of %u bytes used; anomaly when the "
               "autoencoder score > %s", static_cast<unsigned>(interpreter_->arena_used_bytes()),
               static_cast<unsigned>(b.arena_bytes), threshold);
      Serial.print("# ");
      Serial.println(text);
    }
    if (!imu.ok) app_.send_error(imu.not_found_advice);
    loop_.start(&app_, imu, s.sample_rate_hz);
  }

  // Serial commands, then one sample when the ticker is due (tmk::ImuLoop); during a take each
  // sample is streamed and, every kStrideSamples, the window is scored.
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
  bool setup_model(const AnomalyBuffers& b, bool worn_on_right_wrist) {
    const tflite::Model* model = tflite::GetModel(settings_.model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
      app_.send_error("model schema version differs from this TFLM: re-export the model");
      return false;
    }
    // tinymlkit.models.build_autoencoder is Dense layers only (FULLY_CONNECTED, ReLU fused);
    // RELU and RESHAPE for a student's variant with a separate activation or a reshape.
    ops_.AddFullyConnected();
    ops_.AddRelu();
    ops_.AddReshape();
    static tflite::MicroInterpreter interpreter(model, ops_, b.arena, b.arena_bytes);
    interpreter_ = &interpreter;
    if (interpreter.AllocateTensors() != kTfLiteOk) {
      app_.send_error("AllocateTensors() failed: the tensor arena is too small or the model uses "
                      "an op this sketch does not add");
      return false;
    }
    TfLiteTensor* input = interpreter.input(0);
    TfLiteTensor* output = interpreter.output(0);
    const size_t n = settings_.feature_count;
    if (input->type != kTfLiteInt8 || input->bytes != n || output->type != kTfLiteInt8 ||
        output->bytes != n || input->params.zero_point != settings_.input.zero_point ||
        output->params.zero_point != settings_.output.zero_point ||
        input->params.scale != settings_.input.scale || output->params.scale != settings_.output.scale) {
      app_.send_error("model_data.cc and model_settings.h come from different exports: copy all "
                      "three files from one `tinymlkit anomaly` export");
      return false;
    }
    detector_ = AnomalyModel{settings_.channel_count,
                             worn_on_right_wrist ? settings_.channel_sign : nullptr,
                             settings_.feature_mean, settings_.feature_std, settings_.centroids,
                             settings_.cluster_count, settings_.input, settings_.output,
                             settings_.autoencoder_threshold, settings_.kmeans_threshold,
                             input->data.int8, output->data.int8, invoke, &interpreter};
    if (!anomaly_model_valid(detector_)) {
      app_.send_error("anomaly model settings are incomplete: re-export with `tinymlkit anomaly`");
      return false;
    }
    // The ImuApp side: the window and stride, two labels, and the detector as the window step
    // (no classifier fields: window_step replaces quantize, Invoke and argmax).
    model_ = ImuModel{settings_.window_samples, settings_.stride_samples,
                      Normalization{nullptr, nullptr, nullptr, settings_.channel_count},
                      settings_.input, settings_.output, kAnomalyLabels, 2, nullptr, nullptr,
                      b.window, nullptr, nullptr, anomaly_window_step, &detector_};
    return true;
  }

  AnomalySettings settings_{};
  StreamInfo info_{};
  tflite::MicroMutableOpResolver<3> ops_;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  AnomalyModel detector_{};
  ImuModel model_{};
  ImuApp app_;
  ImuLoop loop_;
};

}  // namespace tmk

#endif  // TINYMLKIT_ANOMALY_RUNTIME_H_
