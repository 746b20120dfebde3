// tmk_xiao_camera.h: the camera of the Seeed Studio XIAO ESP32S3 Sense (OV2640 or OV3660 on the
// Sense board) as 160x120 8-bit grayscale frames, shared by the XIAO's image_capture and
// image_inference sketches (issue #15), so the pins and driver settings exist once.
//
// It uses the esp32 core's esp32-camera driver (esp_camera.h, comes with the core 3.x):
// PIXFORMAT_GRAYSCALE at FRAMESIZE_QQVGA, one frame buffer, in PSRAM when the board has it
// (PSRAM=opi in the sketches' profiles), the latest frame on every read. The pins are the Sense
// board's camera connector, as CAMERA_MODEL_XIAO_ESP32S3 in the core's CameraWebServer example
// (camera_pins.h) and Seeed's wiki ("Camera usage", XIAO ESP32S3 Sense).
//
// Sketch-only and header-only, XIAO ESP32S3 Sense only (not in TinyMLKit.h): a sketch includes
// the core's <esp_camera.h> before it (the library itself includes only the C library). Not compiled here
// (no esp32 core offline): hardware/README.md, "What was compiled".
#ifndef TINYMLKIT_XIAO_CAMERA_H_
#define TINYMLKIT_XIAO_CAMERA_H_

#if !__has_include(<esp_camera.h>)
#error "esp_camera.h not found: tmk_xiao_camera.h is for the XIAO ESP32S3 Sense with the esp32 core 3.x (board esp32:esp32:XIAO_ESP32S3, see hardware/xiao_esp32s3_sense/README.md)."
#endif

#include <stdint.h>
#include <string.h>

namespace tmk {

class XiaoCamera {
 public:
  static constexpr uint32_t kWidth = 160;   // FRAMESIZE_QQVGA
  static constexpr uint32_t kHeight = 120;
  static constexpr uint32_t kFrameBytes = kWidth * kHeight;  // 19,200 bytes, 8-bit grayscale

  // Starts the camera; false if the driver found no sensor (the ribbon cable, or the Sense board
  // not clipped on). Frame buffer in PSRAM when there is PSRAM, else in internal RAM.
  static bool begin() {
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
    config.xclk_freq_hz = 20000000;  // 20 MHz, as the core's example
    config.ledc_timer = LEDC_TIMER_0;
    config.ledc_channel = LEDC_CHANNEL_0;
    config.pixel_format = PIXFORMAT_GRAYSCALE;
    config.frame_size = FRAMESIZE_QQVGA;
    config.jpeg_quality = 12;  // unused for grayscale; the driver reads it
    config.fb_count = 1;
    config.fb_location = psramFound() ? CAMERA_FB_IN_PSRAM : CAMERA_FB_IN_DRAM;
    config.grab_mode = CAMERA_GRAB_LATEST;
    return esp_camera_init(&config) == ESP_OK;
  }

  // tmk::CaptureFn (tmk_camera_app.h): the latest frame copied into frame (kFrameBytes bytes).
  // False when the driver gave no frame or one of another format or size (then frame is unchanged).
  static bool read(void*, uint8_t* frame) {
    camera_fb_t* fb = esp_camera_fb_get();
    if (fb == nullptr) return false;
    const bool ok = fb->format == PIXFORMAT_GRAYSCALE && fb->width == kWidth && fb->height == kHeight &&
                    fb->len == kFrameBytes;
    if (ok) memcpy(frame, fb->buf, kFrameBytes);
    esp_camera_fb_return(fb);
    return ok;
  }
};

}  // namespace tmk

#endif  // TINYMLKIT_XIAO_CAMERA_H_
