// CameraApp: everything a camera sketch does between the camera and the serial link, per
// hardware/PROTOCOL.md ("Camera frames"), with no Arduino calls. The sketch gives it a frame buffer,
// a function that fills it with one 8-bit grayscale frame (the camera glue) and a write function
// (Serial.write); CameraApp answers INFO (the header, sensor=camera with width, height and
// format=gray8) and SNAP (#FRAME line, the frame's bytes, #ENDFRAME), and refuses START and RECORD
// (a camera sends frames, not a stream); with an ImageModel (image_inference) INFER takes a frame,
// turns its centre into the model's int8 input exactly as tinymlkit.image_features does
// (tmk_image.h), runs the model and answers #RESULT; without one, INFER is refused.
#ifndef TINYMLKIT_CAMERA_APP_H_
#define TINYMLKIT_CAMERA_APP_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_image.h"
#include "tmk_imu_app.h"  // WriteFn, QuantParams
#include "tmk_protocol.h"

namespace tmk {

// Fills frame with width * height 8-bit grayscale pixels, top row first; false if the camera failed.
using CaptureFn = bool (*)(void* ctx, uint8_t* frame);

// An int8 image classifier (image_inference). Every value comes from the exported
// model_settings.h (tinymlkit.export.ImageModelSettings) and the interpreter's tensors.
struct ImageModel {
  size_t input_side;            // kInputWidth (= kInputHeight): the model's input is side x side x 1
  size_t downsample;            // kDownsample: the frame's centre (side * downsample) square shrinks by it
  QuantParams output;           // kOutputScale, kOutputZeroPoint
  const char* const* labels;    // kCategoryLabels (no blanks: they go into #RESULT lines)
  size_t label_count;           // kCategoryCount (at most CameraApp::kMaxLabels)
  int8_t* input_data;           // the input tensor: side * side int8
  const int8_t* output_data;    // the output tensor: label_count int8
  // Runs the model on input_data; sets *invoke_us to the time Invoke() took; false on failure.
  bool (*invoke)(void* ctx, uint32_t* invoke_us);
  void* invoke_ctx;
};

class CameraApp {
 public:
  static constexpr size_t kMaxLabels = 32;

  // board_id: a tinymlkit/data/boards.toml id. frame: width * height bytes. fps: most frames a
  // second (the header's rate_hz). Returns false for inconsistent arguments.
  // model: nullptr for a capture-only sketch; else INFER classifies a frame (its crop must fit).
  bool begin(const char* board_id, uint32_t width, uint32_t height, uint32_t fps, WriteFn write,
             void* write_ctx, uint8_t* frame, CaptureFn capture, void* capture_ctx,
             const ImageModel* model = nullptr);
  // false: the camera did not start (SNAP then answers "#ERR camera not found").
  void set_camera_ok(bool ok) { camera_ok_ = ok; }
  void send_header();
  void send_error(const char* text);
  // One complete host line (LineReader::line()); overflowed: LineReader::overflowed().
  void on_line(const char* line, bool overflowed);
  uint32_t frames_sent() const { return frames_; }

 private:
  void send(int len);
  void snap();
  void infer();

  const char* board_id_ = nullptr;
  uint32_t width_ = 0;
  uint32_t height_ = 0;
  uint32_t fps_ = 0;
  WriteFn write_ = nullptr;
  void* write_ctx_ = nullptr;
  uint8_t* frame_ = nullptr;
  CaptureFn capture_ = nullptr;
  void* capture_ctx_ = nullptr;
  const ImageModel* model_ = nullptr;
  bool camera_ok_ = true;
  uint32_t frames_ = 0;
  char line_[kLineBufferBytes];
};

}  // namespace tmk

#endif  // TINYMLKIT_CAMERA_APP_H_
