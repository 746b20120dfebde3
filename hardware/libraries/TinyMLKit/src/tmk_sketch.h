// tmk_sketch.h: the board-independent setup() and loop() of the course's capture sketches, so each
// .ino keeps only its board's glue (issue #14):
//   begin_serial()       Serial at kBaudRate, waiting at most 3 s for the USB port (never forever)
//   write_serial()       the WriteFn every app writes protocol lines with
//   SketchImu            a board's IMU: did it start, how to read one sample, what to advise if not
//   ImuLoop              the 50 Hz loop: serial commands to an ImuApp, one sample when due, lost
//                        samples counted; used by ImuCaptureRuntime and tmk::MotionRuntime
//   ImuCaptureRuntime    the whole imu_capture sketch but the IMU glue
//   MicCaptureRuntime    the whole mic_capture sketch but the microphone glue (tmk::RecordFn)
//   CameraCaptureRuntime the whole image_capture sketch but the camera glue (tmk::CaptureFn)
//
// C++14 (the mbed_nano core's -std=gnu++14: no inline variables). Sketch-only and header-only, like tmk_motion_runtime.h and tmk_kws_runtime.h: it calls Arduino
// (Serial, millis, micros), which the library's host tests (tests/test_hardware.py) do not have;
// Arduino compiles a header only where a sketch includes it (Arduino.h is implicit in a sketch),
// and TinyMLKit.h does not include it. Compiled with every Nano sketch against the real
// arduino:mbed_nano core on each make test (tests/test_arduino_core.py).
#ifndef TINYMLKIT_SKETCH_H_
#define TINYMLKIT_SKETCH_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_camera_app.h"
#include "tmk_imu_app.h"
#include "tmk_mic_app.h"
#include "tmk_protocol.h"
#include "tmk_timing.h"

namespace tmk {

// The motion sketches' stream: 50 Hz (tinymlkit.datasets.load_motion()), six channels in the
// course dataset's units (hardware/PROTOCOL.md).
constexpr float kImuSampleRateHz = 50.0f;
constexpr size_t kImuChannelCount = 6;
constexpr const char* const kImuChannelNames[kImuChannelCount] = {"ax", "ay", "az", "wx", "wy", "wz"};
constexpr const char* const kImuUnits[kImuChannelCount] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};

// Serial at kBaudRate; waits for the host to open the USB port, but at most 3 s, so a kit on a
// power bank still starts.
inline void begin_serial() {
  Serial.begin(kBaudRate);
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
}

// WriteFn (tmk_imu_app.h) for the USB serial port.
inline void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

// The board's IMU glue: read fills ax, ay, az (g), wx, wy, wz (rad/s), as imu_capture sends them.
struct SketchImu {
  bool ok;                          // the IMU answered at start-up
  bool (*read)(float* sample);      // one sample; false on a failed read
  const char* not_found_advice;     // the #ERR line when !ok: which sketch or wiring to check
};

// One sample from an Arduino IMU library whose IMU object reads g and deg/s (Arduino_LSM9DS1's
// and Arduino_BMI270_BMM150's IMU: readAcceleration(x, y, z), readGyroscope(x, y, z)), in the
// protocol's units: ax, ay, az in g; wx, wy, wz in rad/s. False when the read failed.
template <typename ArduinoImu>
bool read_imu_g_rad_s(ArduinoImu& imu, float* sample) {
  constexpr float kRadPerDeg = 0.0174532925f;  // pi / 180
  float gx, gy, gz;
  if (!imu.readAcceleration(sample[0], sample[1], sample[2]) || !imu.readGyroscope(gx, gy, gz)) {
    return false;
  }
  sample[3] = gx * kRadPerDeg;
  sample[4] = gy * kRadPerDeg;
  sample[5] = gz * kRadPerDeg;
  return true;
}

// Serial commands to an ImuApp and one IMU sample whenever the ticker is due.
class ImuLoop {
 public:
  void start(ImuApp* app, const SketchImu& imu, float sample_rate_hz) {
    app_ = app;
    imu_ = imu;
    ticker_.start(micros(), period_us(sample_rate_hz));
  }

