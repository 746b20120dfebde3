// anomaly_inference: tells normal movement from anything else (an exercise it never learnt, a
// sensor fault) on a Seeed Studio XIAO ESP32S3 Sense (with an MPU-6050 on I2C, see ../README.md
// "Wiring"), with the anomaly detector from `tinymlkit anomaly` (tinymlkit.anomaly), speaking
// hardware/PROTOCOL.md: INFO, START (samples and a #RESULT every kStrideSamples), STOP, INFER (the
// latest window), RECORD ms=<n>. Each #RESULT is
//   #RESULT n=<counter> label=normal|anomaly logits=<autoencoder score>,<K-means score> us=<Invoke µs>
// with label=anomaly when the autoencoder score is above kAutoencoderThreshold.
//
// Before building, copy the exported detector here (see ../README.md, "anomaly_inference"):
//   tinymlkit anomaly     # or your lab07 export; writes build/anomaly/
//   cp build/anomaly/model_data.cc build/anomaly/model_data.h build/anomaly/model_settings.h  hardware/xiao_esp32s3_sense/anomaly_inference/
//
// Everything but the IMU glue is tmk::AnomalyRuntime (TinyMLKit's tmk_anomaly_runtime.h, shared by
// the three kits). Pipeline per sample: MPU-6050 (m/s^2 -> g, rad/s, as imu_capture) -> ring buffer
// of the latest kWindowSamples -> every kStrideSamples: sign, window statistics (mean, std, min,
// max, mean |diff| per channel), standardise -> K-means distance to the nearest centroid, and
// quantize into the input tensor -> Invoke() of the autoencoder (TensorFlow Lite Micro inside the
// esp32 core 3.x: esp-tflite-micro) -> reconstruction error (TinyMLKit's tmk_anomaly.h, checked
// against tinymlkit in Python) -> #RESULT.
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. On your laptop run `tinymlkit anomaly` (or export your lab07 detector), then copy build/anomaly/model_data.cc, build/anomaly/model_data.h and build/anomaly/model_settings.h into this sketch's folder. See hardware/xiao_esp32s3_sense/README.md."
#endif
#include "model_data.h"
#include "model_settings.h"

#include <Adafruit_MPU6050.h>
#include <Adafruit_Sensor.h>
#include <Wire.h>
#include <TinyMLKit.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include <tmk_anomaly_runtime.h>  // after the TensorFlow Lite Micro headers and model_settings.h

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
// Worn on the right wrist: mirror into the left-wrist frame the detector was trained in
// (model_settings.h, kChannelSign). On the left wrist set this to false.
constexpr bool kWornOnRightWrist = true;
constexpr uint32_t kRecordSamples = 500;     // RECORD: 10 s x 6 floats = 12 KB of RAM
static_assert(kChannelCount == 6, "the IMU gives ax, ay, az, wx, wy, wz");

alignas(16) uint8_t g_arena[kTensorArenaBytes];   // the tensor arena, sized by tinymlkit.tflm
float g_window[kWindowSamples * kChannelCount];   // ring buffer of the latest window
float g_record[kRecordSamples * kChannelCount];
tmk::AnomalyRuntime g_anomaly;
Adafruit_MPU6050 g_mpu;

bool begin_imu() {  // as imu_capture: +-4 g, +-500 deg/s, 21 Hz low-pass
  Wire.begin();     // SDA = D4 (GPIO5), SCL = D5 (GPIO6)
  if (!g_mpu.begin(0x68, &Wire) && !g_mpu.begin(0x69, &Wire)) return false;
  g_mpu.setAccelerometerRange(MPU6050_RANGE_4_G);
  g_mpu.setGyroRange(MPU6050_RANGE_500_DEG);
  g_mpu.setFilterBandwidth(MPU6050_BAND_21_HZ);
  return true;
}

// One sample as imu_capture sends it: g and rad/s.
bool read_imu(float* s) {
  sensors_event_t accel, gyro, temp;
  if (!g_mpu.getEvent(&accel, &gyro, &temp)) return false;
  s[0] = accel.acceleration.x / SENSORS_GRAVITY_STANDARD;  // m/s^2 -> g
  s[1] = accel.acceleration.y / SENSORS_GRAVITY_STANDARD;
  s[2] = accel.acceleration.z / SENSORS_GRAVITY_STANDARD;
  s[3] = gyro.gyro.x;  // already rad/s
  s[4] = gyro.gyro.y;
  s[5] = gyro.gyro.z;
  return true;
}

}  // namespace

void setup() {
  const bool imu_ok = begin_imu();
  g_anomaly.begin(TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS(),
                  tmk::AnomalyBuffers{g_arena, kTensorArenaBytes, g_window, g_record, kRecordSamples},
                  tmk::SketchImu{imu_ok, read_imu,
                                  "imu not found: no MPU-6050 at I2C 0x68 or 0x69. Check the wiring: "
                                  "VCC-3V3, GND-GND, SDA-D4, SCL-D5"},
                  kBoardId, kWornOnRightWrist);
}

void loop() { g_anomaly.poll(); }
