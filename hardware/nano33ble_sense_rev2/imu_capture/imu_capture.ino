// imu_capture: streams the IMU of an Arduino Nano 33 BLE Sense Rev2 at 50 Hz, the course
// dataset's rate, in the units of the dataset (ax, ay, az in g; wx, wy, wz in rad/s), speaking the
// serial protocol of hardware/PROTOCOL.md: INFO, START, STOP, RECORD ms=<n> (up to 30 s in RAM).
// Record with `tinymlkit capture` (lab 04) or type the commands in the Serial Monitor (115200).
//
// Sensor: Bosch BMI270 through Arduino_BMI270_BMM150 1.2.1, which runs the accelerometer at
// +-4 g and the gyroscope at +-2000 deg/s, both at 100 Hz, and returns g and deg/s (library
// source BMI270.cpp: 8192 LSB/g and 16.384 LSB/(deg/s), the sensitivities of those ranges in the
// Bosch BMI270 datasheet, BST-BMI270-DS000). On the Nano 33 BLE the library also turns the
// chip's axes (x = -y_chip, y = -x_chip): check your axes with gravity, ../README.md "Axes".
// Every 20 ms this sketch reads the latest value and turns deg/s into rad/s.
// The protocol, the 50 Hz loop and RECORD live in the TinyMLKit library (hardware/libraries/TinyMLKit:
// tmk::ImuCaptureRuntime in tmk_sketch.h; the protocol tested on a laptop by tests/test_hardware.py).
// Build and upload: ../README.md.
#include <Arduino_BMI270_BMM150.h>
#include <TinyMLKit.h>
#include <tmk_sketch.h>  // setup() and loop() of every IMU sketch: only the IMU glue is here

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev2";  // a profile id of tinymlkit/data/boards.toml
constexpr uint32_t kRecordSamples = 1500;            // RECORD: 30 s x 6 floats = 36 KB of RAM

float g_record[kRecordSamples * tmk::kImuChannelCount];
tmk::ImuCaptureRuntime g_capture;

// One sample in the protocol's units (g, rad/s; the library reads deg/s).
bool read_imu(float* s) { return tmk::read_imu_g_rad_s(IMU, s); }

}  // namespace

void setup() {
  const bool imu_ok = IMU.begin() != 0;
  g_capture.begin(kBoardId, g_record, kRecordSamples,
                  tmk::SketchImu{imu_ok, read_imu,
                                 "imu not found: no BMI270. A Rev1 board has an LSM9DS1: use "
                                 "hardware/nano33ble_sense_rev1/imu_capture"});
}

void loop() { g_capture.poll(); }
