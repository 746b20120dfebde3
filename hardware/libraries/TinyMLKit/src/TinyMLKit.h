// TinyMLKit: the portable parts of the TinyML Lab Kit sketches (hardware/libraries/TinyMLKit).
//
// Plain C++17: no Arduino headers, no heap, every buffer is the caller's. The same files compile
// on a laptop (tests/test_hardware.py builds them with g++ and arm-none-eabi-g++) and on the kits.
//
//   tmk_ring_buffer.h  SampleRing: the latest samples of a multi-channel sensor, window copy-out
//   tmk_preprocess.h   sign, normalise, quantize to int8 exactly as tinymlkit (Python) does
//   tmk_protocol.h     the serial protocol of hardware/PROTOCOL.md: format lines, parse commands
//   tmk_timing.h       Ticker: a fixed sample rate from a microsecond clock
//   tmk_imu_app.h      ImuApp: the whole command/stream/record/classify loop of an IMU sketch
//   tmk_mic_app.h      MicApp: the protocol side of a microphone capture sketch
//   tmk_camera_app.h   CameraApp: the protocol side of a camera capture sketch (SNAP, binary frames)
//   tmk_image.h        camera frame -> centre crop -> block-mean downsample -> int8, as tinymlkit
//   tmk_kws.h          keyword spotting: frontend features to int8, integer softmax scores,
//                      KeywordRecognizer (averaging, threshold, suppression), KwsApp
//   tmk_anomaly.h      motion anomaly detection: window statistics, standardise, K-means distance,
//                      autoencoder reconstruction error, the ImuApp window step of anomaly_inference
#ifndef TINYMLKIT_H_
#define TINYMLKIT_H_

#include "tmk_anomaly.h"
#include "tmk_camera_app.h"
#include "tmk_image.h"
#include "tmk_imu_app.h"
#include "tmk_kws.h"
#include "tmk_mic_app.h"
#include "tmk_preprocess.h"
#include "tmk_protocol.h"
#include "tmk_ring_buffer.h"
#include "tmk_timing.h"

#endif  // TINYMLKIT_H_
