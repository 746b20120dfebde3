"""Keyword spotting in the TinyMLKit library (hardware/libraries/TinyMLKit/src/tmk_kws.h),
compiled with g++ and driven by tests/native/tmk_driver.cpp: every integer it computes equals
tinymlkit's Python reference (tinymlkit.export.frontend_to_int8, tinymlkit.kws_runtime.logits_to_scores
and KeywordDetector) on thousands of random and structured inputs; and it compiles for the
Cortex-M4 with every warning an error."""

from __future__ import annotations

import collections
import pathlib
import shutil
import struct
import subprocess

import numpy as np
import pytest

from tinymlkit.export import MICRO_SPEECH_FEATURE_SCALE, frontend_to_int8, score_exp_table
from tinymlkit.toolchain import CrossCompileError, compile_for_cortex_m4, cortex_m4_command
from tinymlkit.quantize import QuantParams, dequantize
from tinymlkit.kws_runtime import KeywordDetector, detect_keywords, logits_to_scores

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIB = ROOT / "hardware" / "libraries" / "TinyMLKit"
LIB_SOURCES = sorted((LIB / "src").glob("*.cpp"))
KWS_SOURCE = LIB / "src" / "tmk_kws.cpp"
#: As tests/test_hardware.py: -Wdouble-promotion, no float silently widened to double.
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wdouble-promotion"]


def run(exe: pathlib.Path, *args, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
    """Run the driver (fails the test on a non-zero exit when ``check``)."""
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, timeout=300,
                          input=stdin.encode())
    if check:
        assert proc.returncode == 0, f"tmk_driver {args[0]} exited {proc.returncode}: {proc.stderr.decode()}"
    return proc


# --- FeaturesToInt8 --------------------------------------------------------------------------

def _features_in_c(driver, tmp_path, frontend: np.ndarray, feature_scale: float,
                   qp: QuantParams) -> np.ndarray:
    blob = struct.pack("<2i2f", len(frontend), qp.zero_point, feature_scale, qp.scale)
    (tmp_path / "f.bin").write_bytes(blob + frontend.astype("<u2").tobytes())
    run(driver, "kws_features", tmp_path / "f.bin", tmp_path / "q.bin")
    return np.frombuffer((tmp_path / "q.bin").read_bytes(), np.int8)


@pytest.mark.parametrize("scale,zero_point", [(0.10196079, -128), (0.078125, -128),
                                              (0.0390625, 0), (0.2, 17), (1e-3, -5)])
def test_features_to_int8_equals_python(driver, tmp_path, scale, zero_point):
    """Frontend values over the whole uint16 range, the usual 0..700 range densely, and values
    whose feature lands exactly on a rounding tie (scale 0.078125 = 2 x 10/256 makes every odd
    frontend value a tie)."""
    rng = np.random.default_rng(7)
    frontend = np.concatenate([rng.integers(0, 65536, 20000), np.arange(0, 1400),
                               rng.integers(0, 700, 20000), [0, 1, 65535]]).astype(np.uint16)
    qp = QuantParams(scale, zero_point)
    got = _features_in_c(driver, tmp_path, frontend, MICRO_SPEECH_FEATURE_SCALE, qp)
    expected = frontend_to_int8(frontend, MICRO_SPEECH_FEATURE_SCALE, qp)
    t = (frontend.astype(np.float32) * np.float32(MICRO_SPEECH_FEATURE_SCALE)) / np.float32(scale)
    ties = int(np.sum(t - np.floor(t) == 0.5))
    print(f"\nFeaturesToInt8, scale {scale} zp {zero_point}: {len(frontend):,} values, "
          f"{ties} exact ties, {int(np.sum(got != expected))} differences")
    assert got.shape == expected.shape and np.array_equal(got, expected)
    assert got.max() == 127 and np.sum(got == 127) > 100  # the upper clamp is exercised
    assert got.min() == max(-128, zero_point)  # features are >= 0: frontend 0 gives the zero point
    if scale == 0.078125:
        assert ties > 1000


def test_micro_speech_scale_is_the_features_stage_scale():
    """The kit's feature scale is the one the Python features are trained with, when the
    features stage defines it (tinymlkit.features.FEATURE_SCALE)."""
    from tinymlkit import features

    assert MICRO_SPEECH_FEATURE_SCALE == 10 / 256 == 0.0390625
    if hasattr(features, "FEATURE_SCALE"):
        assert float(features.FEATURE_SCALE) == MICRO_SPEECH_FEATURE_SCALE


