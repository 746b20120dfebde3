// Keyword spotting on the kit (kws_inference), everything between the audio frontend and the
// serial link, with no Arduino calls. Each part has a Python twin in tinymlkit that gives exactly
// the same integers (tests/test_kws_native.py checks thousands of inputs):
//
//   FeaturesToInt8    frontend uint16 -> int8 model input   tinymlkit.export.frontend_to_int8
//   LogitsToScores    int8 logits -> uint8 scores 0..255    tinymlkit.report.logits_to_scores
//   KeywordRecognizer averaging, threshold, suppression     tinymlkit.report.KeywordDetector
//   FeatureWindow     the latest slice_count feature slices (the model input, oldest first)
//   AudioRing         int16 samples from the microphone interrupt to loop() (one writer, one reader)
//   KwsApp            the kws_inference loop: slices in, Invoke() every N slices, #RESULT and
//                     #DETECT lines out (hardware/PROTOCOL.md), INFO / INFER / START / STOP
//
// The constants (kFeatureScale, kInputScale, kScoreExpTable, detection settings, ...) come from
// the exported model_settings.h (tinymlkit.export.keyword_settings_header). Fixed-size storage
// only: no heap; buffers larger than a few hundred bytes belong to the caller.
#ifndef TINYMLKIT_KWS_H_
#define TINYMLKIT_KWS_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_imu_app.h"  // WriteFn
#include "tmk_preprocess.h"
#include "tmk_protocol.h"

namespace tmk {

// frontend[n] (the TFLM audio microfrontend's uint16 output) -> out[n] int8 model input:
//   feature = (float)frontend[i] * feature_scale                  (float32; 10/256 for micro_speech)
//   out[i]  = clamp(round_half_even(feature / input_scale) + input_zero_point, -128, 127)
// All float32, one rounding per operation, as numpy float32: bit-identical to
// tinymlkit.export.frontend_to_int8 (= tinymlkit.quantize.quantize of the float features).
void FeaturesToInt8(const uint16_t* frontend, int n, float feature_scale, float input_scale,
                    int input_zero_point, int8_t* out);

// n int8 logits -> n scores 0..255 (about softmax probability x 256) in integer arithmetic:
//   e[k] = exp_table[max(logits) - logits[k]],  S = sum of e[k]  (uint32; exp_table[0] > 0)
//   scores[k] = min(255, (256 * e[k] + S / 2) / S)
// exp_table: kScoreExpTable[256] of model_settings.h, round(65535 * exp(-kOutputScale * d))
// (tinymlkit.export.score_exp_table). n: 1..65536.
void LogitsToScores(const int8_t* logits, int n, const uint16_t* exp_table, uint8_t* scores);

struct KeywordRecognizerConfig {
  int category_count;          // kCategoryCount, 1..KeywordRecognizer::kMaxCategories
  uint32_t average_window_ms;  // kAverageWindowMs, > 0
  uint8_t threshold;           // kDetectionThreshold: averaged score 0..255
  uint32_t suppression_ms;     // kSuppressionMs
  uint32_t minimum_count;      // kMinimumCount, >= 1
  int silence_index;           // kSilenceIndex, -1 for none: never detected
  int unknown_index;           // kUnknownIndex, -1 for none: never detected
};

struct KeywordDecision {
  bool ready;       // false while too few results are averaged (top_index -1, score 0)
  int top_index;    // class with the highest averaged score, the first on a tie
  uint8_t score;    // its averaged score
  bool is_new;      // a detection
};

// Streaming post-processing after micro_speech's RecognizeCommands (tflite-micro
// tensorflow/lite/micro/examples/micro_speech/recognize_commands.cc), exactly as
// tinymlkit.report.KeywordDetector (its docstring has the rules):
//   1. times are uint32 ms compared modulo 2^32 (millis() wraps); a time 2^31 ms or more before
//      the previous one is refused (process() returns false);
//   2. store the result (the oldest is dropped when kMaxResults are stored), then drop results
//      with now - t > average_window_ms;
//   3. not ready while fewer than minimum_count results, or the oldest is less than
//      average_window_ms / 4 old;
//   4. average[k] = sum of scores / count (integer division); top = first maximum;
//   5. detection when top is not silence/unknown, average[top] >= threshold, and top differs
//      from the last detected class or now - last detection > suppression_ms.
// Integer arithmetic only. Storage: kMaxResults x (kMaxCategories + 4) bytes inside the object.
class KeywordRecognizer {
 public:
  static constexpr int kMaxResults = 64;     // tinymlkit.report.KeywordDetector.MAX_RESULTS
  static constexpr int kMaxCategories = 16;  // tinymlkit.export.MAX_KEYWORD_CLASSES

