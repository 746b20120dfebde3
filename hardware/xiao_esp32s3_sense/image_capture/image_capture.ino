// image_capture: the camera of a Seeed Studio XIAO ESP32S3 Sense (OV2640 or OV3660 on the Sense
// board) as 160x120 8-bit grayscale frames per hardware/PROTOCOL.md ("Camera frames"): SNAP sends
// one frame as bytes between a #FRAME line (size, CRC-32) and #ENDFRAME; INFO answers the header
// (sensor=camera width=160 height=120 format=gray8); START, RECORD and INFER are refused. Take
// labelled pictures with tinymlkit.capture.record_images (lab 06).
//
// Camera: tmk::XiaoCamera (TinyMLKit's tmk_xiao_camera.h, shared with image_inference): the esp32
// core's esp32-camera driver, PIXFORMAT_GRAYSCALE at FRAMESIZE_QQVGA, its frame buffer in PSRAM
// (PSRAM=opi in the profile), the Sense board's camera pins. Not compiled here (no esp32 core
// offline): ../README.md, "What was compiled". The protocol side is tmk::CameraApp, setup() and
// loop() tmk::CameraCaptureRuntime (TinyMLKit's tmk_sketch.h); this file is the board's glue.
#include <esp_camera.h>  // the esp32 core's camera driver, for tmk_xiao_camera.h
#include <TinyMLKit.h>
#include <tmk_sketch.h>        // setup() and loop() of every capture sketch
#include <tmk_xiao_camera.h>   // the Sense board's camera

namespace {

constexpr char kBoardId[] = "xiao_esp32s3_sense";
constexpr uint32_t kFps = 5;

uint8_t g_frame[tmk::XiaoCamera::kFrameBytes];  // 19,200 bytes of internal RAM
tmk::CameraCaptureRuntime g_capture;

}  // namespace

// The USB serial port needs "USB CDC On Boot: Enabled", the core's default for this board (../README.md).
void setup() {
  const bool camera_ok = tmk::XiaoCamera::begin();
  g_capture.begin(kBoardId, tmk::XiaoCamera::kWidth, tmk::XiaoCamera::kHeight, kFps, g_frame,
                  tmk::XiaoCamera::read, camera_ok);
}

void loop() { g_capture.poll(); }
