#include "tmk_anomaly.h"

#include <math.h>

namespace tmk {

const char* const kAnomalyLabels[2] = {"normal", "anomaly"};

namespace {

// Sample i of a plain window (row-major, `channels` floats per sample).
struct WindowSamples {
  const float* window;
  size_t channels;
  const float* operator()(size_t i) const { return window + i * channels; }
};

// Sample i (0 = oldest) of the latest `window` samples of a ring.
struct RingSamples {
  const SampleRing& ring;
  size_t window;
  const float* operator()(size_t i) const { return ring.latest(i, window); }
};

// The statistics of tinymlkit.features.window_statistics, in numpy's order: each sum runs from
// the first sample to the last in double (numpy's float64), each result is rounded once to float.
// sign * raw is exact (sign is +-1), as numpy's float32 product before its float64 cast.
template <typename SampleAt>
void statistics(const SampleAt& at, size_t samples, size_t channels, const float* sign, float* out) {
  const double n = static_cast<double>(samples);
  for (size_t c = 0; c < channels; ++c) {
    const float s = sign ? sign[c] : 1.0f;
    double sum = 0.0, abs_diff_sum = 0.0;
    double prev = static_cast<double>(s * at(0)[c]);
    double lo = prev, hi = prev;
    for (size_t i = 0; i < samples; ++i) {
      const double v = static_cast<double>(s * at(i)[c]);
      sum += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (i > 0) abs_diff_sum += fabs(v - prev);
      prev = v;
    }
    const double mean = sum / n;
    double square_sum = 0.0;  // second pass: the deviations from the mean, as numpy
    for (size_t i = 0; i < samples; ++i) {
      const double d = static_cast<double>(s * at(i)[c]) - mean;
      square_sum += d * d;
    }
    out[0 * channels + c] = static_cast<float>(mean);
    out[1 * channels + c] = static_cast<float>(sqrt(square_sum / n));
    out[2 * channels + c] = static_cast<float>(lo);
    out[3 * channels + c] = static_cast<float>(hi);
    out[4 * channels + c] = static_cast<float>(abs_diff_sum / (n - 1.0));
  }
}

}  // namespace

bool window_statistics(const float* window, size_t samples, size_t channels, const float* sign,
                       float* out) {
  if (window == nullptr || out == nullptr || samples < 2 || channels == 0) return false;
  statistics(WindowSamples{window, channels}, samples, channels, sign, out);
  return true;
}

bool window_statistics_latest(const SampleRing& ring, size_t window, const float* sign, float* out) {
  if (out == nullptr || window < 2 || ring.size() < window || ring.channel_count() == 0) return false;
  statistics(RingSamples{ring, window}, window, ring.channel_count(), sign, out);
  return true;
}

void standardize(const float* features, const float* mean, const float* std_dev, size_t n,
                 float* z) {
  for (size_t j = 0; j < n; ++j) z[j] = (features[j] - mean[j]) / std_dev[j];
}

float kmeans_distance(const float* z, const float* centroids, size_t k, size_t n) {
  if (k == 0) return 0.0f;
  float best = 0.0f;
  for (size_t m = 0; m < k; ++m) {
    const float* c = centroids + m * n;
    float d2 = 0.0f;
    for (size_t j = 0; j < n; ++j) {
      const float d = z[j] - c[j];
      d2 += d * d;
    }
    if (m == 0 || d2 < best) best = d2;
  }
  return sqrtf(best);
}

float reconstruction_error(const int8_t* q_in, const int8_t* q_out, size_t n, QuantParams in,
                           QuantParams out) {
  if (n == 0) return 0.0f;
  float sum = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    const float d = dequantize_value(q_out[j], out) - dequantize_value(q_in[j], in);
    sum += d * d;
  }
  return sum / static_cast<float>(n);
}

bool anomaly_model_valid(const AnomalyModel& m) {
  return m.channel_count > 0 && m.channel_count <= kMaxAnomalyChannels && m.feature_mean != nullptr &&
         m.feature_std != nullptr && m.centroids != nullptr && m.cluster_count > 0 &&
         m.input_data != nullptr && m.output_data != nullptr && m.invoke != nullptr;
}

const char* score_latest(const AnomalyModel& m, const SampleRing& ring, size_t window,
                         AnomalyScores* out) {
  if (!anomaly_model_valid(m)) return "anomaly model settings are incomplete";
  if (ring.channel_count() != m.channel_count) return "the window's channels differ from the model's";
  const size_t n = kWindowStatisticCount * m.channel_count;
  float z[kMaxAnomalyFeatures];
  if (!window_statistics_latest(ring, window, m.sign, z)) return "window not full yet";
  standardize(z, m.feature_mean, m.feature_std, n, z);
  for (size_t j = 0; j < n; ++j) m.input_data[j] = quantize_value(z[j], m.input);
  uint32_t invoke_us = 0;
  if (!m.invoke(m.invoke_ctx, &invoke_us)) return "Invoke() failed";
  out->autoencoder = reconstruction_error(m.input_data, m.output_data, n, m.input, m.output);
  out->kmeans = kmeans_distance(z, m.centroids, m.cluster_count, n);
  out->anomaly = out->autoencoder > m.autoencoder_threshold;
  out->invoke_us = invoke_us;
  return nullptr;
}

const char* anomaly_window_step(void* ctx, const SampleRing& ring, size_t window,
                                WindowResult* result) {
  const AnomalyModel* m = static_cast<const AnomalyModel*>(ctx);
  if (m == nullptr) return "anomaly model settings are incomplete";
  AnomalyScores scores{};
  const char* error = score_latest(*m, ring, window, &scores);
  if (error != nullptr) return error;
  result->label = scores.anomaly ? 1 : 0;
  result->values[0] = scores.autoencoder;
  result->values[1] = scores.kmeans;
  result->value_count = 2;
  result->invoke_us = scores.invoke_us;
  return nullptr;
}

}  // namespace tmk