  KeywordRecognizer();
  // false (and unusable) for a config out of range.
  bool init(const KeywordRecognizerConfig& config);
  // Forget every result and the last detection (the config is kept).
  void reset();
  // scores: category_count values. false when not initialised or time_ms is earlier than the
  // previous call's (out is then untouched).
  bool process(const uint8_t* scores, uint32_t time_ms, KeywordDecision* out);

 private:
  KeywordRecognizerConfig config_;
  bool ok_;
  int front_;
  int count_;
  bool has_time_;
  uint32_t last_time_;
  int last_index_;
  uint32_t last_detection_ms_;
  uint32_t times_[kMaxResults];
  uint8_t scores_[kMaxResults][kMaxCategories];
};

// The latest slice_count feature slices of slice_size int8 values, in a caller-owned array used
// as a ring (no per-slice shifting); copy_to() writes them oldest first, the model input layout
// (n_frames, n_channels) row-major.
class FeatureWindow {
 public:
  FeatureWindow();
  // storage: slice_count * slice_size int8. false for a null storage or a zero size.
  bool init(int8_t* storage, size_t slice_count, size_t slice_size);
  void reset();
  void push(const int8_t* slice);
  size_t size() const { return held_; }                  // slices held, <= slice_count
  bool full() const { return held_ == slice_count_; }
  uint32_t pushed() const { return pushed_; }            // slices pushed since reset
  size_t slice_count() const { return slice_count_; }
  size_t slice_size() const { return slice_size_; }
  // The held slices, oldest first, into out[slice_count * slice_size]; false if not full.
  bool copy_to(int8_t* out) const;

 private:
  int8_t* storage_;
  size_t slice_count_;
  size_t slice_size_;
  size_t head_;  // slot the next push writes
  size_t held_;
  uint32_t pushed_;
};

// int16 audio from an interrupt (or another core) to loop(): one writer, one reader, no locks.
// The indices are published with GCC's __atomic builtins (release/acquire), so the reader never
// sees a sample before it is written, on a Cortex-M4 interrupt and across the ESP32-S3's cores.
// Samples that do not fit are dropped and counted (take_dropped()).
class AudioRing {
 public:
  AudioRing();
  // storage: capacity int16 (capacity >= 2). false for a null storage or a capacity < 2.
  bool init(int16_t* storage, uint32_t capacity);
  // Writer side. Copies as many of the n samples as fit; returns how many.
  uint32_t write(const int16_t* samples, uint32_t n);
  // Reader side.
  uint32_t available() const;
  // Copies min(n, available()) samples, oldest first; returns how many.
  uint32_t read(int16_t* out, uint32_t n);
  // Samples dropped by write() since the last call (reader side).
  uint32_t take_dropped();
  // Usable capacity: capacity - 1 samples (one slot tells full from empty).
  uint32_t capacity() const { return capacity_ > 0 ? capacity_ - 1 : 0; }

