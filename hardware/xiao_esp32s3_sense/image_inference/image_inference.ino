// image_inference: classifies what the camera of a Seeed Studio XIAO ESP32S3 Sense (OV2640 or
// OV3660 on the Sense board) sees, with an int8 image model from tinymlkit, speaking
// hardware/PROTOCOL.md: INFER takes a frame and answers #RESULT (label, dequantized logits,
// Invoke() time in us); SNAP sends the frame itself; INFO the header (sensor=camera width=160 height=120).
//
// Before building, copy an exported image model here (model_data.cc, model_data.h,
// model_settings.h), either
//   person detection:  python -c "import tinymlkit as tk; tk.vision.export_person_detection('build/person')"
//   the course's classifier or your own objects: tinymlkit vision (build/vision), or lab06.
// Pipeline per INFER: tmk::XiaoCamera (160x120 grayscale, TinyMLKit's tmk_xiao_camera.h, shared
// with image_capture) -> the centre kCropSize square, shrunk by kDownsample (block means) ->
// pixel - 128 into the input tensor (TinyMLKit's tmk_image, bit-identical to
// tinymlkit.image_features) -> Invoke() (TensorFlow Lite Micro inside the esp32 core 3.x:
// esp-tflite-micro, ../README.md "Which TensorFlow Lite Micro") -> #RESULT. Everything but the
// camera is tmk::ImageRuntime (TinyMLKit's tmk_image_runtime.h, shared with the Nano sketches).
// Not compiled here (no esp32 core offline): ../../README.md, "What was compiled".
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. Export an image model (tinymlkit vision, lab06, or tk.vision.export_person_detection) and copy those three files into this sketch's folder. See hardware/xiao_esp32s3_sense/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"
#if !defined(TINYMLKIT_IMAGE_MODEL)
#error "model_settings.h is not an image model's. image_inference needs one exported with ImageModelSettings."
#endif

#include <esp_camera.h>  // the esp32 core's camera driver, for tmk_xiao_camera.h
#include <TinyMLKit.h>
#include <tmk_xiao_camera.h>  // the Sense board's camera

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_image_runtime.h>  // after the TensorFlow Lite Micro headers: it uses them

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr uint32_t kFps = 5;
static_assert(kCropSize <= tmk::XiaoCamera::kHeight, "the model's crop must fit in a 160x120 frame");

// The tensor arena (sized by tinymlkit.tflm; 85 KB for person detection) and one frame, both in
// internal RAM: the frame buffer of the camera driver is in PSRAM.
alignas(16) uint8_t g_arena[kTensorArenaBytes];
uint8_t g_frame[tmk::XiaoCamera::kFrameBytes];
tmk::ImageRuntime g_image;

}  // namespace

// The USB serial port needs "USB CDC On Boot: Enabled", the core's default for this board (../README.md).
void setup() {
  const bool camera_ok = tmk::XiaoCamera::begin();
  g_image.begin(TMK_IMAGE_SETTINGS_FROM_MODEL_SETTINGS(),
                tmk::ImageBuffers{g_arena, kTensorArenaBytes, g_frame, tmk::XiaoCamera::kWidth, tmk::XiaoCamera::kHeight},
                tmk::XiaoCamera::read, camera_ok, kBoardId, kFps);
}

void loop() { g_image.poll(); }
