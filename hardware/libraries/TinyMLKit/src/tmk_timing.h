// Ticker: calls for a sample every period from a free-running microsecond clock (Arduino's
// micros(), which wraps every 2^32 us = 71.6 min; the wrap is handled by unsigned arithmetic).
#ifndef TINYMLKIT_TIMING_H_
#define TINYMLKIT_TIMING_H_

#include <stdint.h>

namespace tmk {

// The period of rate_hz in whole microseconds (50 Hz -> 20000 us); 0 for a rate <= 0.
uint32_t period_us(float rate_hz);

class Ticker {
 public:
  Ticker();
  // First tick due at now_us + period.
  void start(uint32_t now_us, uint32_t period);
  // True when a tick is due; call it until it returns false (each call consumes one tick, so a
  // tick that is a little late is caught up). Ticks more than kMaxLateTicks behind (a long
  // Invoke(), a blocked Serial) are dropped instead: reading the sensor five times in a row would
  // only repeat its last value. take_skipped() returns how many were dropped since the last call.
  bool due(uint32_t now_us);
  uint32_t take_skipped();
  static constexpr uint32_t kMaxLateTicks = 5;

 private:
  uint32_t next_;
  uint32_t period_;
  uint32_t skipped_;
  bool running_;
};

}  // namespace tmk

#endif  // TINYMLKIT_TIMING_H_