 private:
  int16_t* storage_;
  uint32_t capacity_;
  uint32_t head_;     // next write slot: written by the writer only
  uint32_t tail_;     // next read slot: written by the reader only
  uint32_t dropped_;  // written by the writer only
  uint32_t dropped_seen_;
};

// The keyword model of kws_inference. Every value comes from model_settings.h and the
// interpreter's tensors.
struct KwsModel {
  uint32_t sample_rate_hz;        // kAudioSampleRateHz (the header's rate_hz)
  uint32_t slice_samples;         // kFeatureSliceSamples: audio samples per slice window (480)
  uint32_t slice_stride_samples;  // kFeatureSliceStrideSamples (320)
  uint32_t slice_duration_ms;     // kFeatureSliceDurationMs (30)
  uint32_t slice_stride_ms;       // kFeatureSliceStrideMs (20)
  size_t slice_size;              // kFeatureSliceSize (40)
  size_t slice_count;             // kFeatureSliceCount (49)
  float feature_scale;            // kFeatureScale
  QuantParams input;              // kInputScale, kInputZeroPoint
  QuantParams output;             // kOutputScale, kOutputZeroPoint
  const char* const* labels;      // kCategoryLabels
  size_t label_count;             // kCategoryCount, at most KeywordRecognizer::kMaxCategories
  const uint16_t* score_exp_table;  // kScoreExpTable
  KeywordRecognizerConfig detection;  // kAverageWindowMs, ..., category_count = label_count
  uint32_t invoke_every_slices;   // kInvokeEverySlices, >= 1
  int8_t* window_storage;         // slice_count * slice_size int8 (the sketch's, not the arena)
  int8_t* input_data;             // the input tensor: slice_count * slice_size int8
  const int8_t* output_data;      // the output tensor: label_count int8
  // Runs the model on input_data; sets *invoke_us to the time Invoke() took; false on failure.
  bool (*invoke)(void* ctx, uint32_t* invoke_us);
  void* invoke_ctx;
};

// The kws_inference loop (hardware/PROTOCOL.md). Slice j (0 = the first after start-up) covers
// audio samples [j * slice_stride_samples, j * slice_stride_samples + slice_samples) and ends at
// t_j = j * slice_stride_ms + slice_duration_ms ms. Once slice_count slices are held, the model
// runs after every invoke_every_slices-th slice: the window is copied into the input tensor,
// Invoke(), LogitsToScores, KeywordRecognizer::process(scores, t_j). Lines sent:
//   #DETECT n=<last sample of the window> t=<t_j> label=<keyword> score=<0..255>   on a detection
//   #RESULT n=<...> label=<argmax> logits=<dequantized> us=<Invoke() us>   after every Invoke()
//        during a START take, and for INFER (which runs the model on the latest window now)
// INFO: the header (sensor=mic rate_hz=16000 channels=mic units=int16). START: #START, then the
// #RESULT lines; STOP: #STOP n=<#RESULT lines of the take>. RECORD: refused (use mic_capture).
class KwsApp {
 public:
  KwsApp();
  // false for inconsistent arguments (null pointers, label_count vs detection.category_count,
  // more than kMaxCategories labels, zero sizes).
  bool begin(const char* board_id, WriteFn write, void* write_ctx, const KwsModel& model);
  void send_header();
  void send_error(const char* text);
  // One complete host line (LineReader::line()); overflowed: LineReader::overflowed().
  void on_line(const char* line, bool overflowed);
  // One new feature slice: slice_size uint16 values from FrontendProcessSamples. Returns true
  // when it produced a detection (light the LED).
  bool on_slice(const uint16_t* frontend);
  // The sketch lost `samples` audio samples (AudioRing::take_dropped()): "#ERR audio lost ...".
  void on_audio_lost(uint32_t samples);
  // The last recognizer decision and the label of a detection.
  const KeywordDecision& last_decision() const { return decision_; }
  const char* label(int index) const;
  uint32_t slices_seen() const { return window_.pushed(); }

 private:
  void send(int len);
  bool run_model(uint32_t* invoke_us);
  void send_result(uint32_t n, uint32_t invoke_us);

  const char* board_id_;
  WriteFn write_;
  void* write_ctx_;
  KwsModel model_;
  FeatureWindow window_;
  KeywordRecognizer recognizer_;
  KeywordDecision decision_;
  bool streaming_;
  uint32_t results_sent_;
  int8_t slice_[256];  // one slice of int8 features (slice_size <= 256)
  char line_[kLineBufferBytes];
};

// "#DETECT n=<n> t=<time_ms> label=<label> score=<score>\n" (PROTOCOL.md); -1 when the label is
// empty or has a blank or '=', or the line does not fit.
int format_detect(char* buf, size_t cap, uint32_t n, uint32_t time_ms, const char* label,
                  uint8_t score);

}  // namespace tmk

#endif  // TINYMLKIT_KWS_H_
