#include "tmk_image.h"

namespace tmk {

namespace {

// One output pixel: the rounded mean of the factor x factor block at (row, col) of the square
// whose top-left corner is (top, left) in the frame.
uint8_t block_mean(const uint8_t* frame, size_t width, size_t top, size_t left, size_t row, size_t col,
                   size_t factor) {
  const uint32_t area = static_cast<uint32_t>(factor * factor);
  uint32_t sum = 0;
  for (size_t y = 0; y < factor; ++y) {
    const uint8_t* line = frame + (top + row * factor + y) * width + left + col * factor;
    for (size_t x = 0; x < factor; ++x) sum += line[x];
  }
  return static_cast<uint8_t>((sum + area / 2) / area);
}

bool square_fits(size_t width, size_t height, size_t out_side, size_t factor) {
  if (out_side == 0 || factor == 0 || factor > 255) return false;  // 255*255*255 fits in uint32
  const size_t side = out_side * factor;
  return side <= width && side <= height;
}

}  // namespace

bool frame_to_pixels(const uint8_t* frame, size_t width, size_t height, size_t out_side, size_t factor,
                     uint8_t* out) {
  if (frame == nullptr || out == nullptr || !square_fits(width, height, out_side, factor)) return false;
  const size_t side = out_side * factor;
  const size_t top = (height - side) / 2, left = (width - side) / 2;
  for (size_t row = 0; row < out_side; ++row) {
    for (size_t col = 0; col < out_side; ++col) {
      out[row * out_side + col] = block_mean(frame, width, top, left, row, col, factor);
    }
  }
  return true;
}

bool frame_to_int8(const uint8_t* frame, size_t width, size_t height, size_t out_side, size_t factor,
                   int8_t* out) {
  if (frame == nullptr || out == nullptr || !square_fits(width, height, out_side, factor)) return false;
  const size_t side = out_side * factor;
  const size_t top = (height - side) / 2, left = (width - side) / 2;
  for (size_t row = 0; row < out_side; ++row) {
    for (size_t col = 0; col < out_side; ++col) {
      const int pixel = block_mean(frame, width, top, left, row, col, factor);
      out[row * out_side + col] = static_cast<int8_t>(pixel - 128);
    }
  }
  return true;
}

}  // namespace tmk
