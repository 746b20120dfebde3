// imu_capture: streams the IMU of an Arduino Nano 33 BLE Sense (Rev1) at 50 Hz, the course
// dataset's rate, in the units of the dataset (ax, ay, az in g; wx, wy, wz in rad/s), speaking the
// serial protocol of hardware/PROTOCOL.md: INFO, START, STOP, RECORD ms=<n> (up to 30 s in RAM).
// Record with `tinymlkit capture` (lab 04) or type the commands in the Serial Monitor (115200).
//
// Sensor: ST LSM9DS1 through Arduino_LSM9DS1 1.1.1, which runs the accelerometer at +-4 g and the
// gyroscope at +-2000 deg/s, both at 119 Hz, and returns g and deg/s (library source
// LSM9DS1.cpp; LSM9DS1 datasheet, ST DocID025715, table 3: 0.122 mg/LSB, 70 mdps/LSB).
// Every 20 ms this sketch reads the latest value and turns deg/s into rad/s.
// The protocol, ring buffer and timing live in the TinyMLKit library (hardware/libraries/TinyMLKit),
// tested on a laptop by tests/test_hardware.py. Build and upload: ../README.md.
#include <Arduino_LSM9DS1.h>
#include <TinyMLKit.h>

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev1";  // a profile id of tinymlkit/data/boards.toml
constexpr float kSampleRateHz = 50.0f;               // tinymlkit.datasets.load_motion(): 50 Hz
constexpr uint32_t kRecordSamples = 1500;            // RECORD: 30 s x 6 floats = 36 KB of RAM
constexpr float kRadPerDeg = 0.0174532925f;          // pi / 180
constexpr size_t kChannelCount = 6;
const char* const kChannels[kChannelCount] = {"ax", "ay", "az", "wx", "wy", "wz"};
const char* const kUnits[kChannelCount] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};

float g_record[kRecordSamples * kChannelCount];
tmk::ImuApp g_app;
tmk::LineReader g_reader;
tmk::Ticker g_ticker;
bool g_imu_ok = false;

void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

// One sample in the protocol's units; false when the I2C read failed.
bool read_imu(float* s) {
  float gx, gy, gz;
  if (!IMU.readAcceleration(s[0], s[1], s[2]) || !IMU.readGyroscope(gx, gy, gz)) return false;
  s[3] = gx * kRadPerDeg;
  s[4] = gy * kRadPerDeg;
  s[5] = gz * kRadPerDeg;
  return true;
}

}  // namespace

void setup() {
  Serial.begin(tmk::kBaudRate);
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}  // wait for USB, not forever
  const tmk::StreamInfo info{kBoardId, "imu", kSampleRateHz, kChannels, kUnits, kChannelCount};
  g_app.begin(info, write_serial, nullptr, g_record, kRecordSamples, nullptr);
  g_imu_ok = IMU.begin();
  g_app.send_header();
  if (!g_imu_ok) {
    g_app.send_error("imu not found: no LSM9DS1. A Rev2 board has a BMI270: use "
                     "hardware/nano33ble_sense_rev2/imu_capture");
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
