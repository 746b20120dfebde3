// image_capture: the OV7675 camera of the Tiny Machine Learning Kit's shield on an Arduino Nano 33 BLE Sense (Rev1),
// as 160x120 8-bit grayscale frames per hardware/PROTOCOL.md ("Camera frames"): SNAP sends one
// frame as bytes between a #FRAME line (size, CRC-32) and #ENDFRAME; INFO answers the header
// (sensor=camera width=160 height=120 format=gray8); START, RECORD and INFER are refused. Take
// labelled pictures with tinymlkit.capture.record_images (lab 06).
//
// Camera: OmniVision OV7675 (the shield's camera; the library's OV7670 driver runs it), read with
// Arduino_OV767X 0.0.2: Camera.begin(QQVGA, GRAYSCALE, 1 fps) and Camera.readFrame() fill the
// 19,200-byte frame (the library's "Capture images" example does the same). The protocol side is
// tmk::CameraApp, setup() and loop() tmk::CameraCaptureRuntime (TinyMLKit's tmk_sketch.h); this
// file is the camera glue. Build and upload: ../README.md.
#include <Arduino_OV767X.h>
#include <TinyMLKit.h>
#include <tmk_sketch.h>  // setup() and loop() of every capture sketch: only the camera glue is here

namespace {

constexpr char kBoardId[] = "nano33ble_sense_rev1";
constexpr uint32_t kWidth = 160, kHeight = 120;  // QQVGA
constexpr uint32_t kFps = 1;                      // Camera.begin's slowest rate: the longest exposure

uint8_t g_frame[kWidth * kHeight];  // 19,200 bytes of RAM
tmk::CameraCaptureRuntime g_capture;

// tmk::CaptureFn: one grayscale frame from the camera.
bool read_frame(void*, uint8_t* frame) {
  Camera.readFrame(frame);
  return true;
}

}  // namespace

void setup() {
  const bool camera_ok = Camera.begin(QQVGA, GRAYSCALE, kFps) != 0;
  g_capture.begin(kBoardId, kWidth, kHeight, kFps, g_frame, read_frame, camera_ok);
}

void loop() { g_capture.poll(); }
