// tmk_pdm_mic.h: the PDM microphone of the Arduino Nano 33 BLE Sense (Rev1: ST MP34DT05, Rev2: ST
// MP34DT06JTR), shared by the Nano's mic_capture and kws_inference sketches (issue #14).
//
// It reads the microphone with the PDM library of the arduino:mbed_nano core: PDM.begin(1
// channel, rate) gives 16-bit PCM in an interrupt callback. PdmMic hands every callback's samples
// to a Sink (kws_inference: the KwsRuntime's audio ring), or, with record_sink and record, fills
// a buffer for a RECORD take (mic_capture, a tmk::RecordFn for MicApp).
//
// Sketch-only and header-only: a sketch includes <PDM.h> (of the mbed_nano core) before it.
// Compiled with the Nano sketches against the real core on each make test
// (tests/test_arduino_core.py).
#ifndef TINYMLKIT_PDM_MIC_H_
#define TINYMLKIT_PDM_MIC_H_

#if !defined(_PDM_H_INCLUDED)
#error "tmk_pdm_mic.h needs the mbed_nano core's PDM.h included before it (as the Nano's mic_capture and kws_inference do)."
#endif

#include <stdint.h>

namespace tmk {

class PdmMic {
 public:
  // Called in interrupt context with one callback's samples (at most 512).
  using Sink = void (*)(const int16_t* samples, uint32_t n);

  // Starts the microphone: 1 channel at rate_hz, each callback's samples to sink. False if the
  // PDM driver did not start (no microphone).
  static bool begin(uint32_t rate_hz, Sink sink) {
    state().sink = sink;
    PDM.onReceive(on_data);
    return PDM.begin(1, static_cast<int>(rate_hz)) != 0;
  }

  // The Sink for record(): copies samples into the take being recorded, if any.
  static void record_sink(const int16_t* samples, uint32_t n) {
    State& s = state();
    for (uint32_t i = 0; i < n && s.target != nullptr && s.filled < s.wanted; ++i) {
      s.target[s.filled++] = samples[i];
    }
  }

  // tmk::RecordFn (begin() with record_sink first): records n samples into out; false if the
  // callback stops delivering (2 s plus the take's length).
  static bool record(void*, int16_t* out, uint32_t n) {
    State& s = state();
    noInterrupts();
    s.filled = 0;
    s.wanted = n;
    s.target = out;
    interrupts();
    const uint32_t t0 = millis();
    while (s.filled < n && millis() - t0 < 2000 + n / 16) delay(1);
    s.target = nullptr;
    return s.filled >= n;
  }

 private:
  // The one microphone's state. A function's static, not static data members: the mbed_nano core
  // compiles C++14 (no inline variables); zero-initialised, so it is ready before any interrupt.
  struct State {
    Sink sink;
    int16_t chunk[512];          // one PDM callback's samples (at most 1 KB)
    int16_t* volatile target;    // nullptr: not recording
    volatile uint32_t filled;
    volatile uint32_t wanted;
  };
  static State& state() {
    static State s{};
    return s;
  }

  static void on_data() {
    State& s = state();
    int bytes = PDM.available();
    if (bytes > static_cast<int>(sizeof(s.chunk))) bytes = static_cast<int>(sizeof(s.chunk));
    const int n = PDM.read(s.chunk, bytes) / 2;
    if (n > 0 && s.sink != nullptr) s.sink(s.chunk, static_cast<uint32_t>(n));
  }
};

}  // namespace tmk

#endif  // TINYMLKIT_PDM_MIC_H_
