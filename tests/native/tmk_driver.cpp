// Host driver for tests/test_hardware.py: runs the TinyMLKit library (hardware/libraries/TinyMLKit)
// on data written by the Python tests and writes back what the library produced. Built with
// g++ -std=c++17 -Wall -Wextra -Werror together with the library's .cpp files.
//
//   tmk_driver preprocess IN OUT  IN: int32 C, N, zero_point, has_sign; float32 scale,
//                                 sign[C], mean[C], std[C], raw[N*C].  OUT: float32 norm[N*C],
//                                 int8 q[N*C] (quantize_window), int8 q[N*C] (per value).
//   tmk_driver round IN OUT       IN: float32 x[]. OUT: float32 round_half_even(x)[].
//   tmk_driver ring IN OUT        IN: int32 C, N, W, S, capacity; float32 raw[N*C]. Pushes every
//                                 sample; when window_due, appends copy_latest (float32 W*C) to OUT.
//   tmk_driver lines              requests on stdin, one per line (see handle_request), lines out.
//   tmk_driver reader             raw bytes on stdin through LineReader: "LINE <overflowed> <text>".
//   tmk_driver app [MODEL] CAP    ImuApp with a RECORD capacity of CAP samples and, with MODEL
//                                 (int32 W, S, C, K, in_zp, out_zp, has_sign; float32 in_scale,
//                                 out_scale, sign[C], mean[C], std[C]), a classifier whose Invoke
//                                 stand-in copies the first K input values to the output.
//                                 stdin: "> host line" | "s v1 ... vC" | "l LOST_SAMPLES" |
//                                 "e sensor error text".
//   tmk_driver ticker             stdin: "start NOW PERIOD" | "due NOW"; prints 1/0 and
//                                 take_skipped().
//   tmk_driver mic CAP            MicApp with CAP samples of RAM; stdin "> host line" | "overflow" |
//                                 "mic off" | "fail next".
// Keyword spotting (tmk_kws.h; tests/test_kws_native.py):
//   tmk_driver kws_features IN OUT  IN: int32 n, zero_point; float32 feature_scale, input_scale;
//                                 uint16 frontend[n]. OUT: int8 FeaturesToInt8[n].
//   tmk_driver kws_scores IN OUT  IN: int32 rows, K; uint16 table[256]; int8 logits[rows*K].
//                                 OUT: uint8 LogitsToScores[rows*K].
//   tmk_driver kws_recognizer IN OUT  IN: int32 K, average_window_ms, threshold, suppression_ms,
//                                 minimum_count, silence, unknown, steps; uint32 time_ms[steps];
//                                 uint8 scores[steps*K]. OUT: int32 (ok, ready, top, score,
//                                 is_new) per step; init failure: exit 3.
//   tmk_driver kws_window IN OUT  IN: int32 slice_count, slice_size, n; int8 slices[n*size].
//                                 OUT: int8 copy_to() window after every push once full.
//   tmk_driver kws_ring CAP       AudioRing of CAP; stdin "w N" writes the next N values of the
//                                 sequence 0, 1, 2, ... (as int16), prints "W <written>";
//                                 "r N" reads, prints "R <count> <values...>"; "d" prints
//                                 "D <take_dropped()>"; "a" prints "A <available()>".
//   tmk_driver kws_app MODEL      KwsApp; MODEL: int32 slice_size, slice_count, K, invoke_every,
//                                 in_zp, out_zp, average_window_ms, threshold, suppression_ms,
//                                 minimum_count, silence, unknown; float32 feature_scale,
//                                 in_scale, out_scale; uint16 table[256]. Its Invoke stand-in
//                                 copies the first K input values to the output. stdin:
//                                 "> host line" | "f v1 ... v<slice_size>" (one frontend slice) |
//                                 "l SAMPLES" (audio lost).
// Anomaly detection (tmk_anomaly.h; tests/test_anomaly_native.py). MODEL: int32 W, S, C, K,
// in_zp, out_zp, has_sign; float32 in_scale, out_scale, autoencoder_threshold, kmeans_threshold,
// sign[C], feature_mean[F], feature_std[F], centroids[K*F] (F = 5 * C):
//   tmk_driver anomaly_features MODEL IN OUT  IN: int32 N; float32 raw[N*W*C] (N windows).
//                                 OUT: float32 window_statistics[N*F], float32 z[N*F] (standardize),
//                                 int8 q[N*F] (quantize_value), float32 kmeans_distance[N]. Each
//                                 window also goes through a SampleRing: window_statistics_latest
//                                 must equal window_statistics (else exit 5).
//   tmk_driver kmeans IN OUT      IN: int32 n, F, K; float32 centroids[K*F], z[n*F].
//                                 OUT: float32 kmeans_distance[n].
//   tmk_driver recon IN OUT       IN: int32 n, F, in_zp, out_zp; float32 in_scale, out_scale;
//                                 int8 q_in[n*F], q_out[n*F]. OUT: float32 reconstruction_error[n].
//   tmk_driver anomaly_app MODEL  ImuApp (no RECORD) with tmk::anomaly_window_step; its Invoke
//                                 stand-in copies the int8 input to the output and takes
//                                 1, 2, 3, ... us. stdin as `app`, and "f" fails the next Invoke.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "TinyMLKit.h"

