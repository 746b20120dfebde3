// tmk_image_runtime.h: everything the image_inference sketches of the kits share, as
// tmk::ImageRuntime: the TFLM interpreter and the one op resolver of the course's image models
// (the TFLM person-detection MobileNet and tinymlkit.models.build_image_cnn), with their checks
// and plain-words #ERR set-up errors, and the CameraApp that answers INFO, SNAP and INFER
// (a frame -> centre crop -> block-mean downsample -> int8 -> Invoke() -> #RESULT with the
// dequantized logits and the Invoke() time). A sketch keeps only its camera glue (begin and read
// one 8-bit grayscale frame) and its board id, and calls begin() in setup(), poll() in loop().
//
// Sketch-only and header-only, like tmk_motion_runtime.h (see there why): it calls Arduino and
// TensorFlow Lite Micro. An image_inference sketch includes TinyMLKit.h and TFLM's
// micro_interpreter.h, micro_mutable_op_resolver.h and schema_generated.h first, then this file;
// TMK_IMAGE_SETTINGS_FROM_MODEL_SETTINGS() expands in the sketch, where model_data.h and
// model_settings.h (tinymlkit.export.ImageModelSettings) are visible. The Nano sketches compile with
// it against the real core on every make test (tests/test_arduino_core.py).
#ifndef TINYMLKIT_IMAGE_RUNTIME_H_
#define TINYMLKIT_IMAGE_RUNTIME_H_

#if !defined(TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_) || \
    !defined(TENSORFLOW_LITE_MICRO_MICRO_MUTABLE_OP_RESOLVER_H_)
#error "tmk_image_runtime.h needs TensorFlow Lite Micro's micro_interpreter.h and micro_mutable_op_resolver.h included before it (as image_inference does)."
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tmk_camera_app.h"
#include "tmk_protocol.h"
#include "tmk_sketch.h"

namespace tmk {

// Everything of model_data.h and model_settings.h the runtime needs.
struct ImageSettings {
  const unsigned char* model_data;  // g_model_data
  int input_height;                 // kInputHeight
  int input_width;                  // kInputWidth
  int crop_size;                    // kCropSize
  int downsample;                   // kDownsample
  QuantParams input;                // kInputScale, kInputZeroPoint
  QuantParams output;               // kOutputScale, kOutputZeroPoint
  const char* const* labels;        // kCategoryLabels
  size_t label_count;               // kCategoryCount
};

#define TMK_IMAGE_SETTINGS_FROM_MODEL_SETTINGS()                                                \
  (tmk::ImageSettings{g_model_data, kInputHeight, kInputWidth, kCropSize, kDownsample,            \
                      tmk::QuantParams{kInputScale, kInputZeroPoint},                             \
                      tmk::QuantParams{kOutputScale, kOutputZeroPoint}, kCategoryLabels, kCategoryCount})

// The sketch's memory and its camera's frame size.
struct ImageBuffers {
  uint8_t* arena;          // alignas(16) kTensorArenaBytes: the tensor arena
  size_t arena_bytes;      // kTensorArenaBytes
  uint8_t* frame;          // frame_width * frame_height bytes: one grayscale frame
  uint32_t frame_width;    // e.g. 160 (QQVGA)
  uint32_t frame_height;   // e.g. 120
};

class ImageRuntime {
 public:
  // Serial, the model (with every check), the header, the camera's status.
  void begin(const ImageSettings& s, const ImageBuffers& b, CaptureFn capture, bool camera_ok,
             const char* board_id, uint32_t fps) {
    begin_serial();
    settings_ = s;
    const bool app_ok = app_.begin(board_id, b.frame_width, b.frame_height, fps, write_serial, nullptr,
                                   b.frame, capture, nullptr);
    if (!app_ok) {
      Serial.println("#ERR image_inference: bad frame settings in the sketch");
      return;
    }
    const bool model_ok = setup_model(b);
    if (model_ok && !app_.begin(board_id, b.frame_width, b.frame_height, fps, write_serial, nullptr, b.frame,
                                capture, nullptr, &model_)) {
      app_.send_error("model settings rejected: the crop does not fit the frame, or more than 32 labels");
    }
    app_.set_camera_ok(camera_ok);
    app_.send_header();
    if (model_ok) {
      char text[80];
      snprintf(text, sizeof(text), "model ready: arena %u of %u bytes used",
               static_cast<unsigned>(interpreter_->arena_used_bytes()),
               static_cast<unsigned>(b.arena_bytes));
      Serial.print("# ");
      Serial.println(text);
    }
    if (!camera_ok) app_.send_error("camera not found");
  }