  void poll() {
    while (Serial.available() > 0) {
      if (reader_.push(static_cast<char>(Serial.read()))) {
        app_->on_line(reader_.line(), reader_.overflowed());
      }
    }
    if (ticker_.due(micros())) {
      float sample[kImuChannelCount];
      if (!imu_.ok) {
        if (app_->in_take()) app_->on_sensor_error("imu not found");
      } else if (imu_.read(sample)) {
        app_->on_sample(sample);  // streams and records; with a model it also classifies
      } else {
        app_->on_sensor_error("imu read failed");
      }
    }
    app_->on_samples_lost(ticker_.take_skipped());
  }

 private:
  ImuApp* app_ = nullptr;
  SketchImu imu_{};
  LineReader reader_;
  Ticker ticker_;
};

// imu_capture: INFO, START, STOP and RECORD ms=<n> over the 50 Hz IMU stream.
class ImuCaptureRuntime {
 public:
  // board_id: a tinymlkit/data/boards.toml profile id. record: record_samples * 6 floats for
  // RECORD (1500 samples: 30 s, 36 KB).
  void begin(const char* board_id, float* record, size_t record_samples, const SketchImu& imu) {
    begin_serial();
    info_ = StreamInfo{board_id, "imu", kImuSampleRateHz, kImuChannelNames, kImuUnits, kImuChannelCount};
    app_.begin(info_, write_serial, nullptr, record, record_samples, nullptr);
    app_.send_header();
    if (!imu.ok) app_.send_error(imu.not_found_advice);
    loop_.start(&app_, imu, kImuSampleRateHz);
  }

  void poll() { loop_.poll(); }

 private:
  StreamInfo info_{};
  ImuApp app_;
  ImuLoop loop_;
};

// mic_capture: INFO and RECORD ms=<n> (record into RAM, then send); START and INFER refused.
class MicCaptureRuntime {
 public:
  // board_id: a tinymlkit/data/boards.toml profile id. storage: capacity samples (16,000: 1 s,
  // 32 KB). record: the board's microphone glue. mic_ok: the microphone started.
  void begin(const char* board_id, uint32_t rate_hz, int16_t* storage, uint32_t capacity,
             RecordFn record, bool mic_ok) {
    begin_serial();
    app_.begin(board_id, rate_hz, write_serial, nullptr, storage, capacity, record, nullptr);
    app_.set_mic_ok(mic_ok);
    app_.send_header();
    if (!mic_ok) app_.send_error("microphone not found");
  }

  void poll() {
    while (Serial.available() > 0) {
      if (reader_.push(static_cast<char>(Serial.read()))) app_.on_line(reader_.line(), reader_.overflowed());
    }
  }

 private:
  MicApp app_;
  LineReader reader_;
};

// image_capture: INFO and SNAP (a binary frame between #FRAME and #ENDFRAME); START, RECORD and
// INFER refused.
class CameraCaptureRuntime {
 public:
  // board_id: a tinymlkit/data/boards.toml profile id. frame: width * height bytes (QQVGA
  // 160 x 120: 19,200 bytes). capture: the board's camera glue. camera_ok: the camera started.
  void begin(const char* board_id, uint32_t width, uint32_t height, uint32_t fps, uint8_t* frame,
             CaptureFn capture, bool camera_ok) {
    begin_serial();
    ok_ = app_.begin(board_id, width, height, fps, write_serial, nullptr, frame, capture, nullptr);
    app_.set_camera_ok(camera_ok);
    if (!ok_) {
      Serial.println("#ERR image_capture: bad frame settings in the sketch");
      return;
    }
    app_.send_header();
    if (!camera_ok) app_.send_error("camera not found");
  }

  void poll() {
    while (Serial.available() > 0) {
      if (reader_.push(static_cast<char>(Serial.read())) && ok_) app_.on_line(reader_.line(), reader_.overflowed());
    }
  }

 private:
  CameraApp app_;
  LineReader reader_;
  bool ok_ = false;
};

}  // namespace tmk

#endif  // TINYMLKIT_SKETCH_H_
