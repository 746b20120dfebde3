// Motion anomaly detection on the device (issue #17), exactly as tinymlkit does it in Python
// (tinymlkit.anomaly, taught in modules/13_anomaly_detection.ipynb and lab07):
//
//   v = sign[c] * raw[c]                                  tinymlkit.features.to_left_wrist
//   f = mean, std, min, max, mean |v[i+1] - v[i]|          tinymlkit.features.window_statistics
//       per channel, grouped by statistic (all means, then all stds, ...): 5 * channels values
//   z[j] = (f[j] - mean[j]) / std[j]                        tinymlkit.features.Normalization.apply
//   K-means score = min over k of || z - centroid[k] ||    tinymlkit.anomaly.KMeansDetector.score
//   q = quantize(z) -> autoencoder (TFLM) -> out           tinymlkit.quantize.quantize
//   autoencoder score = mean over j of (dequantize(out[j]) - dequantize(q[j]))^2
//                                                           tinymlkit.anomaly.int8_reconstruction_error
//
// Arithmetic: the statistics are accumulated in double and rounded once to float at the end, as
// numpy computes them in float64 and casts to float32 (so the float features equal Python's to
// the last bit or within one float32 ulp where numpy sums in another order). Double is software
// on a Cortex-M4F: about 9 double operations per value, some thousands for a 100 x 6 window,
// estimated at a few ms at 64 MHz (not measured on a board), once per stride (1 s). After the
// features everything is float32, one rounding per operation, in numpy's operation order; only
// the sums of the two scores add in another order than numpy's pairwise sums (and the compiler
// may fuse their multiply-adds), a relative difference below 1e-6 (measured: 2.2e-7).
// tests/test_anomaly_native.py checks every step against Python on the shipped dataset.
//
// The constants (kChannelSign, kFeatureMean, kFeatureStd, kCentroids, kInputScale, ...,
// kAutoencoderThreshold) come from model_settings.h, written by tinymlkit.export
// (AnomalyModelSettings). AnomalyModel + anomaly_window_step plug the detector into ImuApp
// (tmk_imu_app.h), which then sends, every kStrideSamples of a take and on INFER,
//   #RESULT n=<counter> label=normal|anomaly logits=<autoencoder score>,<K-means score> us=<Invoke µs>
// (hardware/PROTOCOL.md, "Anomaly detection").
#ifndef TINYMLKIT_ANOMALY_H_
#define TINYMLKIT_ANOMALY_H_

#include <stddef.h>
#include <stdint.h>

#include "tmk_imu_app.h"
#include "tmk_preprocess.h"
#include "tmk_ring_buffer.h"

namespace tmk {

// Statistics per channel (mean, std, min, max, mean |diff|).
constexpr size_t kWindowStatisticCount = 5;
// Most channels an AnomalyModel takes (its scratch vectors live on the stack: 5 * 12 floats).
constexpr size_t kMaxAnomalyChannels = 12;
constexpr size_t kMaxAnomalyFeatures = kWindowStatisticCount * kMaxAnomalyChannels;

// window[samples * channels] raw (row-major: sample by sample, as SampleRing) -> out[5 * channels]:
// per channel c of v = sign[c] * raw the mean, the population standard deviation (ddof 0, from
// the mean: two passes), the minimum, the maximum and the mean absolute difference of
// consecutive samples; out[s * channels + c] is statistic s of channel c. sign may be nullptr
// (all +1). Returns false (out untouched) for fewer than 2 samples or no channel.
bool window_statistics(const float* window, size_t samples, size_t channels, const float* sign,
                       float* out);

// The same for the latest `window` samples of a ring, without copying them out. Returns false
// when the ring holds fewer than `window` samples or window < 2.
bool window_statistics_latest(const SampleRing& ring, size_t window, const float* sign, float* out);

// z[j] = (features[j] - mean[j]) / std_dev[j] in float32, j < n (z may alias features).
void standardize(const float* features, const float* mean, const float* std_dev, size_t n,
                 float* z);

// The Euclidean distance from z[n] to the nearest of k centroids (centroids[k * n], row-major:
// kCentroids), in float32: sqrt(min over k of sum over j of (z[j] - c[k][j])^2). 0 for k == 0.
float kmeans_distance(const float* z, const float* centroids, size_t k, size_t n);

// The autoencoder's score from its int8 tensors: mean over j < n of
// (dequantize(q_out[j], out) - dequantize(q_in[j], in))^2, in float32. 0 for n == 0.
float reconstruction_error(const int8_t* q_in, const int8_t* q_out, size_t n, QuantParams in,
                           QuantParams out);

// One detector: model_settings.h of an anomaly export plus the interpreter's tensors.
struct AnomalyModel {
  size_t channel_count;            // kChannelCount (at most kMaxAnomalyChannels)
  const float* sign;               // kChannelSign on the right wrist, nullptr on the left
  const float* feature_mean;       // kFeatureMean[5 * channel_count]
  const float* feature_std;        // kFeatureStd[5 * channel_count]
  const float* centroids;          // &kCentroids[0][0]: cluster_count * 5 * channel_count
  size_t cluster_count;            // kClusterCount
  QuantParams input;               // kInputScale, kInputZeroPoint
  QuantParams output;              // kOutputScale, kOutputZeroPoint
  float autoencoder_threshold;     // kAutoencoderThreshold: a score above it is an anomaly
  float kmeans_threshold;          // kKmeansThreshold (reported by people, not the label)
  int8_t* input_data;              // the input tensor: 5 * channel_count int8
  const int8_t* output_data;       // the output tensor: 5 * channel_count int8
  // Runs the autoencoder on input_data; sets *invoke_us to the time Invoke() took; false on failure.
  bool (*invoke)(void* ctx, uint32_t* invoke_us);
  void* invoke_ctx;
};

// Both scores of one window and the decision.
struct AnomalyScores {
  float autoencoder;   // reconstruction_error of the int8 tensors
  float kmeans;        // kmeans_distance of z
  bool anomaly;        // autoencoder > autoencoder_threshold
  uint32_t invoke_us;  // the Invoke() time
};

// True when every pointer is set, the channel count is 1..kMaxAnomalyChannels and there is a
// cluster.
bool anomaly_model_valid(const AnomalyModel& m);

// The whole step on the latest `window` samples of the ring: features -> z -> K-means score and
// int8 input -> invoke -> autoencoder score. Returns nullptr, or the text of an #ERR line
// ("window not full yet", "Invoke() failed", "anomaly model settings are incomplete").
const char* score_latest(const AnomalyModel& m, const SampleRing& ring, size_t window,
                         AnomalyScores* out);

// The labels of an anomaly #RESULT line, in the order of its label index.
extern const char* const kAnomalyLabels[2];  // {"normal", "anomaly"}

// WindowStepFn (tmk_imu_app.h) for ImuModel::window_step with ctx = const AnomalyModel*: label
// 1 ("anomaly") when the autoencoder score is above its threshold, values = {autoencoder score,
// K-means score}, the Invoke() time. Give the ImuModel kAnomalyLabels and 2 labels.
const char* anomaly_window_step(void* ctx, const SampleRing& ring, size_t window,
                                WindowResult* result);

}  // namespace tmk

#endif  // TINYMLKIT_ANOMALY_H_