  // Serial commands: INFO, SNAP (a frame), INFER (a frame classified).
  void poll() {
    while (Serial.available() > 0) {
      if (reader_.push(static_cast<char>(Serial.read()))) app_.on_line(reader_.line(), reader_.overflowed());
    }
  }

 private:
  static bool invoke(void* ctx, uint32_t* invoke_us) {
    tflite::MicroInterpreter* interpreter = static_cast<tflite::MicroInterpreter*>(ctx);
    const uint32_t t0 = micros();
    const bool ok = interpreter->Invoke() == kTfLiteOk;
    *invoke_us = micros() - t0;
    return ok;
  }

  // Builds the interpreter; false (after an #ERR) when the model does not match its settings.
  bool setup_model(const ImageBuffers& b) {
    const tflite::Model* model = tflite::GetModel(settings_.model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
      app_.send_error("model schema version differs from this TFLM: re-export the model");
      return false;
    }
    // The ops of the TFLM person-detection MobileNet (AVERAGE_POOL_2D, CONV_2D,
    // DEPTHWISE_CONV_2D, RESHAPE, SOFTMAX) and of tinymlkit.models.build_image_cnn (CONV_2D,
    // MAX_POOL_2D, RESHAPE, FULLY_CONNECTED).
    ops_.AddAveragePool2D();
    ops_.AddConv2D();
    ops_.AddDepthwiseConv2D();
    ops_.AddReshape();
    ops_.AddSoftmax();
    ops_.AddMaxPool2D();
    ops_.AddFullyConnected();
    static tflite::MicroInterpreter interpreter(model, ops_, b.arena, b.arena_bytes);
    interpreter_ = &interpreter;
    if (interpreter.AllocateTensors() != kTfLiteOk) {
      app_.send_error("AllocateTensors() failed: the tensor arena is too small or the model uses "
                      "an op this sketch does not add");
      return false;
    }
    TfLiteTensor* input = interpreter.input(0);
    TfLiteTensor* output = interpreter.output(0);
    const size_t input_count = static_cast<size_t>(settings_.input_width) * settings_.input_height;
    if (input->type != kTfLiteInt8 || input->bytes != input_count || output->type != kTfLiteInt8 ||
        output->bytes != settings_.label_count || settings_.input_width != settings_.input_height ||
        settings_.crop_size != settings_.input_width * settings_.downsample ||
        input->params.zero_point != settings_.input.zero_point ||
        output->params.zero_point != settings_.output.zero_point) {
      app_.send_error("model_data.cc and model_settings.h come from different exports: copy all "
                      "three files from one export");
      return false;
    }
    model_ = ImageModel{static_cast<size_t>(settings_.input_width), static_cast<size_t>(settings_.downsample),
                        settings_.output, settings_.labels, settings_.label_count, input->data.int8,
                        output->data.int8, invoke, &interpreter};
    return true;
  }

  ImageSettings settings_{};
  tflite::MicroMutableOpResolver<7> ops_;
  tflite::MicroInterpreter* interpreter_ = nullptr;
  ImageModel model_{};
  CameraApp app_;
  LineReader reader_;
};

}  // namespace tmk

#endif  // TINYMLKIT_IMAGE_RUNTIME_H_
