#include "tmk_kws.h"

#include <stdio.h>
#include <string.h>

namespace tmk {

void FeaturesToInt8(const uint16_t* frontend, int n, float feature_scale, float input_scale,
                    int input_zero_point, int8_t* out) {
  const QuantParams qp{input_scale, input_zero_point};
  for (int i = 0; i < n; ++i) {
    const float feature = static_cast<float>(frontend[i]) * feature_scale;
    out[i] = quantize_value(feature, qp);
  }
}

void LogitsToScores(const int8_t* logits, int n, const uint16_t* exp_table, uint8_t* scores) {
  if (n <= 0) return;
  int top = logits[0];
  for (int k = 1; k < n; ++k) {
    if (logits[k] > top) top = logits[k];
  }
  uint32_t sum = 0;
  for (int k = 0; k < n; ++k) sum += exp_table[top - logits[k]];
  if (sum == 0) sum = 1;  // only with a broken table (exp_table[0] == 0)
  for (int k = 0; k < n; ++k) {
    const uint32_t e = exp_table[top - logits[k]];
    const uint32_t s = (256u * e + sum / 2u) / sum;
    scores[k] = static_cast<uint8_t>(s > 255u ? 255u : s);
  }
}

// --- KeywordRecognizer ---------------------------------------------------------------------

KeywordRecognizer::KeywordRecognizer()
    : config_{0, 0, 0, 0, 0, -1, -1},
      ok_(false),
      front_(0),
      count_(0),
      has_time_(false),
      last_time_(0),
      last_index_(-1),
      last_detection_ms_(0),
      times_{},
      scores_{} {}

bool KeywordRecognizer::init(const KeywordRecognizerConfig& config) {
  ok_ = false;
  if (config.category_count < 1 || config.category_count > kMaxCategories ||
      config.average_window_ms == 0 || config.minimum_count == 0 ||
      config.silence_index < -1 || config.silence_index >= config.category_count ||
      config.unknown_index < -1 || config.unknown_index >= config.category_count) {
    return false;
  }
  config_ = config;
  ok_ = true;
  reset();
  return true;
}

void KeywordRecognizer::reset() {
  front_ = 0;
  count_ = 0;
  has_time_ = false;
  last_time_ = 0;
  last_index_ = -1;
  last_detection_ms_ = 0;
}

bool KeywordRecognizer::process(const uint8_t* scores, uint32_t time_ms, KeywordDecision* out) {
  if (!ok_ || scores == nullptr || out == nullptr) return false;
  if (has_time_ && time_ms - last_time_ >= 0x80000000u) return false;  // earlier than before
  has_time_ = true;
  last_time_ = time_ms;
  const int k_count = config_.category_count;
  if (count_ == kMaxResults) {  // drop the oldest
    front_ = (front_ + 1) % kMaxResults;
    --count_;
  }
  const int slot = (front_ + count_) % kMaxResults;
  times_[slot] = time_ms;
  memcpy(scores_[slot], scores, static_cast<size_t>(k_count));
  ++count_;
  while (count_ > 0 && time_ms - times_[front_] > config_.average_window_ms) {
    front_ = (front_ + 1) % kMaxResults;
    --count_;
  }
  if (static_cast<uint32_t>(count_) < config_.minimum_count ||
      time_ms - times_[front_] < config_.average_window_ms / 4u) {
    *out = KeywordDecision{false, -1, 0, false};
    return true;
  }
  uint32_t sums[kMaxCategories] = {};
  for (int r = 0; r < count_; ++r) {
    const uint8_t* row = scores_[(front_ + r) % kMaxResults];
    for (int k = 0; k < k_count; ++k) sums[k] += row[k];
  }
  int top = 0;
  uint32_t top_average = sums[0] / static_cast<uint32_t>(count_);
  for (int k = 1; k < k_count; ++k) {
    const uint32_t average = sums[k] / static_cast<uint32_t>(count_);
    if (average > top_average) {
      top = k;
      top_average = average;
    }
  }
  const bool keyword = top != config_.silence_index && top != config_.unknown_index;
  const bool is_new = keyword && top_average >= config_.threshold &&
                      (top != last_index_ || time_ms - last_detection_ms_ > config_.suppression_ms);
  if (is_new) {
    last_index_ = top;
    last_detection_ms_ = time_ms;
  }
  *out = KeywordDecision{true, top, static_cast<uint8_t>(top_average), is_new};
  return true;
}

// --- FeatureWindow ---------------------------------------------------------------------------

FeatureWindow::FeatureWindow()
    : storage_(nullptr), slice_count_(0), slice_size_(0), head_(0), held_(0), pushed_(0) {}

bool FeatureWindow::init(int8_t* storage, size_t slice_count, size_t slice_size) {
  if (storage == nullptr || slice_count == 0 || slice_size == 0) {
    storage_ = nullptr;
    slice_count_ = slice_size_ = 0;
    return false;
  }
  storage_ = storage;
  slice_count_ = slice_count;
  slice_size_ = slice_size;
  reset();
  return true;
}

void FeatureWindow::reset() {
  head_ = 0;
  held_ = 0;
  pushed_ = 0;
}

void FeatureWindow::push(const int8_t* slice) {
  if (storage_ == nullptr) return;
  memcpy(storage_ + head_ * slice_size_, slice, slice_size_);
  head_ = (head_ + 1) % slice_count_;
  if (held_ < slice_count_) ++held_;
  ++pushed_;
}

bool FeatureWindow::copy_to(int8_t* out) const {
  if (storage_ == nullptr || !full()) return false;
  // Full: the oldest slice is at head_ (the slot the next push overwrites).
  const size_t first = (slice_count_ - head_) * slice_size_;
  memcpy(out, storage_ + head_ * slice_size_, first);
  memcpy(out + first, storage_, head_ * slice_size_);
  return true;
}

// --- AudioRing -------------------------------------------------------------------------------

AudioRing::AudioRing()
    : storage_(nullptr), capacity_(0), head_(0), tail_(0), dropped_(0), dropped_seen_(0) {}

bool AudioRing::init(int16_t* storage, uint32_t capacity) {
  if (storage == nullptr || capacity < 2) {
    storage_ = nullptr;
    capacity_ = 0;
    return false;
  }
  storage_ = storage;
  capacity_ = capacity;
  head_ = tail_ = dropped_ = dropped_seen_ = 0;
  return true;
}

uint32_t AudioRing::write(const int16_t* samples, uint32_t n) {
  if (storage_ == nullptr) return 0;
  const uint32_t head = head_;  // only this side writes head_
  const uint32_t tail = __atomic_load_n(&tail_, __ATOMIC_ACQUIRE);
  const uint32_t used = (head + capacity_ - tail) % capacity_;
  const uint32_t space = capacity_ - 1 - used;
  const uint32_t take = n < space ? n : space;
  const uint32_t first = take < capacity_ - head ? take : capacity_ - head;
  memcpy(storage_ + head, samples, first * sizeof(int16_t));
  memcpy(storage_, samples + first, (take - first) * sizeof(int16_t));
  __atomic_store_n(&head_, (head + take) % capacity_, __ATOMIC_RELEASE);
  if (take < n) __atomic_store_n(&dropped_, dropped_ + (n - take), __ATOMIC_RELEASE);
  return take;
}

uint32_t AudioRing::available() const {
  if (storage_ == nullptr) return 0;
  const uint32_t head = __atomic_load_n(&head_, __ATOMIC_ACQUIRE);
  return (head + capacity_ - tail_) % capacity_;
}

uint32_t AudioRing::read(int16_t* out, uint32_t n) {
  if (storage_ == nullptr) return 0;
  const uint32_t tail = tail_;  // only this side writes tail_
  const uint32_t have = available();
  const uint32_t take = n < have ? n : have;
  const uint32_t first = take < capacity_ - tail ? take : capacity_ - tail;
  memcpy(out, storage_ + tail, first * sizeof(int16_t));
  memcpy(out + first, storage_, (take - first) * sizeof(int16_t));
  __atomic_store_n(&tail_, (tail + take) % capacity_, __ATOMIC_RELEASE);
  return take;
}

uint32_t AudioRing::take_dropped() {
  const uint32_t dropped = __atomic_load_n(&dropped_, __ATOMIC_ACQUIRE);
  const uint32_t fresh = dropped - dropped_seen_;  // wraps correctly
  dropped_seen_ = dropped;
  return fresh;
}

// --- protocol line -----------------------------------------------------------------------------

int format_detect(char* buf, size_t cap, uint32_t n, uint32_t time_ms, const char* label,
                  uint8_t score) {
  if (buf == nullptr || cap == 0) return -1;
  buf[0] = '\0';
  if (label == nullptr || *label == '\0') return -1;
  for (const char* c = label; *c != '\0'; ++c) {
    if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n' || *c == '=') return -1;
  }
  const int len = snprintf(buf, cap, "#DETECT n=%lu t=%lu label=%s score=%u\n",
                           static_cast<unsigned long>(n), static_cast<unsigned long>(time_ms),
                           label, static_cast<unsigned>(score));
  if (len < 0 || static_cast<size_t>(len) >= cap || static_cast<size_t>(len) > kMaxLineChars + 1) {
    buf[0] = '\0';
    return -1;
  }
  return len;
}

// --- KwsApp ------------------------------------------------------------------------------------

KwsApp::KwsApp()
    : board_id_(nullptr),
      write_(nullptr),
      write_ctx_(nullptr),
      model_{},
      decision_{false, -1, 0, false},
      streaming_(false),
      results_sent_(0),
      slice_{},
      line_{} {}

bool KwsApp::begin(const char* board_id, WriteFn write, void* write_ctx, const KwsModel& model) {
  if (board_id == nullptr || write == nullptr || model.labels == nullptr ||
      model.score_exp_table == nullptr || model.window_storage == nullptr ||
      model.input_data == nullptr || model.output_data == nullptr || model.invoke == nullptr ||
      model.label_count == 0 || model.label_count > static_cast<size_t>(KeywordRecognizer::kMaxCategories) ||
      model.detection.category_count != static_cast<int>(model.label_count) ||
      model.slice_size == 0 || model.slice_size > sizeof(slice_) || model.slice_count == 0 ||
      model.invoke_every_slices == 0 || model.sample_rate_hz == 0 || model.input.scale <= 0.0f) {
    return false;
  }
  if (!recognizer_.init(model.detection) ||
      !window_.init(model.window_storage, model.slice_count, model.slice_size)) {
    return false;
  }
  board_id_ = board_id;
  write_ = write;
  write_ctx_ = write_ctx;
  model_ = model;
  decision_ = KeywordDecision{false, -1, 0, false};
  streaming_ = false;
  results_sent_ = 0;
  return true;
}

void KwsApp::send(int len) {
  if (len > 0 && write_ != nullptr) write_(write_ctx_, line_, static_cast<size_t>(len));
}

void KwsApp::send_header() {
  static const char* const kChannels[] = {"mic"};
  static const char* const kUnits[] = {"int16"};
  const StreamInfo info{board_id_, "mic", static_cast<float>(model_.sample_rate_hz), kChannels,
                        kUnits, 1};
  send(format_header(line_, sizeof(line_), info));
}

void KwsApp::send_error(const char* text) { send(format_err(line_, sizeof(line_), "%s", text)); }

const char* KwsApp::label(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= model_.label_count) return "?";
  return model_.labels[index];
}

