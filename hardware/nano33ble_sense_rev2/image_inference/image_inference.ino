// image_inference: classifies what the OV7675 camera of the Tiny Machine Learning Kit's shield sees,
// on an Arduino Nano 33 BLE Sense Rev2, with an int8 image model from tinymlkit, speaking hardware/PROTOCOL.md:
// INFER takes a frame and answers #RESULT (label, dequantized logits, Invoke() time in us); SNAP
// sends the frame itself; INFO the header (sensor=camera width=160 height=120).
//
// Before building, copy an exported image model here (model_data.cc, model_data.h,
// model_settings.h), either
//   person detection:  python -c "import tinymlkit as tk; tk.vision.export_person_detection('build/person')"
//   the course's classifier or your own objects: tinymlkit vision (build/vision), or lab06.
// Pipeline per INFER: Camera.readFrame (160x120 grayscale) -> the centre kCropSize square, shrunk
// by kDownsample (block means) -> pixel - 128 into the input tensor (TinyMLKit's tmk_image, bit-
// identical to tinymlkit.image_features) -> Invoke() (Chirale_TensorFlowLite) -> #RESULT. Everything
// but the camera glue is tmk::ImageRuntime (TinyMLKit's tmk_image_runtime.h). Build: ../README.md.
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. Export an image model (tinymlkit vision, lab06, or tk.vision.export_person_detection) and copy those three files into this sketch's folder. See hardware/nano33ble_sense_rev2/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"
#if !defined(TINYMLKIT_IMAGE_MODEL)
#error "model_settings.h is not an image model's. image_inference needs one exported with ImageModelSettings."
#endif

#include <Arduino_OV767X.h>
#include <Chirale_TensorFlowLite.h>
#include <TinyMLKit.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_image_runtime.h>  // after the TensorFlow Lite Micro headers: it uses them

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";
constexpr uint32_t kWidth = 160, kHeight = 120;  // QQVGA
constexpr uint32_t kFps = 1;
static_assert(kCropSize <= 120, "the model's crop must fit in a 160x120 frame");

alignas(16) uint8_t g_arena[kTensorArenaBytes];  // the tensor arena, sized by tinymlkit.tflm
uint8_t g_frame[kWidth * kHeight];               // one grayscale frame (19,200 bytes)
tmk::ImageRuntime g_image;

// tmk::CaptureFn: one grayscale frame from the camera.
bool read_frame(void*, uint8_t* frame) {
  Camera.readFrame(frame);
  return true;
}

}  // namespace

void setup() {
  const bool camera_ok = Camera.begin(QQVGA, GRAYSCALE, kFps) != 0;
  g_image.begin(TMK_IMAGE_SETTINGS_FROM_MODEL_SETTINGS(), tmk::ImageBuffers{g_arena, kTensorArenaBytes, g_frame, kWidth, kHeight},
                read_frame, camera_ok, kBoardId, kFps);
}

void loop() { g_image.poll(); }
