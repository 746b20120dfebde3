#include "tmk_preprocess.h"

#include <math.h>

namespace tmk {

float round_half_even(float x) {
  const float lower = floorf(x);   // exact
  const float frac = x - lower;    // exact: x and lower share the exponent range
  if (frac > 0.5f) return lower + 1.0f;
  if (frac < 0.5f) return lower;
  return (fmodf(lower, 2.0f) == 0.0f) ? lower : lower + 1.0f;  // a tie: the even neighbour
}

float normalize_value(float raw, float sign, float mean, float std_dev) {
  const float v = sign * raw;
  return (v - mean) / std_dev;
}

int8_t quantize_value(float x, QuantParams qp) {
  float t = x / qp.scale;
  if (t != t) return static_cast<int8_t>(qp.zero_point < -128 ? -128 : (qp.zero_point > 127 ? 127 : qp.zero_point));
  // Far outside [-128, 127] whatever the zero point: saturate before converting to int.
  if (t > 1024.0f) t = 1024.0f;
  if (t < -1024.0f) t = -1024.0f;
  int q = static_cast<int>(round_half_even(t)) + qp.zero_point;
  if (q < -128) q = -128;
  if (q > 127) q = 127;
  return static_cast<int8_t>(q);
}

float dequantize_value(int8_t q, QuantParams qp) {
  return qp.scale * static_cast<float>(static_cast<int>(q) - qp.zero_point);
}

void normalize_window(const float* window, size_t samples, const Normalization& norm, float* out) {
  const size_t c_count = norm.channel_count;
  for (size_t s = 0; s < samples; ++s) {
    for (size_t c = 0; c < c_count; ++c) {
      const size_t i = s * c_count + c;
      const float sign = norm.sign ? norm.sign[c] : 1.0f;
      out[i] = normalize_value(window[i], sign, norm.mean[c], norm.std_dev[c]);
    }
  }
}

static void quantize_sample(const float* raw, const Normalization& norm, QuantParams qp,
                            int8_t* out) {
  for (size_t c = 0; c < norm.channel_count; ++c) {
    const float sign = norm.sign ? norm.sign[c] : 1.0f;
    out[c] = quantize_value(normalize_value(raw[c], sign, norm.mean[c], norm.std_dev[c]), qp);
  }
}

void quantize_window(const float* window, size_t samples, const Normalization& norm,
                     QuantParams qp, int8_t* out) {
  for (size_t s = 0; s < samples; ++s) {
    quantize_sample(window + s * norm.channel_count, norm, qp, out + s * norm.channel_count);
  }
}

bool quantize_latest(const SampleRing& ring, size_t window, const Normalization& norm,
                     QuantParams qp, int8_t* out) {
  if (ring.channel_count() != norm.channel_count || ring.size() < window || window == 0) {
    return false;
  }
  for (size_t s = 0; s < window; ++s) {
    quantize_sample(ring.latest(s, window), norm, qp, out + s * norm.channel_count);
  }
  return true;
}

size_t argmax_int8(const int8_t* values, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

bool window_due(uint32_t samples_seen, uint32_t window, uint32_t stride) {
  if (window == 0 || stride == 0 || samples_seen < window) return false;
  return (samples_seen - window) % stride == 0;
}

}  // namespace tmk