bool KwsApp::run_model(uint32_t* invoke_us) {
  if (!window_.copy_to(model_.input_data)) return false;
  *invoke_us = 0;
  if (!model_.invoke(model_.invoke_ctx, invoke_us)) {
    send_error("Invoke() failed");
    return false;
  }
  return true;
}

void KwsApp::send_result(uint32_t n, uint32_t invoke_us) {
  float logits[KeywordRecognizer::kMaxCategories];
  for (size_t k = 0; k < model_.label_count; ++k) {
    logits[k] = dequantize_value(model_.output_data[k], model_.output);
  }
  // The class is the argmax of the raw int8 output (the output scale is positive).
  const size_t best = argmax_int8(model_.output_data, model_.label_count);
  send(format_result(line_, sizeof(line_), n, model_.labels[best], logits, model_.label_count,
                     invoke_us));
}

bool KwsApp::on_slice(const uint16_t* frontend) {
  if (write_ == nullptr) return false;
  FeaturesToInt8(frontend, static_cast<int>(model_.slice_size), model_.feature_scale,
                 model_.input.scale, model_.input.zero_point, slice_);
  window_.push(slice_);
  const uint32_t seen = window_.pushed();
  const uint32_t count = static_cast<uint32_t>(model_.slice_count);
  if (seen < count || (seen - count) % model_.invoke_every_slices != 0) return false;
  const uint32_t j = seen - 1;  // this slice's index
  const uint32_t n = j * model_.slice_stride_samples + model_.slice_samples - 1;
  const uint32_t t_ms = j * model_.slice_stride_ms + model_.slice_duration_ms;
  uint32_t invoke_us = 0;
  if (!run_model(&invoke_us)) return false;
  uint8_t scores[KeywordRecognizer::kMaxCategories];
  LogitsToScores(model_.output_data, static_cast<int>(model_.label_count), model_.score_exp_table,
                 scores);
  KeywordDecision decision;
  if (!recognizer_.process(scores, t_ms, &decision)) return false;
  decision_ = decision;
  if (streaming_) {
    send_result(n, invoke_us);
    ++results_sent_;
  }
  if (decision.is_new) {
    send(format_detect(line_, sizeof(line_), n, t_ms, label(decision.top_index), decision.score));
  }
  return decision.is_new;
}

