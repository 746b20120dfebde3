// anomaly_inference: tells normal movement from anything else (an exercise it never learnt, a
// sensor fault) on an Arduino Nano 33 BLE Sense (Rev1), with the anomaly detector from `tinymlkit
// anomaly` (tinymlkit.anomaly), speaking hardware/PROTOCOL.md: INFO, START (samples and a #RESULT
// every kStrideSamples), STOP, INFER (the latest window), RECORD ms=<n>. Each #RESULT is
//   #RESULT n=<counter> label=normal|anomaly logits=<autoencoder score>,<K-means score> us=<Invoke µs>
// with label=anomaly when the autoencoder score is above kAutoencoderThreshold.
//
// Before building, copy the exported detector here (see ../README.md, "anomaly_inference"):
//   tinymlkit anomaly     # or your lab07 export; writes build/anomaly/
//   cp build/anomaly/model_data.cc build/anomaly/model_data.h build/anomaly/model_settings.h  hardware/nano33ble_sense_rev1/anomaly_inference/
//
// Everything but the IMU glue is tmk::AnomalyRuntime (TinyMLKit's tmk_anomaly_runtime.h, shared by
// the three kits). Pipeline per sample: LSM9DS1 (g, deg/s -> rad/s, as imu_capture) -> ring buffer
// of the latest kWindowSamples -> every kStrideSamples: sign, window statistics (mean, std, min,
// max, mean |diff| per channel), standardise -> K-means distance to the nearest centroid, and
// quantize into the input tensor -> Invoke() of the autoencoder (TensorFlow Lite Micro from the
// Chirale_TensorFLowLite library) -> reconstruction error (TinyMLKit's tmk_anomaly.h, checked
// against tinymlkit in Python) -> #RESULT.
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. On your laptop run `tinymlkit anomaly` (or export your lab07 detector), then copy build/anomaly/model_data.cc, build/anomaly/model_data.h and build/anomaly/model_settings.h into this sketch's folder. See hardware/nano33ble_sense_rev1/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"

#include <Arduino_LSM9DS1.h>
#include <Chirale_TensorFlowLite.h>
#include <TinyMLKit.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_anomaly_runtime.h>  // after the TensorFlow Lite Micro headers and model_settings.h

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev1";
// Worn on the right wrist: mirror into the left-wrist frame the detector was trained in
// (model_settings.h, kChannelSign). On the left wrist set this to false.
constexpr bool kWornOnRightWrist = true;
constexpr uint32_t kRecordSamples = 500;     // RECORD: 10 s x 6 floats = 12 KB of RAM
static_assert(kChannelCount == 6, "the IMU gives ax, ay, az, wx, wy, wz");

alignas(16) uint8_t g_arena[kTensorArenaBytes];   // the tensor arena, sized by tinymlkit.tflm
float g_window[kWindowSamples * kChannelCount];   // ring buffer of the latest window
float g_record[kRecordSamples * kChannelCount];
tmk::AnomalyRuntime g_anomaly;

// One sample in the protocol's units (g, rad/s; the library reads deg/s).
bool read_imu(float* s) { return tmk::read_imu_g_rad_s(IMU, s); }

}  // namespace

void setup() {
  const bool imu_ok = IMU.begin() != 0;
  g_anomaly.begin(TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS(),
                  tmk::AnomalyBuffers{g_arena, kTensorArenaBytes, g_window, g_record, kRecordSamples},
                  tmk::SketchImu{imu_ok, read_imu,
                                  "imu not found: no LSM9DS1. A Rev2 board has a BMI270: use "
                                  "hardware/nano33ble_sense_rev2/anomaly_inference"},
                  kBoardId, kWornOnRightWrist);
}

void loop() { g_anomaly.poll(); }
