// motion_inference: classifies the shoulder exercises on an Arduino Nano 33 BLE Sense Rev2 with
// the int8 model from tinymlkit.export, speaking hardware/PROTOCOL.md: INFO, START (samples and a
// #RESULT every kStrideSamples), STOP, INFER (the latest window), RECORD ms=<n>.
//
// Before building, copy the exported model here (see ../README.md, "motion_inference"):
//   tinymlkit demo        # or your lab03 export
//   cp build/demo/model_data.cc build/demo/model_data.h build/demo/model_settings.h  hardware/nano33ble_sense_rev2/motion_inference/
//
// Everything but the IMU glue is tmk::MotionRuntime (TinyMLKit's tmk_motion_runtime.h, shared by
// the three kits). Pipeline per sample: BMI270 (g, deg/s -> rad/s, as imu_capture) -> ring buffer of the latest
// kWindowSamples -> every kStrideSamples: sign, normalise, quantize into the input tensor
// (TinyMLKit, bit-identical to tinymlkit in Python) -> Invoke() (TensorFlow Lite Micro from the
// Chirale_TensorFLowLite library) -> #RESULT with the dequantized logits and the Invoke() time.
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. On your laptop run `tinymlkit demo` (or export your lab03 model), then copy build/demo/model_data.cc, build/demo/model_data.h and build/demo/model_settings.h into this sketch's folder. See hardware/nano33ble_sense_rev2/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"

#include <Arduino_BMI270_BMM150.h>
#include <Chirale_TensorFlowLite.h>
#include <TinyMLKit.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_motion_runtime.h>  // after the TensorFlow Lite Micro headers: it uses them

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";
// Worn on the right wrist: mirror into the left-wrist frame the model was trained in
// (model_settings.h, kChannelSign). On the left wrist set this to false.
constexpr bool kWornOnRightWrist = true;
constexpr uint32_t kRecordSamples = 500;     // RECORD: 10 s x 6 floats = 12 KB of RAM
static_assert(kChannelCount == 6, "the IMU gives ax, ay, az, wx, wy, wz");

alignas(16) uint8_t g_arena[kTensorArenaBytes];   // the tensor arena, sized by tinymlkit.tflm
float g_window[kWindowSamples * kChannelCount];   // ring buffer of the latest window
float g_record[kRecordSamples * kChannelCount];
tmk::MotionRuntime g_motion;

// One sample in the protocol's units (g, rad/s; the library reads deg/s).
bool read_imu(float* s) { return tmk::read_imu_g_rad_s(IMU, s); }

}  // namespace

void setup() {
  const bool imu_ok = IMU.begin() != 0;
  g_motion.begin(TMK_MOTION_SETTINGS_FROM_MODEL_SETTINGS(),
                 tmk::MotionBuffers{g_arena, kTensorArenaBytes, g_window, g_record, kRecordSamples},
                 tmk::MotionImu{imu_ok, read_imu,
                                "imu not found: no BMI270. A Rev1 board has an LSM9DS1: use "
                                "hardware/nano33ble_sense_rev1/motion_inference"},
                 kBoardId, kWornOnRightWrist);
}

void loop() { g_motion.poll(); }