void KwsApp::on_audio_lost(uint32_t samples) {
  if (samples == 0 || write_ == nullptr) return;
  send(format_err(line_, sizeof(line_),
                  "audio lost: %lu samples (the loop is slower than real time: raise "
                  "kInvokeEverySlices)",
                  static_cast<unsigned long>(samples)));
}

void KwsApp::on_line(const char* line, bool overflowed) {
  if (write_ == nullptr) return;
  if (overflowed) {
    send_error("line too long");
    return;
  }
  const Command cmd = parse_command(line);
  switch (cmd.kind) {
    case CommandKind::kEmpty:
      return;
    case CommandKind::kInfo:
      send_header();
      return;
    case CommandKind::kStart:
      if (streaming_) {
        send_error("a take is running: send STOP first");
        return;
      }
      streaming_ = true;
      results_sent_ = 0;
      send(format_start(line_, sizeof(line_)));
      return;
    case CommandKind::kStop:
      streaming_ = false;
      send(format_stop(line_, sizeof(line_), results_sent_));
      return;
    case CommandKind::kRecord:
      send_error("kws_inference does not record audio: upload mic_capture for RECORD");
      return;
    case CommandKind::kInfer: {
      if (!window_.full()) {
        send(format_err(line_, sizeof(line_), "window not full yet (%u of %u slices)",
                        static_cast<unsigned>(window_.size()),
                        static_cast<unsigned>(window_.slice_count())));
        return;
      }
      const uint32_t j = window_.pushed() - 1;
      uint32_t invoke_us = 0;
      if (run_model(&invoke_us)) {
        send_result(j * model_.slice_stride_samples + model_.slice_samples - 1, invoke_us);
      }
      return;
    }
    case CommandKind::kSnap:  // no camera here: "#ERR unknown command SNAP"
    case CommandKind::kUnknown:
    case CommandKind::kInvalid:
      send(format_command_error(line_, sizeof(line_), cmd));
      return;
  }
}

}  // namespace tmk
