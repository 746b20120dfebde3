// SampleRing: keeps the latest samples of a multi-channel sensor in a caller-owned float array.
//
// Push one sample (all channels) at the sensor rate; once `window` samples are held, copy out the
// latest window oldest-first, in the (window, channels) row-major layout of
// tinymlkit.features.sliding_windows. A ring of capacity == window costs window*channels*4 bytes
// of RAM (the `buffer_bytes` of tinymlkit.report.fit_check).
#ifndef TINYMLKIT_RING_BUFFER_H_
#define TINYMLKIT_RING_BUFFER_H_

#include <stddef.h>
#include <stdint.h>

namespace tmk {

class SampleRing {
 public:
  SampleRing();

  // storage: capacity_samples * channel_count floats, owned by the caller for the ring's life.
  // Returns false (and leaves the ring unusable) for a null storage or a zero size.
  bool init(float* storage, size_t capacity_samples, size_t channel_count);

  // Forget every sample (the storage is kept).
  void reset();

  // Append one sample: channel_count floats. The oldest sample is overwritten when full.
  void push(const float* sample);

  size_t size() const { return size_; }            // samples held, <= capacity()
  size_t capacity() const { return capacity_; }    // in samples
  size_t channel_count() const { return channels_; }
  uint32_t pushed() const { return pushed_; }      // samples pushed since reset (wraps at 2^32)

  // Pointer to sample i (0 = oldest) of the latest `window` samples, or nullptr when fewer than
  // `window` samples are held or i >= window.
  const float* latest(size_t i, size_t window) const;

  // Copy the latest `window` samples, oldest first, into out[window * channel_count].
  // Returns false (out untouched) when fewer than `window` samples are held.
  bool copy_latest(float* out, size_t window) const;

 private:
  float* storage_;
  size_t capacity_;
  size_t channels_;
  size_t head_;  // slot the next push writes
  size_t size_;
  uint32_t pushed_;
};

}  // namespace tmk

#endif  // TINYMLKIT_RING_BUFFER_H_