namespace {

std::vector<char> read_file(const char* path) {
  std::vector<char> data;
  FILE* f = fopen(path, "rb");
  if (f == nullptr) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) data.insert(data.end(), chunk, chunk + n);
  fclose(f);
  return data;
}

struct Reader {
  const std::vector<char>& d;
  size_t at;
  template <typename T>
  T get() {
    if (at + sizeof(T) > d.size()) {
      fprintf(stderr, "input file too short\n");
      exit(2);
    }
    T v;
    memcpy(&v, d.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> get_n(size_t n) {
    std::vector<T> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = get<T>();
    return v;
  }
};

void write_file(const char* path, const void* data, size_t n, const char* mode) {
  FILE* f = fopen(path, mode);
  if (f == nullptr || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

int run_preprocess(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t c = static_cast<size_t>(r.get<int32_t>());
  const size_t n = static_cast<size_t>(r.get<int32_t>());
  const int zero_point = r.get<int32_t>();
  const bool has_sign = r.get<int32_t>() != 0;
  const float scale = r.get<float>();
  const std::vector<float> sign = r.get_n<float>(c), mean = r.get_n<float>(c),
                           std_dev = r.get_n<float>(c), raw = r.get_n<float>(n * c);
  const tmk::Normalization norm{has_sign ? sign.data() : nullptr, mean.data(), std_dev.data(), c};
  const tmk::QuantParams qp{scale, zero_point};
  std::vector<float> normalized(n * c);
  std::vector<int8_t> q_window(n * c), q_value(n * c);
  tmk::normalize_window(raw.data(), n, norm, normalized.data());
  tmk::quantize_window(raw.data(), n, norm, qp, q_window.data());
  for (size_t i = 0; i < n * c; ++i) q_value[i] = tmk::quantize_value(normalized[i], qp);
  write_file(out, normalized.data(), normalized.size() * sizeof(float), "wb");
  write_file(out, q_window.data(), q_window.size(), "ab");
  write_file(out, q_value.data(), q_value.size(), "ab");
  return 0;
}

int run_round(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const std::vector<float> x = r.get_n<float>(d.size() / sizeof(float));
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = tmk::round_half_even(x[i]);
  write_file(out, y.data(), y.size() * sizeof(float), "wb");
  return 0;
}

int run_ring(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t c = static_cast<size_t>(r.get<int32_t>());
  const size_t n = static_cast<size_t>(r.get<int32_t>());
  const uint32_t w = static_cast<uint32_t>(r.get<int32_t>());
  const uint32_t s = static_cast<uint32_t>(r.get<int32_t>());
  const size_t capacity = static_cast<size_t>(r.get<int32_t>());
  const std::vector<float> raw = r.get_n<float>(n * c);
  std::vector<float> storage(capacity * c), window(w * c), windows;
  tmk::SampleRing ring;
  if (!ring.init(storage.data(), capacity, c)) return 3;
  for (size_t i = 0; i < n; ++i) {
    ring.push(raw.data() + i * c);
    if (!tmk::window_due(ring.pushed(), w, s)) continue;
    if (!ring.copy_latest(window.data(), w)) return 4;
    for (size_t k = 0; k < w; ++k) {  // latest() must agree with copy_latest()
      if (memcmp(ring.latest(k, w), window.data() + k * c, c * sizeof(float)) != 0) return 5;
    }
    windows.insert(windows.end(), window.begin(), window.end());
  }
  write_file(out, windows.data(), windows.size() * sizeof(float), "wb");
  return 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

void emit(int len, const char* line) {
  if (len < 0) {
    fputs("FAIL\n", stdout);
  } else {
    fwrite(line, 1, static_cast<size_t>(len), stdout);
  }
}

const char* kind_name(tmk::CommandKind k) {
  switch (k) {
    case tmk::CommandKind::kEmpty: return "EMPTY";
    case tmk::CommandKind::kInfo: return "INFO";
    case tmk::CommandKind::kStart: return "START";
    case tmk::CommandKind::kStop: return "STOP";
    case tmk::CommandKind::kRecord: return "RECORD";
    case tmk::CommandKind::kInfer: return "INFER";
    case tmk::CommandKind::kSnap: return "SNAP";
    case tmk::CommandKind::kUnknown: return "UNKNOWN";
    case tmk::CommandKind::kInvalid: return "INVALID";
  }
  return "?";
}

// One request of `tmk_driver lines`: "<op> <args>" (space separated).
void handle_request(const std::string& req) {
  char line[tmk::kLineBufferBytes];
  const size_t sp = req.find(' ');
  const std::string op = req.substr(0, sp);
  const std::string rest = sp == std::string::npos ? "" : req.substr(sp + 1);
  const std::vector<std::string> a = split(rest, ' ');
  if (op == "float") {
    char buf[32];
    const int n = tmk::format_float(buf, sizeof(buf), strtof(rest.c_str(), nullptr));
    if (n < 0) {
      fputs("FAIL\n", stdout);
    } else {
      printf("%s\n", buf);
    }
  } else if (op == "header") {  // board sensor rate ch,ch units,units
    const std::vector<std::string> ch = split(a[3], ','), un = split(a[4], ',');
    std::vector<const char*> chp, unp;
    for (const auto& x : ch) chp.push_back(x.c_str());
    for (const auto& x : un) unp.push_back(x.c_str());
    const tmk::StreamInfo info{a[0].c_str(), a[1].c_str(), strtof(a[2].c_str(), nullptr),
                               chp.data(), unp.data(), chp.size()};
    emit(tmk::format_header(line, sizeof(line), info), line);
  } else if (op == "sample" || op == "sample16") {  // n v1 ... vC
    std::vector<float> v;
    std::vector<int16_t> v16;
    for (size_t i = 1; i < a.size(); ++i) {
      v.push_back(strtof(a[i].c_str(), nullptr));
      v16.push_back(static_cast<int16_t>(atoi(a[i].c_str())));
    }
    const uint32_t n = static_cast<uint32_t>(strtoul(a[0].c_str(), nullptr, 10));
    emit(op == "sample" ? tmk::format_sample(line, sizeof(line), n, v.data(), v.size())
                        : tmk::format_sample_int16(line, sizeof(line), n, v16.data(), v16.size()),
         line);
  } else if (op == "start") {
    emit(tmk::format_start(line, sizeof(line)), line);
  } else if (op == "stop") {
    emit(tmk::format_stop(line, sizeof(line), static_cast<uint32_t>(strtoul(rest.c_str(), nullptr, 10))), line);
  } else if (op == "ok") {
    emit(tmk::format_ok(line, sizeof(line), "%s", rest.c_str()), line);
  } else if (op == "err") {
    emit(tmk::format_err(line, sizeof(line), "%s", rest.c_str()), line);
  } else if (op == "result") {  // n label us l1 ... lK
    std::vector<float> logits;
    for (size_t i = 3; i < a.size(); ++i) logits.push_back(strtof(a[i].c_str(), nullptr));
    emit(tmk::format_result(line, sizeof(line), static_cast<uint32_t>(strtoul(a[0].c_str(), nullptr, 10)),
                            a[1].c_str(), logits.data(), logits.size(),
                            static_cast<uint32_t>(strtoul(a[2].c_str(), nullptr, 10))),
         line);
  } else if (op == "cmd") {
    const tmk::Command c = tmk::parse_command(rest.c_str());
    printf("kind=%s ms=%u word=%s\n", kind_name(c.kind), static_cast<unsigned>(c.record_ms), c.word);
    const int n = tmk::format_command_error(line, sizeof(line), c);
    if (n > 0) fwrite(line, 1, static_cast<size_t>(n), stdout);
  } else {
    printf("UNKNOWN REQUEST %s\n", op.c_str());
  }
}

int run_lines() {
  char buf[4096];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    std::string req(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    handle_request(req);
  }
  return 0;
}

int run_reader() {
  tmk::LineReader reader;
  int ch;
  while ((ch = fgetc(stdin)) != EOF) {
    if (reader.push(static_cast<char>(ch))) {
      printf("LINE %d %s\n", reader.overflowed() ? 1 : 0, reader.line());
    }
  }
  return 0;
}

struct HostModel {  // the Invoke stand-in: output[k] = input[k]
  std::vector<int8_t> input, output;
  uint32_t invokes = 0;
};

bool host_invoke(void* ctx, uint32_t* invoke_us) {
  HostModel* m = static_cast<HostModel*>(ctx);
  for (size_t k = 0; k < m->output.size(); ++k) m->output[k] = m->input[k];
  *invoke_us = ++m->invokes;
  return true;
}

void write_stdout(void*, const char* data, size_t len) { fwrite(data, 1, len, stdout); }

int run_app(int argc, char** argv) {
  const char* model_path = argc == 4 ? argv[2] : nullptr;
  const uint32_t capacity = static_cast<uint32_t>(atoi(argv[argc - 1]));
  static const char* const kChannels[] = {"ax", "ay", "az", "wx", "wy", "wz"};
  static const char* const kUnits[] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};
  const tmk::StreamInfo info{"host_test", "imu", 50.0f, kChannels, kUnits, 6};
  std::vector<float> record(capacity * 6), ring;
  std::vector<float> sign, mean, std_dev;
  std::vector<std::string> label_text;
  std::vector<const char*> labels;
  HostModel host;
  tmk::ImuModel model{};
  if (model_path != nullptr) {
    const std::vector<char> d = read_file(model_path);
    Reader r{d, 0};
    const size_t w = static_cast<size_t>(r.get<int32_t>()), s = static_cast<size_t>(r.get<int32_t>());
    const size_t c = static_cast<size_t>(r.get<int32_t>()), k = static_cast<size_t>(r.get<int32_t>());
    const int in_zp = r.get<int32_t>(), out_zp = r.get<int32_t>();
    const bool has_sign = r.get<int32_t>() != 0;
    const float in_scale = r.get<float>(), out_scale = r.get<float>();
    sign = r.get_n<float>(c);
    mean = r.get_n<float>(c);
    std_dev = r.get_n<float>(c);
    for (size_t i = 0; i < k; ++i) label_text.push_back("L" + std::to_string(i));
    for (const auto& t : label_text) labels.push_back(t.c_str());
    host.input.assign(w * c, 0);
    host.output.assign(k, 0);
    ring.assign(w * c, 0.0f);
    model = tmk::ImuModel{w, s, tmk::Normalization{has_sign ? sign.data() : nullptr, mean.data(), std_dev.data(), c},
                          tmk::QuantParams{in_scale, in_zp}, tmk::QuantParams{out_scale, out_zp},
                          labels.data(), k, host.input.data(), host.output.data(), ring.data(),
                          host_invoke, &host, nullptr, nullptr};
  }
  tmk::ImuApp app;
  if (!app.begin(info, write_stdout, nullptr, capacity ? record.data() : nullptr, capacity,
                 model_path ? &model : nullptr)) {
    fputs("begin failed\n", stderr);
    return 3;
  }
  app.send_header();
  char buf[4096];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    std::string req(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    if (req.rfind("> ", 0) == 0) {
      app.on_line(req.c_str() + 2, false);
    } else if (req.rfind("s ", 0) == 0) {
      const std::vector<std::string> a = split(req.substr(2), ' ');
      float v[6];
      for (size_t i = 0; i < 6; ++i) v[i] = strtof(a.at(i).c_str(), nullptr);
      app.on_sample(v);
    } else if (req.rfind("l ", 0) == 0) {
      app.on_samples_lost(static_cast<uint32_t>(strtoul(req.c_str() + 2, nullptr, 10)));
    } else if (req.rfind("e ", 0) == 0) {
      app.on_sensor_error(req.c_str() + 2);
    }
  }
  return 0;
}

// The mic sketch's recording, with a known signal: sample i of every take is ((i * 37) % 2001) - 1000.
struct HostMic {
  bool fail_next = false;
};

bool host_record(void* ctx, int16_t* out, uint32_t n) {
  HostMic* mic = static_cast<HostMic*>(ctx);
  if (mic->fail_next) {
    mic->fail_next = false;
    return false;
  }
  for (uint32_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>(static_cast<int32_t>((i * 37) % 2001) - 1000);
  return true;
}

int run_mic(int argc, char** argv) {
  const uint32_t capacity = static_cast<uint32_t>(atoi(argv[argc - 1]));
  std::vector<int16_t> storage(capacity);
  HostMic mic;
  tmk::MicApp app;
  if (!app.begin("host_test", 16000, write_stdout, nullptr, storage.data(), capacity, host_record, &mic)) {
    fputs("begin failed\n", stderr);
    return 3;
  }
  app.send_header();
  char buf[512];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    std::string req(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    if (req.rfind("> ", 0) == 0) {
      app.on_line(req.c_str() + 2, false);
    } else if (req == "overflow") {
      app.on_line("", true);
    } else if (req == "mic off") {
      app.set_mic_ok(false);
    } else if (req == "fail next") {
      mic.fail_next = true;
    }
  }
  return 0;
}

// camera WIDTH HEIGHT: a tmk::CameraApp on stdin/stdout. Frame k is the test pattern
// (x * 7 + y * 13 + k) & 0xFF, which contains '\n' and '#' bytes. Stdin lines: "> <command>",
// "camera off", "fail next".
struct HostCamera {
  uint32_t width, height, frames;
  bool fail_next;
};

bool host_capture(void* ctx, uint8_t* frame) {
  HostCamera* cam = static_cast<HostCamera*>(ctx);
  if (cam->fail_next) {
    cam->fail_next = false;
    return false;
  }
  for (uint32_t y = 0; y < cam->height; ++y) {
    for (uint32_t x = 0; x < cam->width; ++x) {
      frame[y * cam->width + x] = static_cast<uint8_t>((x * 7 + y * 13 + cam->frames) & 0xFFu);
    }
  }
  ++cam->frames;
  return true;
}

// The test model of `camera W H model`: input 8 x 8 (the frame's centre 16 x 16 shrunk by 2),
// labels dark/bright, output [20, -10] when the int8 input sums to <= 0, else [-10, 20]; the
// "Invoke()" takes 1234 us. (A stand-in for TFLM: what is tested is CameraApp's frame ->
// int8 input -> #RESULT path; TFLM itself is tested in Python.)
int8_t g_test_input[64];
int8_t g_test_output[2];
const char* const kTestLabels[] = {"dark", "bright"};

bool test_invoke(void*, uint32_t* invoke_us) {
  int32_t sum = 0;
  for (int8_t v : g_test_input) sum += v;
  g_test_output[0] = static_cast<int8_t>(sum > 0 ? -10 : 20);
  g_test_output[1] = static_cast<int8_t>(sum > 0 ? 20 : -10);
  *invoke_us = 1234;
  return true;
}

int run_camera(int argc, char** argv) {
  HostCamera cam{static_cast<uint32_t>(atoi(argv[2])), static_cast<uint32_t>(atoi(argv[3])), 0, false};
  std::vector<uint8_t> frame(static_cast<size_t>(cam.width) * cam.height + 1);
  const tmk::ImageModel model{8, 2, tmk::QuantParams{0.5f, 0}, kTestLabels, 2, g_test_input, g_test_output,
                              test_invoke, nullptr};
  const bool with_model = argc == 5 && std::string(argv[4]) == "model";
  tmk::CameraApp app;
  if (!app.begin("host_test", cam.width, cam.height, 5, write_stdout, nullptr, frame.data(), host_capture, &cam,
                 with_model ? &model : nullptr)) {
    fputs("begin failed\n", stderr);
    return 3;
  }
  app.send_header();
  char buf[512];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    std::string req(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    if (req.rfind("> ", 0) == 0) {
      app.on_line(req.c_str() + 2, false);
    } else if (req == "camera off") {
      app.set_camera_ok(false);
    } else if (req == "fail next") {
      cam.fail_next = true;
    }
  }
  return 0;
}

int run_ticker() {
  tmk::Ticker ticker;
  char buf[256];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    unsigned long now = 0, period = 0;
    if (sscanf(buf, "start %lu %lu", &now, &period) == 2) {
      ticker.start(static_cast<uint32_t>(now), static_cast<uint32_t>(period));
    } else if (sscanf(buf, "due %lu", &now) == 1) {
      const bool due = ticker.due(static_cast<uint32_t>(now));
      printf("%d %u\n", due ? 1 : 0, static_cast<unsigned>(ticker.take_skipped()));
    }
  }
  return 0;
}


// --- keyword spotting (tmk_kws.h) -------------------------------------------------------------

int run_kws_features(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const int n = r.get<int32_t>();
  const int zero_point = r.get<int32_t>();
  const float feature_scale = r.get<float>();
  const float input_scale = r.get<float>();
  const std::vector<uint16_t> frontend = r.get_n<uint16_t>(static_cast<size_t>(n));
  std::vector<int8_t> q(static_cast<size_t>(n));
  tmk::FeaturesToInt8(frontend.data(), n, feature_scale, input_scale, zero_point, q.data());
  write_file(out, q.data(), q.size(), "wb");
  return 0;
}

int run_kws_scores(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t rows = static_cast<size_t>(r.get<int32_t>());
  const int k = r.get<int32_t>();
  const std::vector<uint16_t> table = r.get_n<uint16_t>(256);
  const std::vector<int8_t> logits = r.get_n<int8_t>(rows * static_cast<size_t>(k));
  std::vector<uint8_t> scores(logits.size());
  for (size_t i = 0; i < rows; ++i) {
    tmk::LogitsToScores(logits.data() + i * k, k, table.data(), scores.data() + i * k);
  }
  write_file(out, scores.data(), scores.size(), "wb");
  return 0;
}

int run_kws_recognizer(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  tmk::KeywordRecognizerConfig config{};
  config.category_count = r.get<int32_t>();
  config.average_window_ms = static_cast<uint32_t>(r.get<int32_t>());
  config.threshold = static_cast<uint8_t>(r.get<int32_t>());
  config.suppression_ms = static_cast<uint32_t>(r.get<int32_t>());
  config.minimum_count = static_cast<uint32_t>(r.get<int32_t>());
  config.silence_index = r.get<int32_t>();
  config.unknown_index = r.get<int32_t>();
  const size_t steps = static_cast<size_t>(r.get<int32_t>());
  const std::vector<uint32_t> times = r.get_n<uint32_t>(steps);
  const std::vector<uint8_t> scores =
      r.get_n<uint8_t>(steps * static_cast<size_t>(config.category_count));
  static tmk::KeywordRecognizer recognizer;  // 1.3 KB: keep it off the stack, as a sketch does
  if (!recognizer.init(config)) return 3;
  std::vector<int32_t> result;
  for (size_t i = 0; i < steps; ++i) {
    tmk::KeywordDecision decision{false, -7, 7, false};
    const bool ok = recognizer.process(scores.data() + i * config.category_count, times[i], &decision);
    result.insert(result.end(), {ok ? 1 : 0, decision.ready ? 1 : 0, decision.top_index,
                                 static_cast<int32_t>(decision.score), decision.is_new ? 1 : 0});
  }
  write_file(out, result.data(), result.size() * sizeof(int32_t), "wb");
  return 0;
}

int run_kws_window(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t count = static_cast<size_t>(r.get<int32_t>());
  const size_t size = static_cast<size_t>(r.get<int32_t>());
  const size_t n = static_cast<size_t>(r.get<int32_t>());
  const std::vector<int8_t> slices = r.get_n<int8_t>(n * size);
  std::vector<int8_t> storage(count * size), window(count * size), windows;
  tmk::FeatureWindow fw;
  if (!fw.init(storage.data(), count, size)) return 3;
  for (size_t i = 0; i < n; ++i) {
    if (fw.copy_to(window.data()) != fw.full()) return 4;
    fw.push(slices.data() + i * size);
    if (fw.pushed() != i + 1 || fw.size() != (i + 1 < count ? i + 1 : count)) return 5;
    if (fw.copy_to(window.data())) windows.insert(windows.end(), window.begin(), window.end());
  }
  write_file(out, windows.data(), windows.size(), "wb");
  return 0;
}

int run_kws_ring(const char* cap_text) {
  const uint32_t capacity = static_cast<uint32_t>(strtoul(cap_text, nullptr, 10));
  std::vector<int16_t> storage(capacity > 0 ? capacity : 1);
  tmk::AudioRing ring;
  if (!ring.init(capacity > 0 ? storage.data() : nullptr, capacity)) {
    puts("INIT FAILED");
    return 0;
  }
  int16_t next = 0;
  char buf[256];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    unsigned long n = 0;
    if (sscanf(buf, "w %lu", &n) == 1) {
      std::vector<int16_t> chunk(n);
      for (auto& v : chunk) v = next++;
      const uint32_t written = ring.write(chunk.data(), static_cast<uint32_t>(n));
      next = static_cast<int16_t>(next - static_cast<int16_t>(n - written));  // unwritten: again
      printf("W %u\n", static_cast<unsigned>(written));
    } else if (sscanf(buf, "r %lu", &n) == 1) {
      std::vector<int16_t> got(n);
      const uint32_t count = ring.read(got.data(), static_cast<uint32_t>(n));
      printf("R %u", static_cast<unsigned>(count));
      for (uint32_t i = 0; i < count; ++i) printf(" %d", got[i]);
      printf("\n");
    } else if (buf[0] == 'd') {
      printf("D %u\n", static_cast<unsigned>(ring.take_dropped()));
    } else if (buf[0] == 'a') {
      printf("A %u\n", static_cast<unsigned>(ring.available()));
    }
  }
  return 0;
}

struct HostKwsModel {  // the Invoke stand-in: output[k] = input[k]
  std::vector<int8_t> input, output;
  uint32_t invokes = 0;
};

bool host_kws_invoke(void* ctx, uint32_t* invoke_us) {
  HostKwsModel* m = static_cast<HostKwsModel*>(ctx);
  for (size_t k = 0; k < m->output.size(); ++k) m->output[k] = m->input[k];
  *invoke_us = ++m->invokes;
  return true;
}

int run_kws_app(const char* model_path) {
  const std::vector<char> d = read_file(model_path);
  Reader r{d, 0};
  const size_t slice_size = static_cast<size_t>(r.get<int32_t>());
  const size_t slice_count = static_cast<size_t>(r.get<int32_t>());
  const size_t k = static_cast<size_t>(r.get<int32_t>());
  const uint32_t invoke_every = static_cast<uint32_t>(r.get<int32_t>());
  const int in_zp = r.get<int32_t>(), out_zp = r.get<int32_t>();
  tmk::KeywordRecognizerConfig detection{};
  detection.category_count = static_cast<int>(k);
  detection.average_window_ms = static_cast<uint32_t>(r.get<int32_t>());
  detection.threshold = static_cast<uint8_t>(r.get<int32_t>());
  detection.suppression_ms = static_cast<uint32_t>(r.get<int32_t>());
  detection.minimum_count = static_cast<uint32_t>(r.get<int32_t>());
  detection.silence_index = r.get<int32_t>();
  detection.unknown_index = r.get<int32_t>();
  const float feature_scale = r.get<float>(), in_scale = r.get<float>(), out_scale = r.get<float>();
  const std::vector<uint16_t> table = r.get_n<uint16_t>(256);
  std::vector<std::string> label_text;
  std::vector<const char*> labels;
  for (size_t i = 0; i < k; ++i) label_text.push_back("K" + std::to_string(i));
  for (const auto& t : label_text) labels.push_back(t.c_str());
  HostKwsModel host;
  host.input.assign(slice_count * slice_size, 0);
  host.output.assign(k, 0);
  std::vector<int8_t> window(slice_count * slice_size);
  tmk::KwsModel model{16000, 480, 320, 30, 20, slice_size, slice_count, feature_scale,
                      tmk::QuantParams{in_scale, in_zp}, tmk::QuantParams{out_scale, out_zp},
                      labels.data(), k, table.data(), detection, invoke_every, window.data(),
                      host.input.data(), host.output.data(), host_kws_invoke, &host};
  static tmk::KwsApp app;
  if (!app.begin("host_test", write_stdout, nullptr, model)) {
    fputs("begin failed\n", stderr);
    return 3;
  }
  app.send_header();
  std::string req;
  char buf[8192];
  std::vector<uint16_t> slice(slice_size);
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    req.assign(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    if (req.rfind("> ", 0) == 0) {
      app.on_line(req.c_str() + 2, false);
    } else if (req.rfind("f ", 0) == 0) {
      const std::vector<std::string> a = split(req.substr(2), ' ');
      for (size_t i = 0; i < slice_size; ++i) slice[i] = static_cast<uint16_t>(atoi(a.at(i).c_str()));
      const bool detected = app.on_slice(slice.data());
      if (detected && !app.last_decision().is_new) return 4;
    } else if (req.rfind("l ", 0) == 0) {
      app.on_audio_lost(static_cast<uint32_t>(strtoul(req.c_str() + 2, nullptr, 10)));
    }
  }
  return 0;
}

// --- anomaly detection (tmk_anomaly.h) ---------------------------------------------------------

struct HostAnomaly {  // MODEL of the anomaly commands, and the Invoke stand-in's tensors
  size_t w = 0, s = 0, c = 0, k = 0, f = 0;
  bool has_sign = false;
  tmk::QuantParams in{}, out{};
  float autoencoder_threshold = 0.0f, kmeans_threshold = 0.0f;
  std::vector<float> sign, mean, std_dev, centroids;
  std::vector<int8_t> input, output;
  uint32_t invokes = 0;
  bool fail_next = false;

  tmk::AnomalyModel model() {
    return tmk::AnomalyModel{c, has_sign ? sign.data() : nullptr, mean.data(), std_dev.data(),
                             centroids.data(), k, in, out, autoencoder_threshold, kmeans_threshold,
                             input.data(), output.data(), invoke, this};
  }

  static bool invoke(void* ctx, uint32_t* invoke_us) {
    HostAnomaly* m = static_cast<HostAnomaly*>(ctx);
    if (m->fail_next) {
      m->fail_next = false;
      return false;
    }
    memcpy(m->output.data(), m->input.data(), m->input.size());  // the tensors stay put
    *invoke_us = ++m->invokes;
    return true;
  }
};

HostAnomaly read_anomaly_model(const char* path) {
  const std::vector<char> d = read_file(path);
  Reader r{d, 0};
  HostAnomaly m;
  m.w = static_cast<size_t>(r.get<int32_t>());
  m.s = static_cast<size_t>(r.get<int32_t>());
  m.c = static_cast<size_t>(r.get<int32_t>());
  m.k = static_cast<size_t>(r.get<int32_t>());
  m.f = tmk::kWindowStatisticCount * m.c;
  const int in_zp = r.get<int32_t>(), out_zp = r.get<int32_t>();
  m.has_sign = r.get<int32_t>() != 0;
  const float in_scale = r.get<float>(), out_scale = r.get<float>();
  m.in = tmk::QuantParams{in_scale, in_zp};
  m.out = tmk::QuantParams{out_scale, out_zp};
  m.autoencoder_threshold = r.get<float>();
  m.kmeans_threshold = r.get<float>();
  m.sign = r.get_n<float>(m.c);
  m.mean = r.get_n<float>(m.f);
  m.std_dev = r.get_n<float>(m.f);
  m.centroids = r.get_n<float>(m.k * m.f);
  m.input.assign(m.f, 0);
  m.output.assign(m.f, 0);
  return m;
}

int run_anomaly_features(const char* model_path, const char* in, const char* out) {
  HostAnomaly m = read_anomaly_model(model_path);
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t n = static_cast<size_t>(r.get<int32_t>());
  const std::vector<float> raw = r.get_n<float>(n * m.w * m.c);
  const float* sign = m.has_sign ? m.sign.data() : nullptr;
  std::vector<float> features(n * m.f), z(n * m.f), distance(n), from_ring(m.f);
  std::vector<int8_t> q(n * m.f);
  std::vector<float> storage((m.w + 3) * m.c);  // a ring larger than the window: it wraps
  tmk::SampleRing ring;
  if (!ring.init(storage.data(), m.w + 3, m.c)) return 3;
  for (size_t i = 0; i < n; ++i) {
    const float* window = raw.data() + i * m.w * m.c;
    float* fi = features.data() + i * m.f;
    float* zi = z.data() + i * m.f;
    if (!tmk::window_statistics(window, m.w, m.c, sign, fi)) return 4;
    for (size_t t = 0; t < m.w; ++t) ring.push(window + t * m.c);
    if (!tmk::window_statistics_latest(ring, m.w, sign, from_ring.data()) ||
        memcmp(from_ring.data(), fi, m.f * sizeof(float)) != 0) {
      return 5;
    }
    tmk::standardize(fi, m.mean.data(), m.std_dev.data(), m.f, zi);
    for (size_t j = 0; j < m.f; ++j) q[i * m.f + j] = tmk::quantize_value(zi[j], m.in);
    distance[i] = tmk::kmeans_distance(zi, m.centroids.data(), m.k, m.f);
  }
  write_file(out, features.data(), features.size() * sizeof(float), "wb");
  write_file(out, z.data(), z.size() * sizeof(float), "ab");
  write_file(out, q.data(), q.size(), "ab");
  write_file(out, distance.data(), distance.size() * sizeof(float), "ab");
  return 0;
}

int run_kmeans(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t n = static_cast<size_t>(r.get<int32_t>()), f = static_cast<size_t>(r.get<int32_t>());
  const size_t k = static_cast<size_t>(r.get<int32_t>());
  const std::vector<float> centroids = r.get_n<float>(k * f), z = r.get_n<float>(n * f);
  std::vector<float> distance(n);
  for (size_t i = 0; i < n; ++i) distance[i] = tmk::kmeans_distance(z.data() + i * f, centroids.data(), k, f);
  write_file(out, distance.data(), distance.size() * sizeof(float), "wb");
  return 0;
}

int run_recon(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t n = static_cast<size_t>(r.get<int32_t>()), f = static_cast<size_t>(r.get<int32_t>());
  const int in_zp = r.get<int32_t>(), out_zp = r.get<int32_t>();
  const float in_scale = r.get<float>(), out_scale = r.get<float>();
  const std::vector<int8_t> q_in = r.get_n<int8_t>(n * f), q_out = r.get_n<int8_t>(n * f);
  std::vector<float> score(n);
  for (size_t i = 0; i < n; ++i) {
    score[i] = tmk::reconstruction_error(q_in.data() + i * f, q_out.data() + i * f, f,
                                         tmk::QuantParams{in_scale, in_zp}, tmk::QuantParams{out_scale, out_zp});
  }
  write_file(out, score.data(), score.size() * sizeof(float), "wb");
  return 0;
}

int run_anomaly_app(const char* model_path) {
  static const char* const kChannels[] = {"ax", "ay", "az", "wx", "wy", "wz"};
  static const char* const kUnits[] = {"g", "g", "g", "rad/s", "rad/s", "rad/s"};
  HostAnomaly host = read_anomaly_model(model_path);
  if (host.c != 6) return 3;
  const tmk::StreamInfo info{"host_test", "imu", 50.0f, kChannels, kUnits, 6};
  tmk::AnomalyModel detector = host.model();
  std::vector<float> ring(host.w * host.c);
  const tmk::ImuModel model{host.w, host.s, tmk::Normalization{nullptr, nullptr, nullptr, host.c},
                            host.in, host.out, tmk::kAnomalyLabels, 2, nullptr, nullptr, ring.data(),
                            nullptr, nullptr, tmk::anomaly_window_step,
                            &detector};
  tmk::ImuApp app;
  if (!app.begin(info, write_stdout, nullptr, nullptr, 0, &model)) {
    fputs("begin failed\n", stderr);
    return 3;
  }
  app.send_header();
  char buf[4096];
  while (fgets(buf, sizeof(buf), stdin) != nullptr) {
    std::string req(buf);
    while (!req.empty() && (req.back() == '\n' || req.back() == '\r')) req.pop_back();
    if (req.rfind("> ", 0) == 0) {
      app.on_line(req.c_str() + 2, false);
    } else if (req.rfind("s ", 0) == 0) {
      const std::vector<std::string> a = split(req.substr(2), ' ');
      float v[6];
      for (size_t i = 0; i < 6; ++i) v[i] = strtof(a.at(i).c_str(), nullptr);
      app.on_sample(v);
    } else if (req == "f") {
      host.fail_next = true;
    }
  }
  return 0;
}

}  // namespace

// image IN OUT: IN = int32 width, height, out_side, factor, then width*height frame bytes;
// OUT = out_side^2 pixels (frame_to_pixels) then out_side^2 int8 (frame_to_int8), or one byte
// 'X' when the functions refuse the sizes.
int run_image(const char* in, const char* out) {
  const std::vector<char> d = read_file(in);
  Reader r{d, 0};
  const size_t width = static_cast<size_t>(r.get<int32_t>()), height = static_cast<size_t>(r.get<int32_t>());
  const size_t side = static_cast<size_t>(r.get<int32_t>()), factor = static_cast<size_t>(r.get<int32_t>());
  const std::vector<uint8_t> frame = r.get_n<uint8_t>(width * height);
  std::vector<uint8_t> pixels(side * side + 1);
  std::vector<int8_t> q(side * side + 1);
  const bool ok_pixels = tmk::frame_to_pixels(frame.data(), width, height, side, factor, pixels.data());
  const bool ok_int8 = tmk::frame_to_int8(frame.data(), width, height, side, factor, q.data());
  if (ok_pixels != ok_int8) return 3;
  if (!ok_pixels) {
    write_file(out, "X", 1, "wb");
    return 0;
  }
  write_file(out, pixels.data(), side * side, "wb");
  write_file(out, q.data(), side * side, "ab");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fputs("usage: tmk_driver preprocess|round|ring|lines|reader|app|ticker|mic|kws_*|anomaly_*|kmeans|recon ...\n", stderr);
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "preprocess" && argc == 4) return run_preprocess(argv[2], argv[3]);
  if (mode == "round" && argc == 4) return run_round(argv[2], argv[3]);
  if (mode == "ring" && argc == 4) return run_ring(argv[2], argv[3]);
  if (mode == "lines") return run_lines();
  if (mode == "reader") return run_reader();
  if (mode == "app" && (argc == 3 || argc == 4)) return run_app(argc, argv);
  if (mode == "ticker") return run_ticker();
  if (mode == "mic" && argc == 3) return run_mic(argc, argv);
  if (mode == "kws_features" && argc == 4) return run_kws_features(argv[2], argv[3]);
  if (mode == "kws_scores" && argc == 4) return run_kws_scores(argv[2], argv[3]);
  if (mode == "kws_recognizer" && argc == 4) return run_kws_recognizer(argv[2], argv[3]);
  if (mode == "kws_window" && argc == 4) return run_kws_window(argv[2], argv[3]);
  if (mode == "kws_ring" && argc == 3) return run_kws_ring(argv[2]);
  if (mode == "kws_app" && argc == 3) return run_kws_app(argv[2]);
  if (mode == "image" && argc == 4) return run_image(argv[2], argv[3]);
  if (mode == "camera" && (argc == 4 || argc == 5)) return run_camera(argc, argv);
  if (mode == "anomaly_features" && argc == 5) return run_anomaly_features(argv[2], argv[3], argv[4]);
  if (mode == "kmeans" && argc == 4) return run_kmeans(argv[2], argv[3]);
  if (mode == "recon" && argc == 4) return run_recon(argv[2], argv[3]);
  if (mode == "anomaly_app" && argc == 3) return run_anomaly_app(argv[2]);
  fputs("bad arguments\n", stderr);
  return 2;
}
