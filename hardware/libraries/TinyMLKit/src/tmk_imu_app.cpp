#include "tmk_imu_app.h"

#include <string.h>

namespace tmk {

ImuApp::ImuApp()
    : info_(),
      write_(nullptr),
      write_ctx_(nullptr),
      record_(nullptr),
      record_capacity_(0),
      record_target_(0),
      model_(nullptr),
      mode_(Mode::kIdle),
      count_(0),
      total_(0) {
  line_[0] = '\0';
}

bool ImuApp::begin(const StreamInfo& info, WriteFn write, void* write_ctx, float* record_storage,
                   uint32_t record_capacity, const ImuModel* model) {
  info_ = info;
  write_ = write;
  write_ctx_ = write_ctx;
  record_ = record_storage;
  record_capacity_ = record_storage ? record_capacity : 0;
  model_ = model;
  mode_ = Mode::kIdle;
  count_ = total_ = 0;
  if (write == nullptr || info.channel_count == 0 || !(info.rate_hz > 0.0f)) return false;
  if (model != nullptr) {
    const bool classifier_ok = model->input_data != nullptr && model->output_data != nullptr &&
                               model->invoke != nullptr;
    if (model->norm.channel_count != info.channel_count || model->label_count == 0 ||
        model->label_count > kMaxLabels || model->labels == nullptr ||
        (model->window_step == nullptr && !classifier_ok) || model->stride_samples == 0 ||
        !ring_.init(model->ring_storage, model->window_samples, info.channel_count)) {
      model_ = nullptr;
      return false;
    }
  }
  return true;
}

void ImuApp::send(int len) {
  if (len > 0) write_(write_ctx_, line_, static_cast<size_t>(len));
}

void ImuApp::send_header() { send(format_header(line_, sizeof(line_), info_)); }

void ImuApp::send_error(const char* text) {
  send(format_err(line_, sizeof(line_), "%s", text));
}

void ImuApp::on_line(const char* line, bool overflowed) {
  if (overflowed) {
    send(format_err(line_, sizeof(line_), "line longer than %u characters ignored",
                    static_cast<unsigned>(kMaxLineChars)));
    return;
  }
  const Command cmd = parse_command(line);
  switch (cmd.kind) {
    case CommandKind::kEmpty:
      return;
    case CommandKind::kInfo:
      send_header();
      return;
    case CommandKind::kStart:  // a START during a take begins a new take, as the simulated board
      mode_ = Mode::kStreaming;
      count_ = 0;
      send(format_start(line_, sizeof(line_)));
      return;
    case CommandKind::kStop:
      if (mode_ == Mode::kRecording) {
        finish_record();  // send what was recorded so far
      } else {
        mode_ = Mode::kIdle;
        send(format_stop(line_, sizeof(line_), count_));
      }
      return;
    case CommandKind::kRecord:
      start_record(cmd.record_ms);
      return;
    case CommandKind::kInfer:
      if (model_ == nullptr) {
        send(format_err(line_, sizeof(line_), "no model"));
      } else if (ring_.size() < model_->window_samples) {
        send(format_err(line_, sizeof(line_), "window not full yet (%u of %u samples)",
                        static_cast<unsigned>(ring_.size()),
                        static_cast<unsigned>(model_->window_samples)));
      } else {
        // The counter of the window's last sample: in the take's numbering during a take that
        // has samples, else the samples since start-up (as the simulated board).
        classify(mode_ == Mode::kStreaming && count_ > 0 ? count_ - 1 : total_ - 1);
      }
      return;
    case CommandKind::kSnap:  // no camera here: "#ERR unknown command SNAP"
    case CommandKind::kUnknown:
    case CommandKind::kInvalid:
      send(format_command_error(line_, sizeof(line_), cmd));
      return;
  }
}

void ImuApp::start_record(uint32_t ms) {
  if (mode_ != Mode::kIdle) {
    send(format_err(line_, sizeof(line_), "a take is running: send STOP first"));
    return;
  }
  // Whole samples in ms at rate_hz, rounded to nearest (as the simulated board).
  const uint32_t n = static_cast<uint32_t>(static_cast<float>(ms) * info_.rate_hz / 1000.0f + 0.5f);
  if (n == 0) {
    send(format_err(line_, sizeof(line_), "RECORD ms=%u is shorter than one sample",
                    static_cast<unsigned>(ms)));
    return;
  }
  if (n > record_capacity_) {
    const uint32_t max_ms = static_cast<uint32_t>(
        static_cast<float>(record_capacity_) * 1000.0f / info_.rate_hz);
    send(format_err(line_, sizeof(line_), "RECORD ms=%u does not fit in RAM: at most %u ms",
                    static_cast<unsigned>(ms), static_cast<unsigned>(max_ms)));
    return;
  }
  mode_ = Mode::kRecording;
  record_target_ = n;
  count_ = 0;
}

void ImuApp::finish_record() {
  mode_ = Mode::kIdle;
  send(format_start(line_, sizeof(line_)));
  for (uint32_t i = 0; i < count_; ++i) {
    send(format_sample(line_, sizeof(line_), i, record_ + i * info_.channel_count,
                       info_.channel_count));
  }
  send(format_stop(line_, sizeof(line_), count_));
}

void ImuApp::on_sample(const float* sample) {
  ++total_;
  if (model_ != nullptr) ring_.push(sample);
  if (mode_ == Mode::kStreaming) {
    const uint32_t n = count_++;
    send(format_sample(line_, sizeof(line_), n, sample, info_.channel_count));
    if (model_ != nullptr &&
        window_due(count_, static_cast<uint32_t>(model_->window_samples),
                   static_cast<uint32_t>(model_->stride_samples))) {
      classify(n);
    }
  } else if (mode_ == Mode::kRecording) {
    memcpy(record_ + count_ * info_.channel_count, sample, info_.channel_count * sizeof(float));
    if (++count_ == record_target_) finish_record();
  }
}

void ImuApp::on_samples_lost(uint32_t count) {
  if (count == 0) return;
  if (mode_ == Mode::kStreaming) {
    count_ += count;
  } else if (mode_ == Mode::kRecording) {
    mode_ = Mode::kIdle;
    send(format_err(line_, sizeof(line_), "RECORD lost %u samples: try again",
                    static_cast<unsigned>(count)));
  }
}

void ImuApp::on_sensor_error(const char* what) {
  send_error(what);
  if (mode_ == Mode::kStreaming) {
    mode_ = Mode::kIdle;
    send(format_stop(line_, sizeof(line_), count_));
  } else if (mode_ == Mode::kRecording) {
    finish_record();
  }
}

void ImuApp::classify(uint32_t counter) {
  const ImuModel& m = *model_;
  if (m.window_step != nullptr) {
    run_window_step(counter);
    return;
  }
  if (!quantize_latest(ring_, m.window_samples, m.norm, m.input, m.input_data)) {
    send(format_err(line_, sizeof(line_), "window not full yet"));
    return;
  }
  uint32_t invoke_us = 0;
  if (!m.invoke(m.invoke_ctx, &invoke_us)) {
    send(format_err(line_, sizeof(line_), "Invoke() failed"));
    return;
  }
  float logits[kMaxLabels];
  for (size_t k = 0; k < m.label_count; ++k) logits[k] = dequantize_value(m.output_data[k], m.output);
  // The class is the argmax of the raw int8 output (the output scale is positive).
  const size_t best = argmax_int8(m.output_data, m.label_count);
  send(format_result(line_, sizeof(line_), counter, m.labels[best], logits, m.label_count,
                     invoke_us));
}

void ImuApp::run_window_step(uint32_t counter) {
  const ImuModel& m = *model_;
  if (ring_.size() < m.window_samples) {
    send(format_err(line_, sizeof(line_), "window not full yet"));
    return;
  }
  WindowResult r{};
  const char* error = m.window_step(m.window_step_ctx, ring_, m.window_samples, &r);
  if (error != nullptr) {
    send(format_err(line_, sizeof(line_), "%s", error));
  } else if (r.label >= m.label_count || r.value_count == 0 || r.value_count > kMaxResultValues) {
    send(format_err(line_, sizeof(line_), "the model's window step gave label %u and %u values",
                    static_cast<unsigned>(r.label), static_cast<unsigned>(r.value_count)));
  } else {
    send(format_result(line_, sizeof(line_), counter, m.labels[r.label], r.values, r.value_count,
                       r.invoke_us));
  }
}

}  // namespace tmk
