#include "tmk_timing.h"

namespace tmk {

uint32_t period_us(float rate_hz) {
  if (!(rate_hz > 0.0f)) return 0;
  return static_cast<uint32_t>(1000000.0f / rate_hz + 0.5f);
}

Ticker::Ticker() : next_(0), period_(0), skipped_(0), running_(false) {}

void Ticker::start(uint32_t now_us, uint32_t period) {
  period_ = period;
  next_ = now_us + period;
  skipped_ = 0;
  running_ = period > 0;
}

bool Ticker::due(uint32_t now_us) {
  if (!running_) return false;
  const uint32_t late = now_us - next_;  // wraps: "late" is huge when the tick is still ahead
  if (late >= 0x80000000u) return false;
  if (late / period_ > kMaxLateTicks) {  // far behind (a long Invoke, a blocked Serial): resync
    const uint32_t dropped = late / period_;
    skipped_ += dropped;
    next_ += dropped * period_;
  }
  next_ += period_;
  return true;
}

uint32_t Ticker::take_skipped() {
  const uint32_t n = skipped_;
  skipped_ = 0;
  return n;
}

}  // namespace tmk
