// motion_inference: classifies the shoulder exercises on a Seeed Studio XIAO ESP32S3 Sense
// (with an MPU-6050 on I2C, see ../README.md "Wiring") with
// the int8 model from tinymlkit.export, speaking hardware/PROTOCOL.md: INFO, START (samples and a
// #RESULT every kStrideSamples), STOP, INFER (the latest window), RECORD ms=<n>.
//
// Before building, copy the exported model here (see ../README.md, "motion_inference"):
//   tinymlkit demo        # or your lab03 export
//   cp build/demo/model_data.cc build/demo/model_data.h build/demo/model_settings.h  hardware/xiao_esp32s3_sense/motion_inference/
//
// Pipeline per sample: MPU-6050 (m/s^2 -> g, rad/s, as imu_capture) -> ring buffer of the latest
// kWindowSamples -> every kStrideSamples: sign, normalise, quantize into the input tensor
// (TinyMLKit, bit-identical to tinymlkit in Python) -> Invoke() (TensorFlow Lite Micro inside
// the esp32 core 3.x: esp-tflite-micro) -> #RESULT with the dequantized logits and the Invoke() time.
#if !__has_include("model_settings.h")
#error "model_settings.h, model_data.h and model_data.cc are missing. On your laptop run `tinymlkit demo` (or export your lab03 model), then copy build/demo/model_data.cc, build/demo/model_data.h and build/demo/model_settings.h into this sketch's folder. See hardware/xiao_esp32s3_sense/README.md."
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

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
// Worn on the right wrist: mirror into the left-wrist frame the model was trained in
// (model_settings.h, kChannelSign). On the left wrist set this to false.
constexpr bool kWornOnRightWrist = true;
constexpr uint32_t kRecordSamples = 500;     // RECORD: 10 s x 6 floats = 12 KB of RAM
const char* const kUnits[] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};
static_assert(kChannelCount == 6, "the IMU gives ax, ay, az, wx, wy, wz");

alignas(16) uint8_t g_arena[kTensorArenaBytes];   // the tensor arena, sized by tinymlkit.tflm
float g_window[kWindowSamples * kChannelCount];   // ring buffer of the latest window
float g_record[kRecordSamples * kChannelCount];
tflite::MicroMutableOpResolver<10> g_ops;
tflite::MicroInterpreter* g_interpreter = nullptr;
tmk::ImuModel g_model;
tmk::ImuApp g_app;
tmk::LineReader g_reader;
tmk::Ticker g_ticker;
bool g_imu_ok = false;

void write_serial(void*, const char* data, size_t len) { Serial.write(data, len); }

bool invoke(void*, uint32_t* invoke_us) {
  const uint32_t t0 = micros();
  const bool ok = g_interpreter->Invoke() == kTfLiteOk;
  *invoke_us = micros() - t0;
  return ok;
}

Adafruit_MPU6050 g_mpu;

bool begin_imu() {  // as imu_capture: +-4 g, +-500 deg/s, 21 Hz low-pass
  Wire.begin();     // SDA = D4 (GPIO5), SCL = D5 (GPIO6)
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

// Builds the interpreter; false (after an #ERR) when the model does not match its settings.
bool setup_model() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    g_app.send_error("model schema version differs from this TFLM: re-export the model");
    return false;
  }
  // The ops of tinymlkit.models.build_cnn1d (Conv1D = EXPAND_DIMS + CONV_2D + RESHAPE, global
  // average pooling = MEAN, Dense = FULLY_CONNECTED) and a few a student's variant may add.
  g_ops.AddConv2D();
  g_ops.AddDepthwiseConv2D();
  g_ops.AddExpandDims();
  g_ops.AddReshape();
  g_ops.AddMean();
  g_ops.AddFullyConnected();
  g_ops.AddMaxPool2D();
  g_ops.AddAveragePool2D();
  g_ops.AddSoftmax();
  g_ops.AddRelu();
  static tflite::MicroInterpreter interpreter(model, g_ops, g_arena, kTensorArenaBytes);
  g_interpreter = &interpreter;
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    g_app.send_error("AllocateTensors() failed: the tensor arena is too small or the model uses "
                     "an op this sketch does not add");
    return false;
  }
  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);
  if (input->type != kTfLiteInt8 || input->bytes != static_cast<size_t>(kInputElementCount) ||
      output->type != kTfLiteInt8 || output->bytes != static_cast<size_t>(kCategoryCount) ||
      input->params.zero_point != kInputZeroPoint || output->params.zero_point != kOutputZeroPoint) {
    g_app.send_error("model_data.cc and model_settings.h come from different exports: copy all "
                     "three files from one export");
    return false;
  }
  g_model = tmk::ImuModel{kWindowSamples, kStrideSamples,
                          tmk::Normalization{kWornOnRightWrist ? kChannelSign : nullptr,
                                             kChannelMean, kChannelStd, kChannelCount},
                          tmk::QuantParams{kInputScale, kInputZeroPoint},
                          tmk::QuantParams{kOutputScale, kOutputZeroPoint},
                          kCategoryLabels, kCategoryCount, input->data.int8, output->data.int8,
                          g_window, invoke, nullptr};
  return true;
}

}  // namespace

void setup() {
  Serial.begin(tmk::kBaudRate);  // USB CDC: needs "USB CDC On Boot: Enabled" (../README.md)
  for (const uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) {}
  const tmk::StreamInfo info{kBoardId, "imu", kSampleRateHz, kChannelNames, kUnits, kChannelCount};
  g_app.begin(info, write_serial, nullptr, g_record, kRecordSamples, nullptr);
  const bool model_ok = setup_model();
  if (model_ok && !g_app.begin(info, write_serial, nullptr, g_record, kRecordSamples, &g_model)) {
    g_app.send_error("model settings rejected (more than 32 labels?)");
  }
  g_imu_ok = begin_imu();
  g_app.send_header();
  if (model_ok) {
    char text[80];
    snprintf(text, sizeof(text), "model ready: arena %u of %u bytes used",
             static_cast<unsigned>(g_interpreter->arena_used_bytes()),
             static_cast<unsigned>(kTensorArenaBytes));
    Serial.print("# ");
    Serial.println(text);
  }
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
      g_app.on_sample(sample);  // fills the window; during a take also streams and classifies
    } else {
      g_app.on_sensor_error("imu read failed");
    }
  }
  g_app.on_samples_lost(g_ticker.take_skipped());
}
