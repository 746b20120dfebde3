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
// Protocol, timing and buffers: the TinyMLKit library (hardware/libraries/TinyMLKit).
#include <Adafruit_MPU6050.h>
#include <Adafruit_Sensor.h>
#include <TinyMLKit.h>
#include <Wire.h>

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";  // a profile id of tinymlkit/data/boards.toml
constexpr float kSampleRateHz = 50.0f;             // tinymlkit.datasets.load_motion(): 50 Hz
constexpr uint32_t kRecordSamples = 1500;          // RECORD: 30 s x 6 floats = 36 KB of RAM
constexpr size_t kChannelCount = 6;
const char* const kChannels[kChannelCount] = {"ax", "ay", "az", "wx", "wy", "wz"};
const char* const kUnits[kChannelCount] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};

Adafruit_MPU6050 g_mpu;
float g_record[kRecordSamples * kChannelCount];
tmk::ImuApp g_app;
tmk::LineReader g_reader;
tmk::Ticker g_ticker;
bool g_imu_ok = false;

void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

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

void setup() {
  Serial.begin(tmk::kBaudRate);  // USB CDC: needs "USB CDC On Boot: Enabled" (../README.md)
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  const tmk::StreamInfo info{kBoardId, "imu", kSampleRateHz, kChannels, kUnits, kChannelCount};
  g_app.begin(info, write_serial, nullptr, g_record, kRecordSamples, nullptr);
  g_imu_ok = begin_imu();
  g_app.send_header();
  if (!g_imu_ok) {
    g_app.send_error("imu not found: no MPU-6050 at I2C 0x68 or 0x69. Check the wiring: "
                     "VCC-3V3, GND-GND, SDA-D4, SCL-D5");
  }
  g_ticker.start(micros(), tmk::period_us(kSampleRateHz));
}

void loop() {
  while (Serial.available() > 0) {
    if (g_reader.push(static_cast<char>(Serial.read()))) {
      g_app.on_line(g_reader.line(), g_reader.overflowed());
    }
  }
  if (g_ticker.due(micros())) {
    float sample[kChannelCount];
    if (!g_imu_ok) {
      if (g_app.in_take()) g_app.on_sensor_error("imu not found");
    } else if (read_imu(sample)) {
      g_app.on_sample(sample);
    } else {
      g_app.on_sensor_error("imu read failed");
    }
  }
  g_app.on_samples_lost(g_ticker.take_skipped());
}
