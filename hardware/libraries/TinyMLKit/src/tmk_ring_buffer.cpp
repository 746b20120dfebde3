#include "tmk_ring_buffer.h"

#include <string.h>

namespace tmk {

SampleRing::SampleRing()
    : storage_(nullptr), capacity_(0), channels_(0), head_(0), size_(0), pushed_(0) {}

bool SampleRing::init(float* storage, size_t capacity_samples, size_t channel_count) {
  if (storage == nullptr || capacity_samples == 0 || channel_count == 0) {
    storage_ = nullptr;
    capacity_ = channels_ = 0;
    reset();
    return false;
  }
  storage_ = storage;
  capacity_ = capacity_samples;
  channels_ = channel_count;
  reset();
  return true;
}

void SampleRing::reset() {
  head_ = 0;
  size_ = 0;
  pushed_ = 0;
}

void SampleRing::push(const float* sample) {
  if (storage_ == nullptr) return;
  memcpy(storage_ + head_ * channels_, sample, channels_ * sizeof(float));
  head_ = (head_ + 1 == capacity_) ? 0 : head_ + 1;
  if (size_ < capacity_) ++size_;
  ++pushed_;
}

const float* SampleRing::latest(size_t i, size_t window) const {
  if (window == 0 || window > size_ || i >= window) return nullptr;
  // The newest sample sits just before head_; the window starts `window` samples before head_.
  size_t slot = head_ + capacity_ - window + i;
  if (slot >= capacity_) slot -= capacity_;
  return storage_ + slot * channels_;
}

bool SampleRing::copy_latest(float* out, size_t window) const {
  if (window == 0 || window > size_) return false;
  // At most two contiguous runs: [start, capacity) and [0, head_).
  size_t start = head_ + capacity_ - window;
  if (start >= capacity_) start -= capacity_;
  const size_t first = (start + window <= capacity_) ? window : capacity_ - start;
  memcpy(out, storage_ + start * channels_, first * channels_ * sizeof(float));
  if (first < window) {
    memcpy(out + first * channels_, storage_, (window - first) * channels_ * sizeof(float));
  }
  return true;
}

}  // namespace tmk
