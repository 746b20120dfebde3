// ImuApp: everything an IMU sketch does between the sensor and the serial link, per
// hardware/PROTOCOL.md, with no Arduino calls: the sketch reads the sensor at the sample rate
// (tmk::Ticker) and hands each sample to on_sample(), hands each host line to on_line(), and
// gives a write function that sends bytes (Serial.write). Answers INFO, START, STOP,
// RECORD ms=<n> and INFER; with an ImuModel it also classifies every stride_samples during a take
// (#RESULT lines) and answers INFER, like tinymlkit's simulated board. A model that is not a
// classifier (the anomaly detector of tmk_anomaly.h) brings its own window step instead.
#ifndef TINYMLKIT_IMU_APP_H_
#define TINYMLKIT_IMU_APP_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_preprocess.h"
#include "tmk_protocol.h"
#include "tmk_ring_buffer.h"

namespace tmk {

// Sends len bytes to the host (the sketch: Serial.write(data, len)).
using WriteFn = void (*)(void* ctx, const char* data, size_t len);

// Most values a #RESULT line carries (ImuApp::kMaxLabels).
constexpr size_t kMaxResultValues = 32;

// What a window step reports for one #RESULT line.
struct WindowResult {
  size_t label;                      // index into ImuModel::labels
  float values[kMaxResultValues];    // the line's logits= values (an anomaly detector: its scores)
  size_t value_count;                // how many of values are sent (1..kMaxResultValues)
  uint32_t invoke_us;                // the time Invoke() took, in microseconds
};

// Replaces ImuApp's classifier step (quantize the window, invoke, argmax) for a model that is not
// a classifier: given the ring and the window length in samples (the ring holds at least that
// many), fills *result. Returns nullptr, or the text of the #ERR line to send instead.
using WindowStepFn = const char* (*)(void* ctx, const SampleRing& ring, size_t window_samples,
                                     WindowResult* result);

// An int8 classifier over the latest window (motion_inference), or with window_step any model
// over it (anomaly_inference). Every value comes from the exported model_settings.h and the
// interpreter's tensors.
struct ImuModel {
  size_t window_samples;        // kWindowSamples
  size_t stride_samples;        // kStrideSamples: a #RESULT every this many samples of a take
  Normalization norm;           // kChannelSign (or nullptr), kChannelMean, kChannelStd
  QuantParams input;            // kInputScale, kInputZeroPoint
  QuantParams output;           // kOutputScale, kOutputZeroPoint
  const char* const* labels;    // kCategoryLabels
  size_t label_count;           // kCategoryCount (at most kMaxLabels)
  int8_t* input_data;           // the input tensor: window_samples * channels int8
  const int8_t* output_data;    // the output tensor: label_count int8
  float* ring_storage;          // window_samples * channels floats (the sketch's window buffer)
  // Runs the model on input_data; sets *invoke_us to the time Invoke() took; false on failure.
  bool (*invoke)(void* ctx, uint32_t* invoke_us);
  void* invoke_ctx;
  // nullptr: the classifier step above. Otherwise this step makes each #RESULT from the ring,
  // and of the fields above only window_samples, stride_samples, norm.channel_count, labels,
  // label_count and ring_storage are used (tmk::anomaly_window_step of tmk_anomaly.h).
  WindowStepFn window_step;
  void* window_step_ctx;
};

class ImuApp {
 public:
  static constexpr size_t kMaxLabels = kMaxResultValues;

  ImuApp();

  // info: the header (channels and units in sample order). record_storage: room for
  // record_capacity samples (record_capacity * channels floats) for RECORD; nullptr refuses
  // RECORD. model: nullptr for a capture-only sketch. Returns false for inconsistent arguments.
  bool begin(const StreamInfo& info, WriteFn write, void* write_ctx, float* record_storage,
             uint32_t record_capacity, const ImuModel* model);

  void send_header();
  // One complete host line (LineReader::line()); overflowed: LineReader::overflowed().
  void on_line(const char* line, bool overflowed);
  // One sensor sample (info.channel_count values, in info.units), at info.rate_hz, always: the
  // model's window keeps filling between takes so INFER can answer at any time.
  void on_sample(const float* sample);
  // The sketch missed `count` sample times (Ticker::take_skipped()). In a START take the counter
  // jumps by `count`, so the host sees the gap and reports lost samples (PROTOCOL.md); a RECORD
  // take is abandoned with an #ERR (its samples would not be evenly spaced).
  void on_samples_lost(uint32_t count);
  // A sensor read failed: sends "#ERR <what>" and ends a running take with "#STOP n=<count>".
  void on_sensor_error(const char* what);
  // Sends "#ERR <text>" (e.g. "imu not found" from the sketch's setup()).
  void send_error(const char* text);

  bool in_take() const { return mode_ != Mode::kIdle; }
  uint32_t take_count() const { return count_; }

 private:
  enum class Mode : uint8_t { kIdle, kStreaming, kRecording };
  void send(int len);
  void start_record(uint32_t ms);
  void finish_record();
  void classify(uint32_t counter);
  void run_window_step(uint32_t counter);  // classify() with ImuModel::window_step

  StreamInfo info_;
  WriteFn write_;
  void* write_ctx_;
  float* record_;
  uint32_t record_capacity_;
  uint32_t record_target_;
  const ImuModel* model_;
  SampleRing ring_;
  Mode mode_;
  uint32_t count_;      // samples in the current (or last) take
  uint32_t total_;      // samples since begin(): the counter INFER reports between takes
  char line_[kLineBufferBytes];
};

}  // namespace tmk

#endif  // TINYMLKIT_IMU_APP_H_
