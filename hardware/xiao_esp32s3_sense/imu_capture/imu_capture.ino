// imu_capture: streams an MPU-6050 wired to a Seeed Studio XIAO ESP32S3 Sense at 50 Hz, the course
// dataset's rate, in the units of the dataset (ax, ay, az in g; wx, wy, wz in rad/s), speaking the
// serial protocol of hardware/PROTOCOL.md: INFO, START, STOP, RECORD ms=<n> (up to 30 s in RAM).
//
// The XIAO ESP32S3 Sense has NO IMU on board: wire an MPU-6050 breakout (e.g. GY-521) to the I2C
// pins, ../README.md "Wiring": VCC-3V3, GND-GND, SDA-D4 (GPIO5), SCL-D5 (GPIO6).
// Sensor: InvenSense MPU-6050 through Adafruit MPU6050 2.2.6. This sketch sets +-4 g (8192 LSB/g),
// +-500 deg/s (65.5 LSB/(deg/s)) and the 21 Hz low-pass filter (anti-aliasing before 50 Hz
// sampling) (MPU-6000/MPU-6050 Product Specification PS-MPU-6000A-00, sections 6.1-6.2 and
// register 26 DLPF_CFG). The library reports m/s^2 and rad/s (Adafruit Unified Sensor units):
// this sketch divides by standard gravity, 9.80665 m/s^2, to send g.
// Protocol, the 50 Hz loop and RECORD: tmk::ImuCaptureRuntime (TinyMLKit's tmk_sketch.h).
#include <Adafruit_MPU6050.h>
#include <Adafruit_Sensor.h>
#include <TinyMLKit.h>
#include <tmk_sketch.h>  // setup() and loop() of every IMU sketch: only the IMU glue is here
#include <Wire.h>

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";  // a profile id of tinymlkit/data/boards.toml
constexpr uint32_t kRecordSamples = 1500;          // RECORD: 30 s x 6 floats = 36 KB of RAM

Adafruit_MPU6050 g_mpu;
float g_record[kRecordSamples * tmk::kImuChannelCount];
tmk::ImuCaptureRuntime g_capture;

bool begin_imu() {
  Wire.begin();  // XIAO ESP32S3: SDA = D4 (GPIO5), SCL = D5 (GPIO6)
  // 0x68 with the AD0 pin low (GY-521 default), 0x69 with AD0 high.
  if (!g_mpu.begin(0x68, &Wire) && !g_mpu.begin(0x69, &Wire)) return false;
  g_mpu.setAccelerometerRange(MPU6050_RANGE_4_G);
  g_mpu.setGyroRange(MPU6050_RANGE_500_DEG);
  g_mpu.setFilterBandwidth(MPU6050_BAND_21_HZ);
  return true;
}

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

// The USB serial port needs "USB CDC On Boot: Enabled", the core's default for this board (../README.md).
void setup() {
  const bool imu_ok = begin_imu();
  g_capture.begin(kBoardId, g_record, kRecordSamples,
                  tmk::SketchImu{imu_ok, read_imu,
                                 "imu not found: no MPU-6050 at I2C 0x68 or 0x69. Check the wiring: "
                                 "VCC-3V3, GND-GND, SDA-D4, SCL-D5"});
}

void loop() { g_capture.poll(); }