# --- LogitsToScores --------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 6, 12, 16])
@pytest.mark.parametrize("scale", [0.004, 0.05, 0.1543, 0.4, 2.0])
def test_logits_to_scores_equals_python(driver, tmp_path, k, scale):
    rng = np.random.default_rng(k * 1000 + int(scale * 1000))
    random_rows = rng.integers(-128, 128, (1500, k))
    peaked = rng.integers(-128, -60, (300, k))
    peaked[np.arange(300), rng.integers(0, k, 300)] = rng.integers(0, 128, 300)
    structured = np.array([[-128] * k, [127] * k, [0] * k, [127] + [-128] * (k - 1),
                           [-128] * (k - 1) + [127]])
    logits = np.concatenate([random_rows, peaked, structured]).astype(np.int8)
    table = score_exp_table(scale)
    blob = struct.pack("<2i", len(logits), k) + table.astype("<u2").tobytes() + logits.tobytes()
    (tmp_path / "l.bin").write_bytes(blob)
    run(driver, "kws_scores", tmp_path / "l.bin", tmp_path / "s.bin")
    got = np.frombuffer((tmp_path / "s.bin").read_bytes(), np.uint8).reshape(logits.shape)
    qp = QuantParams(scale, 3)
    expected = logits_to_scores(logits, qp)
    assert np.array_equal(got, expected)
    # And the integer softmax is a softmax: within 1.5 score units of float64 softmax x 256.
    x = dequantize(logits, qp).astype(np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.max(np.abs(np.minimum(p * 256, 255) - expected)) <= 1.5


# --- KeywordRecognizer -----------------------------------------------------------------------

def _recognizer_in_c(driver, tmp_path, k, config: dict, times, scores) -> np.ndarray:
    blob = struct.pack("<8i", k, config["average_window_ms"], config["threshold"],
                       config["suppression_ms"], config["minimum_count"],
                       -1 if config["silence_index"] is None else config["silence_index"],
                       -1 if config["unknown_index"] is None else config["unknown_index"],
                       len(times))
    blob += np.asarray(times, dtype="<u4").tobytes() + np.asarray(scores, np.uint8).tobytes()
    (tmp_path / "r.bin").write_bytes(blob)
    run(driver, "kws_recognizer", tmp_path / "r.bin", tmp_path / "d.bin")
    return np.frombuffer((tmp_path / "d.bin").read_bytes(), "<i4").reshape(-1, 5)


def _recognizer_in_python(k, config: dict, times, scores) -> np.ndarray:
    det = KeywordDetector(k, **config)
    rows = []
    for t, s in zip(times, scores):
        try:
            d = det.process(s, int(t))
        except ValueError:  # time went backwards: the C++ returns false and keeps its state
            rows.append((0, 0, -7, 7, 0))
            continue
        rows.append((1, int(d.ready), d.top_index, d.score, int(d.is_new)))
    return np.array(rows, dtype=np.int32).reshape(-1, 5)


def _keyword_stream(rng, k: int, steps: int, burst_every: int) -> np.ndarray:
    """Background scores with keyword bursts of a few steps: some clear, some marginal."""
    s = rng.integers(0, 40, (steps, k))
    s[:, 0] += 120  # a silence-like class on top most of the time
    at = 5
    while at < steps:
        length, kw = int(rng.integers(3, 40)), int(rng.integers(0, k))
        level = int(rng.integers(150, 256))
        s[at:at + length, kw] = level
        s[at:at + length, [c for c in range(k) if c != kw]] //= 4
        at += length + int(rng.integers(1, burst_every))
    return np.clip(s, 0, 255).astype(np.uint8)


def test_recognizer_equals_python_on_random_streams(driver, tmp_path):
    rng = np.random.default_rng(11)
    total_steps = total_detections = 0
    for case in range(40):
        k = int(rng.integers(2, 17))
        config = dict(average_window_ms=int(rng.choice([100, 250, 500, 1000, 1500, 3000])),
                      threshold=int(rng.choice([0, 60, 128, 180, 200, 230, 255])),
                      suppression_ms=int(rng.choice([0, 40, 500, 1500])),
                      minimum_count=int(rng.choice([1, 3, 5, 70])),
                      silence_index=None if case % 3 == 0 else 0,
                      unknown_index=None if case % 4 == 0 or k < 3 else 1)
        steps = 400
        step_ms = int(rng.choice([10, 20, 40, 60, 100]))
        times = np.arange(steps, dtype=np.int64) * step_ms
        if case % 5 == 1:  # irregular steps, repeated times
            times = np.cumsum(rng.integers(0, 3 * step_ms, steps))
        if case % 5 == 2:  # across the uint32 wrap of millis()
            times = (2**32 - 3000 + times) % 2**32
        if case % 5 == 3:  # some times go backwards: refused, state kept
            times = times.copy()
            times[rng.choice(steps, 8, replace=False)] -= 5 * step_ms
            times %= 2**32
        scores = (_keyword_stream(rng, k, steps, 30) if case % 2 == 0
                  else rng.integers(0, 256, (steps, k)).astype(np.uint8))
        got = _recognizer_in_c(driver, tmp_path, k, config, times, scores)
        expected = _recognizer_in_python(k, config, times, scores)
        assert np.array_equal(got, expected), (case, config, np.argwhere(np.any(got != expected, axis=1))[:5])
        total_steps += steps
        total_detections += int(expected[:, 4].sum())
    print(f"\nKeywordRecognizer: {total_steps:,} steps in 40 streams, {total_detections} detections, "
          "C++ == Python on every step")
    assert total_detections > 100  # the streams do exercise detection and suppression


def test_recognizer_refuses_bad_configs(driver, tmp_path):
    base = dict(average_window_ms=1000, threshold=200, suppression_ms=1500, minimum_count=3,
                silence_index=None, unknown_index=None)
    for k, change in [(17, {}), (0, {}), (4, {"average_window_ms": 0}), (4, {"minimum_count": 0}),
                      (4, {"silence_index": 4}), (4, {"unknown_index": -2})]:
        config = {**base, **change}
        blob = struct.pack("<8i", k, config["average_window_ms"], config["threshold"],
                           config["suppression_ms"], config["minimum_count"],
                           -1 if config["silence_index"] is None else config["silence_index"],
                           -1 if config["unknown_index"] is None else config["unknown_index"], 0)
        (tmp_path / "bad.bin").write_bytes(blob)
        assert run(driver, "kws_recognizer", tmp_path / "bad.bin", tmp_path / "o.bin",
                   check=False).returncode == 3
        with pytest.raises(ValueError):
            KeywordDetector(k, **config)


def test_detector_follows_micro_speech_rules():
    """Hand-made streams with known answers (the rules of KeywordDetector's docstring)."""
    k = 3  # 0 silence, 1 and 2 keywords
    yes = np.array([0, 240, 16], np.uint8)
    quiet = np.array([250, 3, 3], np.uint8)
    det = KeywordDetector(k, average_window_ms=100, threshold=200, suppression_ms=150,
                          minimum_count=3, silence_index=0)
    d = [det.process(yes, t) for t in (0, 20, 40)]
    assert [x.ready for x in d] == [False, False, True]  # 3 results spanning 40 ms >= 100 // 4
    assert (d[2].top_index, d[2].score, d[2].is_new) == (1, 240, True)
    # Same keyword within 150 ms of the detection at 40 ms: suppressed (180 - 40 = 140).
    assert not any(det.process(yes, t).is_new for t in range(60, 200, 20))
    d = det.process(yes, 200)  # 200 - 40 = 160 > 150; results of 100..200 ms are averaged
    assert d.is_new and d.score == 240
    decisions = [det.process(quiet, t) for t in range(220, 420, 20)]
    assert not any(x.is_new for x in decisions)
    assert decisions[-1].top_index == 0  # silence on top: never a detection
    with pytest.raises(ValueError, match="earlier"):
        det.process(yes, 10)
    # The average is the integer division of the sums: class 2 (16 + 16 + 255 + 255) // 4 = 135.
    det = KeywordDetector(k, average_window_ms=1000, threshold=160, minimum_count=3)
    for t, s in ((0, yes), (100, yes), (200, [0, 0, 255]), (300, [0, 0, 255])):
        last = det.process(np.asarray(s, np.uint8), t)
    assert (last.ready, last.top_index, last.score) == (True, 2, 135)
    assert not last.is_new  # 135 < 160


# --- FeatureWindow, AudioRing ----------------------------------------------------------------

@pytest.mark.parametrize("count,size,n", [(49, 40, 300), (1, 5, 20), (3, 1, 10), (49, 40, 49)])
def test_feature_window_gives_the_latest_slices_oldest_first(driver, tmp_path, count, size, n):
    rng = np.random.default_rng(count + size)
    slices = rng.integers(-128, 128, (n, size)).astype(np.int8)
    (tmp_path / "w.bin").write_bytes(struct.pack("<3i", count, size, n) + slices.tobytes())
    run(driver, "kws_window", tmp_path / "w.bin", tmp_path / "o.bin")
    got = np.frombuffer((tmp_path / "o.bin").read_bytes(), np.int8).reshape(-1, count, size)
    expected = np.stack([slices[i - count + 1:i + 1] for i in range(count - 1, n)])
    assert np.array_equal(got, expected)


def test_audio_ring_is_a_bounded_fifo(driver):
    """Random writes and reads against a Python deque with the same capacity (capacity - 1
    usable): same counts, same samples in order, drops counted."""
    rng = np.random.default_rng(3)
    capacity = 1000
    script, expected = [], []
    fifo: collections.deque[int] = collections.deque()
    next_value, dropped = 0, 0
    for _ in range(3000):
        op = rng.integers(0, 10)
        if op < 5:
            n = int(rng.integers(0, 400))
            written = min(n, capacity - 1 - len(fifo))
            fifo.extend(((next_value + i + 2**15) % 2**16) - 2**15 for i in range(written))
            next_value += written
            dropped += n - written
            script.append(f"w {n}")
            expected.append(f"W {written}")
        elif op < 9:
            n = int(rng.integers(0, 500))
            got = [fifo.popleft() for _ in range(min(n, len(fifo)))]
            script.append(f"r {n}")
            expected.append(" ".join(["R", str(len(got)), *map(str, got)]))
        elif rng.integers(0, 2):
            script.append("d")
            expected.append(f"D {dropped}")
            dropped = 0
        else:
            script.append("a")
            expected.append(f"A {len(fifo)}")
    out = run(driver, "kws_ring", capacity, stdin="\n".join(script) + "\n").stdout.decode()
    assert out.splitlines() == expected
    assert next_value > 2**16  # the int16 sequence wrapped, the ring wrapped many times
    assert run(driver, "kws_ring", 1, stdin="").stdout.decode() == "INIT FAILED\n"


# --- KwsApp: the sketch's loop -----------------------------------------------------------------

def _app_model(k, invoke_every, in_qp, out_qp, detection: dict, slice_size=40, slice_count=49) -> bytes:
    blob = struct.pack("<12i", slice_size, slice_count, k, invoke_every, in_qp.zero_point,
                       out_qp.zero_point, detection["average_window_ms"], detection["threshold"],
                       detection["suppression_ms"], detection["minimum_count"],
                       -1 if detection["silence_index"] is None else detection["silence_index"],
                       -1 if detection["unknown_index"] is None else detection["unknown_index"])
    blob += struct.pack("<3f", MICRO_SPEECH_FEATURE_SCALE, in_qp.scale, out_qp.scale)
    return blob + score_exp_table(out_qp.scale).astype("<u2").tobytes()


def _frontend_stream(rng, n_slices: int, k: int) -> np.ndarray:
    """Frontend slices (uint16, 40 channels) whose first k channels carry 'keyword' bursts, so the
    stand-in model (logits = first k inputs of the oldest slice) produces detections."""
    f = rng.integers(0, 300, (n_slices, 40))
    f[:, 0] += 250
    at = 3
    while at < n_slices:
        length, kw = int(rng.integers(10, 60)), int(rng.integers(1, k))
        f[at:at + length, kw] = rng.integers(520, 700, min(length, n_slices - at))
        at += length + int(rng.integers(5, 80))
    return f.astype(np.uint16)


@pytest.mark.parametrize("invoke_every", [1, 2, 3])
def test_kws_app_detects_like_python(driver, tmp_path, invoke_every):
    """Frontend slices in, #DETECT lines out: the same detections (time, label, score, sample
    counter) as frontend_to_int8 → window → logits_to_scores → detect_keywords in Python."""
    capture = pytest.importorskip("tinymlkit.capture")
    rng = np.random.default_rng(invoke_every)
    k, n_slices = 6, 1500
    in_qp, out_qp = QuantParams(0.1019608, -128), QuantParams(0.0625, -20)
    detection = dict(average_window_ms=1000, threshold=150, suppression_ms=1500, minimum_count=3,
                     silence_index=0, unknown_index=None)
    (tmp_path / "m.bin").write_bytes(_app_model(k, invoke_every, in_qp, out_qp, detection))
    frontend = _frontend_stream(rng, n_slices, k)
    script = [f"f {' '.join(map(str, row))}" for row in frontend]
    out = run(driver, "kws_app", tmp_path / "m.bin", stdin="\n".join(script) + "\n").stdout.decode()
    lines = out.splitlines()
    assert capture.parse_header(lines[0]).sensor == "mic"
    got = [dict(kv.split("=") for kv in line.split()[1:]) for line in lines[1:]]
    assert all(line.startswith("#DETECT ") for line in lines[1:])
    # Python: the model input after slice j is slices j-48..j; the stand-in's logits are the first
    # k values of the window, i.e. of its oldest slice j-48.
    q = frontend_to_int8(frontend, MICRO_SPEECH_FEATURE_SCALE, in_qp)
    invoked = np.arange(48, n_slices, invoke_every)
    logits = q[invoked - 48, :k]
    expected = detect_keywords(logits, 20 * invoke_every, output_quant=out_qp,
                               labels=[f"K{i}" for i in range(k)], start_ms=48 * 20 + 30,
                               **detection)
    assert len(expected) >= 10
    assert [(int(g["t"]), g["label"], int(g["score"])) for g in got] == \
        [(e.time_ms, e.label, e.score) for e in expected]
    assert [int(g["n"]) for g in got] == [(e.time_ms - 30) // 20 * 320 + 479 for e in expected]


def test_kws_app_answers_the_protocol(driver, tmp_path):
    capture = pytest.importorskip("tinymlkit.capture")
    k = 4
    in_qp, out_qp = QuantParams(0.1, -128), QuantParams(0.125, 2)
    detection = dict(average_window_ms=1000, threshold=255, suppression_ms=0, minimum_count=3,
                     silence_index=None, unknown_index=None)
    (tmp_path / "m.bin").write_bytes(_app_model(k, 2, in_qp, out_qp, detection))
    frontend = np.random.default_rng(5).integers(0, 700, (60, 40)).astype(np.uint16)
    f = [f"f {' '.join(map(str, row))}" for row in frontend]
    script = ["> INFO", "> INFER", *f[:49], "> INFER", "> START", *f[49:55], "> STOP",
              "> RECORD ms=1000", "> ACT yes", "l 320", "> START", "> START", "> STOP"]
    lines = run(driver, "kws_app", tmp_path / "m.bin", stdin="\n".join(script) + "\n").stdout.decode().splitlines()
    header = capture.parse_header(lines[0])
    assert (header.board, header.sensor, header.rate_hz, header.channels) == ("host_test", "mic", 16000.0, ("mic",))
    assert lines[1] == lines[0]
    assert lines[2] == "#ERR window not full yet (0 of 49 slices)"
    q = frontend_to_int8(frontend, MICRO_SPEECH_FEATURE_SCALE, in_qp)

    def check_result(line, j, invokes):
        r = capture.parse_line(line, 1)
        logits = q[j - 48, :k]
        assert (r.kind, r.counter, r.micros) == ("result", j * 320 + 479, invokes)
        assert r.label == f"K{int(np.argmax(logits))}"
        assert np.allclose(r.logits, dequantize(logits, out_qp), rtol=5e-6, atol=1e-6)

    check_result(lines[3], 48, 2)  # slice 48 ran the model (invoke 1), then INFER (invoke 2)
    assert lines[4] == "#START"
    # Slices 49..54 during the take: the model runs after slices 50, 52, 54 (every 2nd).
    for line, j, invokes in zip(lines[5:8], (50, 52, 54), (3, 4, 5)):
        check_result(line, j, invokes)
    assert lines[8:] == ["#STOP n=3",
                         "#ERR kws_inference does not record audio: upload mic_capture for RECORD",
                         "#ERR unknown command ACT",
                         "#ERR audio lost: 320 samples (the loop is slower than real time: raise kInvokeEverySlices)",
                         "#START", "#ERR a take is running: send STOP first", "#STOP n=0"]


# --- Cortex-M4 -------------------------------------------------------------------------------

def test_kws_compiles_for_cortex_m4_without_warnings():
    if shutil.which("arm-none-eabi-g++") is None or shutil.which("arm-none-eabi-size") is None:
        pytest.skip("arm-none-eabi-g++ not installed (scripts/system_deps.sh installs it)")
    try:
        sizes = compile_for_cortex_m4([KWS_SOURCE], include_dirs=[LIB / "src"])
    except CrossCompileError as exc:
        pytest.fail(str(exc))
    print(f"\nCortex-M4 ({cortex_m4_command()}): tmk_kws.cpp {sizes.flash_bytes:,} B flash, "
          f"{sizes.data_bytes + sizes.bss_bytes} B static RAM")
    assert 0 < sizes.flash_bytes < 6 * 1024 and sizes.data_bytes + sizes.bss_bytes == 0
    proc = subprocess.run(["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                           "-mfpu=fpv4-sp-d16", "-std=c++17", "-Os", *WARNINGS, f"-I{LIB / 'src'}",
                           "-c", str(KWS_SOURCE), "-o", "/dev/null"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- the kws_inference sketches and profiles -------------------------------------------------

KITS = {"nano33ble_sense_rev1": "arduino:mbed_nano", "nano33ble_sense_rev2": "arduino:mbed_nano",
        "xiao_esp32s3_sense": "esp32:esp32"}
EXPORTED = ("model_data.cc", "model_data.h", "model_settings.h", "model_int8.tflite",
            "model_settings.json")


@pytest.mark.parametrize("kit", sorted(KITS))
def test_kws_inference_sketch_is_glue_with_the_motion_sketch_profile(kit):
    """Each kit's kws_inference: TinyMLKit's KwsApp fed by the microfrontend (the shared
    tmk::KwsRuntime of tmk_kws_runtime.h), clear #errors for missing or wrong model files, and the
    core and TFLM library pinned as in motion_inference."""
    yaml = pytest.importorskip("yaml")
    folder = ROOT / "hardware" / kit / "kws_inference"
    ino = (folder / "kws_inference.ino").read_text()
    runtime = (LIB / "src" / "tmk_kws_runtime.h").read_text()
    assert "#include <TinyMLKit.h>" in ino and f'kBoardId[] = "{kit}"' in ino
    assert '__has_include("model_settings.h")' in ino and "#if !defined(TINYMLKIT_KEYWORD_MODEL)" in ino
    assert '__has_include("tensorflow/lite/experimental/microfrontend/lib/frontend.h")' in ino
    assert "#include <tmk_kws_runtime.h>" in ino and "TMK_KWS_SETTINGS_FROM_MODEL_SETTINGS()" in ino
    assert "g_kws.audio().write(" in ino and "g_kws.poll()" in ino
    for call in ("FrontendPopulateState(", "FrontendProcessSamples(", "app_.on_slice(",
                 "app_.on_line(", "app_.on_audio_lost(", "audio_.read(", "digitalWrite(LED_BUILTIN"):
        assert call in runtime, call
    assert "tmk_kws_runtime" not in (LIB / "src" / "TinyMLKit.h").read_text()
    assert ("tmk::PdmMic::begin(kAudioSampleRateHz" in ino) == kit.startswith("nano33ble")  # tmk_pdm_mic.h
    assert ("I2S_MODE_PDM_RX" in ino) == (kit == "xiao_esp32s3_sense")
    profile = yaml.safe_load((folder / "sketch.yaml").read_text())["profiles"][kit]
    motion = yaml.safe_load((folder.parent / "motion_inference" / "sketch.yaml").read_text())["profiles"][kit]
    assert profile["fqbn"] == motion["fqbn"] and profile["fqbn"].startswith(KITS[kit] + ":")
    assert profile["platforms"] == motion["platforms"]
    tflm = [lib for lib in motion["libraries"] if isinstance(lib, str) and "TensorFLowLite" in lib]
    assert profile["libraries"] == [*tflm, {"dir": "../../libraries/TinyMLKit"}]
    ignored = subprocess.run(["git", "check-ignore", *(str(folder / f) for f in EXPORTED)],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert len(ignored) == len(EXPORTED), "the exported model files must be git-ignored"
