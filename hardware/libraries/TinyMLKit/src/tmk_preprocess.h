// Window preprocessing on the device, exactly as tinymlkit does it in Python:
//
//   v = sign[c] * raw[c]                       tinymlkit.features.to_left_wrist (sign = +-1)
//   n = (v - mean[c]) / std[c]                 tinymlkit.features.Normalization.apply
//   q = clamp(round(n / scale) + zero_point, -128, 127)   tinymlkit.quantize.quantize
//
// All arithmetic is float32, one rounding per operation, in the same order as numpy's float32
// (FLT_EVAL_METHOD 0 on x86-64 SSE, Cortex-M4F and ESP32-S3), so the results are bit-identical;
// tests/test_hardware.py checks this on the shipped dataset. sign * raw is exact for +-1, so a
// compiler that fuses it with the subtraction (-ffp-contract=fast, the GNU default) changes nothing.
//
// Rounding: numpy's np.round rounds half to even ("banker's rounding"), so round_half_even does
// too, without depending on the C library's rounding mode. The constants (kChannelSign,
// kChannelMean, kChannelStd, kInputScale, kInputZeroPoint) come from model_settings.h, written by
// tinymlkit.export from the training data and the int8 model's input tensor.
#ifndef TINYMLKIT_PREPROCESS_H_
#define TINYMLKIT_PREPROCESS_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_ring_buffer.h"

namespace tmk {

// Per-channel constants; each array has channel_count values. sign may be nullptr (all +1: a
// board worn on the left wrist, see model_settings.h).
struct Normalization {
  const float* sign;
  const float* mean;
  const float* std_dev;
  size_t channel_count;
};

// Per-tensor affine quantization: real = scale * (q - zero_point) (TFLite int8 spec).
struct QuantParams {
  float scale;
  int zero_point;
};

// x rounded to the nearest whole number, halves to the even one (2.5 -> 2, 3.5 -> 4, -2.5 -> -2),
// as numpy.round. Exact for every float.
float round_half_even(float x);

// (sign * raw - mean) / std_dev in float32.
float normalize_value(float raw, float sign, float mean, float std_dev);

// clamp(round_half_even(x / scale) + zero_point, -128, 127). NaN maps to the zero point (real 0:
// numpy's int8 cast of NaN is undefined, so never feed NaN; the sketches report a failed read).
int8_t quantize_value(float x, QuantParams qp);

// real = scale * (q - zero_point), as tinymlkit.quantize.dequantize.
float dequantize_value(int8_t q, QuantParams qp);

// window[samples * channels] raw -> out[samples * channels] normalised floats (may alias).
void normalize_window(const float* window, size_t samples, const Normalization& norm, float* out);

// window[samples * channels] raw -> out[samples * channels] int8 model input.
void quantize_window(const float* window, size_t samples, const Normalization& norm,
                     QuantParams qp, int8_t* out);

// The latest `window` samples of a ring -> out[window * channels] int8, without a float copy.
// Returns false when the ring holds fewer than `window` samples or its channel count differs.
bool quantize_latest(const SampleRing& ring, size_t window, const Normalization& norm,
                     QuantParams qp, int8_t* out);

// Index of the largest value (the first one on a tie), as numpy.argmax; 0 for n == 0.
size_t argmax_int8(const int8_t* values, size_t n);

// True when the sample just pushed (the samples_seen-th since the take began, counting from 1)
// ends a window: samples_seen >= window and (samples_seen - window) % stride == 0. These are the
// windows of tinymlkit.features.sliding_windows(take, window, stride), in order.
bool window_due(uint32_t samples_seen, uint32_t window, uint32_t stride);

}  // namespace tmk

#endif  // TINYMLKIT_PREPROCESS_H_
