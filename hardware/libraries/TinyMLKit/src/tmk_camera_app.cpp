#include "tmk_camera_app.h"

#include <stdio.h>

namespace tmk {

namespace {
const char* const kCameraChannels[] = {"pixel"};
const char* const kCameraUnits[] = {"uint8"};
}  // namespace

bool CameraApp::begin(const char* board_id, uint32_t width, uint32_t height, uint32_t fps, WriteFn write,
                      void* write_ctx, uint8_t* frame, CaptureFn capture, void* capture_ctx,
                      const ImageModel* model) {
  if (board_id == nullptr || write == nullptr || frame == nullptr || capture == nullptr || width == 0 ||
      height == 0 || fps == 0 || width > 4096 || height > 4096) {
    return false;
  }
  if (model != nullptr) {
    const size_t side = model->input_side * model->downsample;
    if (model->input_side == 0 || model->downsample == 0 || side > width || side > height ||
        model->label_count == 0 || model->label_count > kMaxLabels || model->labels == nullptr ||
        model->input_data == nullptr || model->output_data == nullptr || model->invoke == nullptr) {
      return false;
    }
  }
  model_ = model;
  board_id_ = board_id;
  width_ = width;
  height_ = height;
  fps_ = fps;
  write_ = write;
  write_ctx_ = write_ctx;
  frame_ = frame;
  capture_ = capture;
  capture_ctx_ = capture_ctx;
  return true;
}

void CameraApp::send(int len) {
  if (len > 0) write_(write_ctx_, line_, static_cast<size_t>(len));
}

void CameraApp::send_header() {
  const StreamInfo info{board_id_, "camera", static_cast<float>(fps_), kCameraChannels, kCameraUnits, 1};
  const int len = format_header(line_, sizeof(line_), info);
  if (len <= 0) return;
  // the camera's keys, before the line's '\n' (PROTOCOL.md: unknown keys are ignored by old hosts)
  const int more = snprintf(line_ + len - 1, sizeof(line_) - static_cast<size_t>(len) + 1,
                            " width=%u height=%u format=gray8\n", static_cast<unsigned>(width_),
                            static_cast<unsigned>(height_));
  if (more > 0 && static_cast<size_t>(len - 1 + more) < sizeof(line_)) send(len - 1 + more);
}

void CameraApp::send_error(const char* text) { send(format_err(line_, sizeof(line_), "%s", text)); }

void CameraApp::snap() {
  if (!camera_ok_) {
    send_error("camera not found");
    return;
  }
  if (!capture_(capture_ctx_, frame_)) {
    send_error("the camera did not deliver a frame");
    return;
  }
  const size_t n = static_cast<size_t>(width_) * height_;
  const uint32_t counter = frames_++;
  send(format_frame_header(line_, sizeof(line_), counter, width_, height_, crc32(frame_, n)));
  write_(write_ctx_, reinterpret_cast<const char*>(frame_), n);
  send(format_frame_end(line_, sizeof(line_), counter));
}

void CameraApp::infer() {
  if (model_ == nullptr) {
    send_error("no model");
    return;
  }
  if (!camera_ok_) {
    send_error("camera not found");
    return;
  }
  if (!capture_(capture_ctx_, frame_)) {
    send_error("the camera did not deliver a frame");
    return;
  }
  const uint32_t counter = frames_++;
  frame_to_int8(frame_, width_, height_, model_->input_side, model_->downsample, model_->input_data);
  uint32_t invoke_us = 0;
  if (!model_->invoke(model_->invoke_ctx, &invoke_us)) {
    send_error("Invoke() failed");
    return;
  }
  float logits[kMaxLabels];
  size_t best = 0;
  for (size_t k = 0; k < model_->label_count; ++k) {
    logits[k] = model_->output.scale * static_cast<float>(model_->output_data[k] - model_->output.zero_point);
    if (model_->output_data[k] > model_->output_data[best]) best = k;
  }
  send(format_result(line_, sizeof(line_), counter, model_->labels[best], logits, model_->label_count, invoke_us));
}

void CameraApp::on_line(const char* line, bool overflowed) {
  if (overflowed) {
    send_error("line too long");
    return;
  }
  const Command cmd = parse_command(line);
  switch (cmd.kind) {
    case CommandKind::kEmpty:
      break;
    case CommandKind::kInfo:
      send_header();
      break;
    case CommandKind::kSnap:
      snap();
      break;
    case CommandKind::kStart:
    case CommandKind::kRecord:
      send_error("a camera sends frames, not a stream: use SNAP");
      break;
    case CommandKind::kStop:
      send(format_stop(line_, sizeof(line_), 0));
      break;
    case CommandKind::kInfer:
      infer();
      break;
    case CommandKind::kUnknown:
    case CommandKind::kInvalid:
      send(format_command_error(line_, sizeof(line_), cmd));
      break;
  }
}

}  // namespace tmk
