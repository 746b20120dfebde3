// image_capture: the camera of a Seeed Studio XIAO ESP32S3 Sense (OV2640 or OV3660 on the Sense
// board) as 160x120 8-bit grayscale frames per hardware/PROTOCOL.md ("Camera frames"): SNAP sends
// one frame as bytes between a #FRAME line (size, CRC-32) and #ENDFRAME; INFO answers the header
// (sensor=camera width=160 height=120 format=gray8); START, RECORD and INFER are refused. Take
// labelled pictures with tinymlkit.capture.record_images (lab 06).
//
// Camera: the esp32 core's esp32-camera driver (esp_camera.h), PIXFORMAT_GRAYSCALE at
// FRAMESIZE_QQVGA, its frame buffer in PSRAM (PSRAM=opi in the profile). Pins: the Sense board's
// camera connector, as CAMERA_MODEL_XIAO_ESP32S3 in the core's CameraWebServer example
// (camera_pins.h). Not compiled here (no esp32 core offline): ../README.md, "What was compiled".
// The protocol side is tmk::CameraApp, setup() and loop() tmk::CameraCaptureRuntime (TinyMLKit's
// tmk_sketch.h); this file is the camera glue.
#include <esp_camera.h>
#include <string.h>
#include <TinyMLKit.h>
#include <tmk_sketch.h>  // setup() and loop() of every capture sketch: only the camera glue is here

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr uint32_t kWidth = 160, kHeight = 120;  // FRAMESIZE_QQVGA
constexpr uint32_t kFps = 5;

uint8_t g_frame[kWidth * kHeight];  // 19,200 bytes of internal RAM
tmk::CameraCaptureRuntime g_capture;

bool begin_camera() {
  camera_config_t config = {};
  config.pin_pwdn = -1;
  config.pin_reset = -1;
  config.pin_xclk = 10;
  config.pin_sccb_sda = 40;
  config.pin_sccb_scl = 39;
  config.pin_d7 = 48;  // Y9
  config.pin_d6 = 11;
  config.pin_d5 = 12;
  config.pin_d4 = 14;
  config.pin_d3 = 16;
  config.pin_d2 = 18;
  config.pin_d1 = 17;
  config.pin_d0 = 15;  // Y2
  config.pin_vsync = 38;
  config.pin_href = 47;
  config.pin_pclk = 13;
  config.xclk_freq_hz = 20000000;
  config.ledc_timer = LEDC_TIMER_0;
  config.ledc_channel = LEDC_CHANNEL_0;
  config.pixel_format = PIXFORMAT_GRAYSCALE;
  config.frame_size = FRAMESIZE_QQVGA;
  config.jpeg_quality = 12;
  config.fb_count = 1;
  config.fb_location = psramFound() ? CAMERA_FB_IN_PSRAM : CAMERA_FB_IN_DRAM;
  config.grab_mode = CAMERA_GRAB_LATEST;
  return esp_camera_init(&config) == ESP_OK;
}

// tmk::CaptureFn: one grayscale frame, copied out of the driver's buffer.
bool read_frame(void*, uint8_t* frame) {
  camera_fb_t* fb = esp_camera_fb_get();
  if (fb == nullptr) return false;
  const bool ok = fb->format == PIXFORMAT_GRAYSCALE && fb->width == kWidth && fb->height == kHeight &&
                  fb->len == kWidth * kHeight;
  if (ok) memcpy(frame, fb->buf, kWidth * kHeight);
  esp_camera_fb_return(fb);
  return ok;
}

}  // namespace

// The USB serial port needs "USB CDC On Boot: Enabled", the core's default for this board (../README.md).
void setup() {
  const bool camera_ok = begin_camera();
  g_capture.begin(kBoardId, kWidth, kHeight, kFps, g_frame, read_frame, camera_ok);
}

void loop() { g_capture.poll(); }
