// Image preprocessing on the device, exactly as tinymlkit.image_features does it in Python
// (vision track, issue #15): an 8-bit grayscale camera frame -> its centre square -> a smaller
// image by averaging whole blocks -> int8 model input.
//
//   crop:       the centre crop x crop pixels of a width x height frame (an odd margin leaves the
//               extra pixel at the bottom/right)             tinymlkit.image_features.center_crop
//   downsample: out = (sum of a factor x factor block + factor*factor/2) / (factor*factor), in
//               integers                                   tinymlkit.image_features.box_downsample
//   int8:       q = pixel - 128 (scale 1/128, zero point 0) tinymlkit.image_features.pixels_to_int8
//
// Integer arithmetic only, so the results are bit-identical to Python's; tests/test_vision.py
// checks it with random frames. No Arduino headers, no heap: every buffer is the caller's.
#ifndef TINYMLKIT_IMAGE_H_
#define TINYMLKIT_IMAGE_H_

#include <stddef.h>
#include <stdint.h>

namespace tmk {

// Writes the model's int8 input (out_side x out_side values, row by row) from a width x height
// 8-bit grayscale frame (row by row, top row first): the centre (out_side * factor) square,
// shrunk by factor, minus 128. Returns false, writing nothing, if the square does not fit in the
// frame or a size is zero.
bool frame_to_int8(const uint8_t* frame, size_t width, size_t height, size_t out_side, size_t factor,
                   int8_t* out);

// The same steps, keeping 8-bit pixels (for sending a preview over the serial link).
bool frame_to_pixels(const uint8_t* frame, size_t width, size_t height, size_t out_side, size_t factor,
                     uint8_t* out);

}  // namespace tmk

#endif  // TINYMLKIT_IMAGE_H_
