"""The kits' code (hardware/): the TinyMLKit library, compiled for this machine with g++ and for
the Cortex-M4 with arm-none-eabi-g++, checked against tinymlkit's Python on the shipped dataset
and the demo's real settings; the kit folders, sketches and build profiles."""

from __future__ import annotations

import pathlib
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

from tinymlkit.export import load_model_files
from tinymlkit.toolchain import CrossCompileError, compile_for_cortex_m4, cortex_m4_command
from tinymlkit.features import Normalization, sliding_windows, window_recordings
from tinymlkit.quantize import QuantParams, dequantize, quantize
from tinymlkit.report import TFLITE_BYTES_METHOD, measure_model_flash

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARDWARE = ROOT / "hardware"
LIB = HARDWARE / "libraries" / "TinyMLKit"
LIB_SOURCES = sorted((LIB / "src").glob("*.cpp"))
#: -Wdouble-promotion: no float silently widened to double (software double on a Cortex-M4F).
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wdouble-promotion"]
KITS = {"nano33ble_sense_rev1": "arduino:mbed_nano", "nano33ble_sense_rev2": "arduino:mbed_nano",
        "xiao_esp32s3_sense": "esp32:esp32"}
SKETCHES = ("imu_capture", "mic_capture", "image_capture", "motion_inference", "image_inference",
            "anomaly_inference")
EXPORTED = ("model_data.cc", "model_data.h", "model_settings.h", "model_int8.tflite",
            "model_settings.json")

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None,
                               reason="g++ not installed (scripts/system_deps.sh installs it)")
needs_arm = pytest.mark.skipif(
    shutil.which("arm-none-eabi-g++") is None or shutil.which("arm-none-eabi-size") is None,
    reason="arm-none-eabi-g++ not installed (apt-get install gcc-arm-none-eabi "
           "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib; scripts/system_deps.sh)")


def run(exe: pathlib.Path, *args, stdin: str | bytes = "") -> str:
    """Run the driver; its stdout as text (fails the test on a non-zero exit)."""
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, timeout=120,
                          input=stdin.encode() if isinstance(stdin, str) else stdin)
    assert proc.returncode == 0, f"tmk_driver {args[0]} exited {proc.returncode}: {proc.stderr.decode()}"
    return proc.stdout.decode()


def lines_of(exe, *requests: str) -> list[str]:
    """Format requests through `tmk_driver lines`; one output line per request (without '\\n')."""
    return run(exe, "lines", stdin="\n".join(requests) + "\n").splitlines()


@pytest.fixture(scope="module")
def settings(demo_run):
    """The demo's exported ModelSettings (model_settings.json, the twin of model_settings.h)."""
    return load_model_files(demo_run[0])[1]


def _f32(x) -> str:
    """A float32 as text that strtof reads back to the same float32."""
    return f"{float(np.float32(x)):.9g}"


# --- the library stays portable --------------------------------------------------------------

def test_library_uses_only_standard_headers_and_no_heap():
    allowed = {"math.h", "stdarg.h", "stddef.h", "stdint.h", "stdio.h", "string.h"}
    files = sorted((LIB / "src").iterdir())
    assert {p.suffix for p in files} == {".h", ".cpp"} and len(LIB_SOURCES) >= 5
    for path in files:
        text = path.read_text()
        system = set(re.findall(r"#include <([^>]+)>", text))
        assert system <= allowed, f"{path.name} includes {system - allowed}: only the C library"
        local = set(re.findall(r'#include "([^"]+)"', text))
        assert all((LIB / "src" / h).is_file() for h in local), f"{path.name}: {local}"
        code = re.sub(r"//.*", "", text)
        assert not re.search(r"\b(malloc|calloc|realloc|free|new|delete|String)\b", code), \
            f"{path.name} allocates: the library must use the caller's buffers only"
    props = dict(line.split("=", 1) for line in (LIB / "library.properties").read_text().splitlines())
    assert props["name"] == "TinyMLKit" and props["includes"] == "TinyMLKit.h"
    assert (LIB / "src" / "TinyMLKit.h").is_file()


# --- preprocessing: bit-identical to tinymlkit ------------------------------------------------

def _preprocess_in_c(driver, tmp_path, raw: np.ndarray, signs, norm: Normalization,
                     qp: QuantParams):
    n, c = raw.shape
    blob = struct.pack("<4i", c, n, qp.zero_point, signs is not None) + struct.pack("<f", qp.scale)
    blob += np.concatenate([np.asarray(signs if signs is not None else np.ones(c), np.float32),
                            norm.mean, norm.std, raw.ravel()]).astype("<f4").tobytes()
    (tmp_path / "in.bin").write_bytes(blob)
    run(driver, "preprocess", tmp_path / "in.bin", tmp_path / "out.bin")
    out = (tmp_path / "out.bin").read_bytes()
    normed = np.frombuffer(out[:4 * n * c], "<f4").reshape(n, c)
    q_window = np.frombuffer(out[4 * n * c:5 * n * c], np.int8).reshape(n, c)
    q_value = np.frombuffer(out[5 * n * c:], np.int8).reshape(n, c)
    return normed, q_window, q_value


def test_preprocessing_matches_python_on_the_dataset(driver, settings, motion, tmp_path):
    """Every window of every recording, as the board sees it (raw), with the demo's settings."""
    windows = window_recordings(motion.recordings, motion.labels, motion.subject_ids,
                                settings.window_samples, settings.stride_samples)
    raw = windows.x.reshape(-1, windows.x.shape[-1])  # (n_windows * window, 6) float32
    signs = np.asarray(settings.channel_signs, np.float32)
    norm, qp = settings.normalization, settings.input_quant
    expected = norm.apply(raw * signs)
    expected_q = quantize(expected, qp)
    normed, q_window, q_value = _preprocess_in_c(driver, tmp_path, raw, signs, norm, qp)
    diff = float(np.max(np.abs(normed - expected)))
    t = expected / np.float32(qp.scale)
    ties = int(np.sum(t - np.floor(t) == 0.5))
    print(f"\n{len(windows)} windows, {raw.size:,} values: max |C - Python| normalised = {diff:.3g}; "
          f"int8 differences: {int(np.sum(q_window != expected_q))}; exact rounding ties: {ties}")
    assert diff <= 1e-5
    assert np.array_equal(normed, expected), "float32 in the same order should be bit-identical"
    assert np.array_equal(q_window, expected_q) and np.array_equal(q_value, expected_q)
    # A board on the left wrist passes no signs (all 1): tinymlkit's frame without the mirror.
    normed, q_window, _ = _preprocess_in_c(driver, tmp_path, raw[:5000], None, norm, qp)
    assert np.array_equal(normed, norm.apply(raw[:5000]))
    assert np.array_equal(q_window, quantize(norm.apply(raw[:5000]), qp))


def test_quantize_saturates_and_rounds_ties_to_even_like_numpy(driver, tmp_path):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, -128.5, -129.5, 0.49999997,
                  -0.49999997, 1e-30, -1e-30, 3.4e38, -3.4e38, 8388607.5, 1e9, -0.0],
                 np.float32)
    x = np.concatenate([x, np.random.default_rng(0).normal(0, 300, 20000).astype(np.float32),
                        np.arange(-300, 300, 0.25, dtype=np.float32)])
    (tmp_path / "x.bin").write_bytes(x.astype("<f4").tobytes())
    run(driver, "round", tmp_path / "x.bin", tmp_path / "y.bin")
    assert np.array_equal(np.frombuffer((tmp_path / "y.bin").read_bytes(), "<f4"), np.round(x))
    # Through quantize (scale 1, zero point -3): saturation at both ends, ties to even.
    raw = x[:5000].reshape(-1, 1)
    one = Normalization(np.zeros(1, np.float32), np.ones(1, np.float32))
    qp = QuantParams(1.0, -3)
    _, q_window, q_value = _preprocess_in_c(driver, tmp_path, raw, None, one, qp)
    assert np.array_equal(q_window, quantize(raw, qp)) and np.array_equal(q_value, q_window)


# --- the ring buffer gives the windows of sliding_windows ------------------------------------

@pytest.mark.parametrize("window,stride,extra", [(100, 50, 0), (100, 50, 7), (100, 100, 0),
                                                 (64, 1, 3), (20, 33, 0)])
def test_ring_buffer_gives_the_sliding_windows(driver, motion, tmp_path, window, stride, extra):
    rec = np.concatenate(motion.recordings[:3]).astype(np.float32)  # wraps the ring many times
    n, c = rec.shape
    blob = struct.pack("<5i", c, n, window, stride, window + extra) + rec.astype("<f4").tobytes()
    (tmp_path / "rec.bin").write_bytes(blob)
    run(driver, "ring", tmp_path / "rec.bin", tmp_path / "win.bin")
    got = np.frombuffer((tmp_path / "win.bin").read_bytes(), "<f4").reshape(-1, window, c)
    expected = sliding_windows(rec, window, stride)
    assert got.shape == expected.shape and np.array_equal(got, expected)


# --- the protocol: what the library writes, tinymlkit.capture reads --------------------------

def test_floats_are_written_as_printf_g(driver):
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 1, 400), rng.normal(0, 1, 400) * 10.0 ** rng.integers(-12, 12, 400),
                             [0.0, -0.0, 1.0, -1.0, 0.5, 50.0, 16000.0, 123456.5, 999999.5, 1e-5,
                              9.999995e-5, 1234565.0, 3.4e38, 1.4e-45, -7.51842599e-05]]).astype(np.float32)
    specials = ["nan", "inf", "-inf"]
    got = lines_of(driver, *(f"float {_f32(v)}" for v in values), *(f"float {s}" for s in specials))
    assert got[-3:] == specials
    expected = [f"{float(v):.6g}" for v in values]
    assert got[:-3] == expected
    parsed = np.array([float(s) for s in got[:-3]])
    ok = values != 0
    assert np.max(np.abs(parsed[ok] - values[ok]) / np.abs(values[ok])) <= 5e-6  # 6 significant digits


def test_protocol_lines_parse_back_with_tinymlkit_capture(driver, motion):
    capture = pytest.importorskip("tinymlkit.capture")
    header = lines_of(driver, "header nano33ble_sense_rev2 imu 50 ax,ay,az,wx,wy,wz g,g,g,rad/s,rad/s,rad/s")[0]
    h = capture.parse_header(header)
    assert (h.version, h.board, h.sensor, h.rate_hz) == (1, "nano33ble_sense_rev2", "imu", 50.0)
    assert h.channels == motion.channel_names and h.units == ("g",) * 3 + ("rad/s",) * 3
    assert capture.parse_header(lines_of(driver, "header xiao_esp32s3_sense mic 16000 mic int16")[0]).rate_hz == 16000

    rec = motion.recordings[0][:300]
    samples = lines_of(driver, *(f"sample {i} " + " ".join(map(_f32, row)) for i, row in enumerate(rec)))
    for i, (line, row) in enumerate(zip(samples, rec)):
        assert line == capture.format_sample(i, row)  # the same text as the Python side writes
        parsed = capture.parse_line(line, 6)
        assert parsed.kind == "sample" and parsed.counter == i
        assert np.allclose(parsed.values, row, rtol=5e-6, atol=1e-30)
    big = lines_of(driver, "sample16 4294967295 -32768", "sample16 0 32767")
    assert [capture.parse_line(s, 1).counter for s in big] == [4294967295, 0]
    assert capture.parse_line(big[0], 1).values[0] == -32768

    result, start, stop, ok, err = lines_of(
        driver, "result 149 PEN 1234 " + " ".join(map(_f32, [2.5, -0.209599, 7.3, 0, -1e-7, 12, 3])),
        "start", "stop 150", "ok act=PEN", "err imu not found")
    r = capture.parse_line(result, 6)
    assert (r.kind, r.counter, r.label, r.micros) == ("result", 149, "PEN", 1234)
    assert np.allclose(r.logits, [2.5, -0.209599, 7.3, 0, -1e-7, 12, 3], rtol=5e-6)
    assert [capture.parse_line(s, 6).kind for s in (start, stop, ok, err)] == ["start", "stop", "ok", "err"]
    assert capture.parse_line(stop, 6).counter == 150 and capture.parse_line(err, 6).text == "imu not found"


def test_lines_that_break_the_protocol_are_refused(driver):
    assert lines_of(driver, "result 1 two\twords 5 1.0", "result 1 a=b 5 1.0", "result 1 PEN 5") == ["FAIL"] * 3
    too_long = "sample 0 " + " ".join(["-1.23456e-12"] * 20)  # 20 x 13 characters > 255
    assert lines_of(driver, too_long) == ["FAIL"]
    fits = "sample 0 " + " ".join(["-1.23456e-12"] * 19)
    assert len(lines_of(driver, fits)[0]) <= 255
    assert lines_of(driver, "err a\rb") == ["#ERR a b"]  # a \r inside the text cannot split the line


@pytest.mark.parametrize("line,kind,ms,error", [
    ("INFO", "INFO", 0, None), ("START\r", "START", 0, None), ("  STOP  ", "STOP", 0, None),
    ("INFER", "INFER", 0, None), ("RECORD ms=1000", "RECORD", 1000, None),
    ("record ms=250", "RECORD", 250, None), ("info", "INFO", 0, None), ("", "EMPTY", 0, None),
    ("RECORD", "INVALID", 0, "#ERR RECORD: needs ms=<duration in ms>, e.g. RECORD ms=1000"),
    ("RECORD ms=", "INVALID", 0, "#ERR RECORD: needs ms=<duration in ms>, e.g. RECORD ms=1000"),
    ("RECORD ms=1.5", "INVALID", 0, "#ERR RECORD: needs ms=<duration in ms>, e.g. RECORD ms=1000"),
    ("RECORD ms=0", "INVALID", 0, "#ERR RECORD: ms= must be at least 1"),
    ("RECORD ms=99999999999", "INVALID", 0, "#ERR RECORD: ms= is too long (at most 600000 ms)"),
    ("INFO now", "INVALID", 0, "#ERR INFO: takes no arguments"),
    ("ACT PEN", "UNKNOWN", 0, "#ERR unknown command ACT"),
    ("snap", "SNAP", 0, "#ERR unknown command snap"),  # only a camera sketch acts on it (CameraApp)
    ("?#garbage", "UNKNOWN", 0, "#ERR unknown command ?#garbage"),
])
def test_host_commands_are_parsed(driver, line, kind, ms, error):
    out = run(driver, "lines", stdin=f"cmd {line}\n").splitlines()
    assert out[0].startswith(f"kind={kind} ms={ms} ")
    assert (out[1] if len(out) > 1 else None) == error


def test_line_reader_splits_host_bytes_into_lines(driver):
    data = b"INFO\r\nSTART\n\nRECORD ms=5\n" + b"x" * 300 + b"\nSTOP\n"
    assert run(driver, "reader", stdin=data).splitlines() == [
        "LINE 0 INFO", "LINE 0 START", "LINE 0 ", "LINE 0 RECORD ms=5", "LINE 1 " + "x" * 255,
        "LINE 0 STOP"]


def test_ticker_keeps_50_hz_across_the_micros_wrap(driver):
    period = 20000
    t0 = 2**32 - 50000  # micros() wraps 2.5 periods after start
    script = [f"start {t0} {period}"] + [f"due {(t0 + k * 5000) % 2**32}" for k in range(1, 41)]
    out = run(driver, "ticker", stdin="\n".join(script) + "\n").splitlines()
    assert [int(s.split()[0]) for s in out].count(1) == 10  # 200 ms of 5 ms steps = 10 ticks
    # 3 periods late: caught up (three ticks at once), nothing skipped.
    out = run(driver, "ticker", stdin=f"start 0 {period}\n" + "due 80000\n" * 5).splitlines()
    assert out == ["1 0"] * 4 + ["0 0"]
    # Stalled for 1 s (a blocked Serial): one tick now, the 49 missed ones are reported as skipped.
    out = run(driver, "ticker", stdin=f"start 0 {period}\n" + "due 1000000\n" * 3 + "due 1020000\n").splitlines()
    assert out == ["1 49", "0 0", "0 0", "1 0"]


# --- ImuApp: the sketches' loop, driven by recorded data --------------------------------------

def _app(driver, script: list[str], tmp_path=None, model: bytes | None = None, capacity: int = 100):
    args = ["app"]
    if model is not None:
        (tmp_path / "model.bin").write_bytes(model)
        args.append(tmp_path / "model.bin")
    return run(driver, *args, capacity, stdin="\n".join(script) + "\n").splitlines()


def test_imu_app_answers_the_protocol(driver, motion):
    capture = pytest.importorskip("tinymlkit.capture")
    rec = motion.recordings[1][:40]
    samples = [("s " + " ".join(map(_f32, row))) for row in rec]
    out = _app(driver, ["> INFO", "> INFER", "> START", *samples[:30], "> STOP", "> RECORD ms=100",
                        *samples[30:36], "> RECORD ms=3000", "> ACT PEN", "> START", *samples[36:38],
                        "e imu read failed", "> RECORD ms=200", samples[38], "l 2", samples[39],
                        "> START", samples[38], "l 3", samples[39], "> STOP"])
    kinds = [capture.parse_line(s, 6).kind for s in out]
    assert capture.parse_header(out[0]).board == "host_test" and out[1] == out[0]
    assert out[2] == "#ERR no model"
    assert kinds[3:35] == ["start"] + ["sample"] * 30 + ["stop"] and out[34] == "#STOP n=30"
    take = np.array([capture.parse_line(s, 6).values for s in out[4:34]])
    assert np.allclose(take, rec[:30], rtol=5e-6)
    # RECORD ms=100 at 50 Hz = 5 samples: sent after the fifth; the sixth sample is not in it.
    assert out[35:42] == ["#START"] + [capture.format_sample(i, rec[30 + i]) for i in range(5)] + ["#STOP n=5"]
    assert out[42] == "#ERR RECORD ms=3000 does not fit in RAM: at most 2000 ms"
    assert out[43] == "#ERR unknown command ACT"
    assert out[44:49] == ["#START", capture.format_sample(0, rec[36]),
                          capture.format_sample(1, rec[37]), "#ERR imu read failed", "#STOP n=2"]
    # Missed sample times: RECORD gives up; in a START take the counter jumps (the host sees 3 lost).
    assert out[49:] == ["#ERR RECORD lost 2 samples: try again", "#START", capture.format_sample(0, rec[38]),
                        capture.format_sample(4, rec[39]), "#STOP n=5"]


def test_imu_app_classifies_every_stride_like_python(driver, settings, motion, tmp_path):
    """With the demo's settings: #RESULT lines at the sliding windows of the take, each from the
    int8 window Python computes (the driver's Invoke stand-in copies the first K inputs out)."""
    capture = pytest.importorskip("tinymlkit.capture")
    w, s, k = settings.window_samples, settings.stride_samples, len(settings.labels)
    signs = np.asarray(settings.channel_signs, np.float32)
    model = struct.pack("<7i", w, s, 6, k, settings.input_quant.zero_point,
                        settings.output_quant.zero_point, 1)
    model += struct.pack("<2f", settings.input_quant.scale, settings.output_quant.scale)
    model += np.concatenate([signs, settings.normalization.mean,
                             settings.normalization.std]).astype("<f4").tobytes()
    rec = motion.recordings[5][:2 * w + s + 13]
    samples = ["s " + " ".join(map(_f32, row)) for row in rec]
    out = _app(driver, ["> INFER", *samples[:7], "> START", *samples[7:], "> INFER", "> STOP"],
               tmp_path, model, capacity=0)
    assert out[1] == f"#ERR window not full yet (0 of {w} samples)"
    take = rec[7:]
    results = [capture.parse_line(x, 6) for x in out if x.startswith("#RESULT")]
    windows = sliding_windows(take, w, s)
    assert [r.counter for r in results[:-1]] == [w - 1 + i * s for i in range(len(windows))]
    assert results[-1].counter == len(take) - 1  # INFER during the take: its latest sample
    expected_windows = list(windows) + [take[-w:]]
    for i, (r, win) in enumerate(zip(results, expected_windows)):
        q = quantize(settings.normalization.apply(win * signs), settings.input_quant).ravel()
        logits = dequantize(q[:k], settings.output_quant)
        assert np.allclose(r.logits, logits, rtol=5e-6, atol=1e-6)
        assert r.label == f"L{int(np.argmax(q[:k]))}" and r.micros == i + 1
    assert out[-1] == f"#STOP n={len(take)}"


def test_mic_app_records_into_ram_then_sends_the_take(driver):
    capture = pytest.importorskip("tinymlkit.capture")
    script = ["> INFO", "> RECORD ms=10", "> START", "> INFER", "> STOP", "> RECORD ms=2000",
              "fail next", "> RECORD ms=5", "overflow", "> PLAY", "mic off", "> RECORD ms=5"]
    out = run(driver, "mic", 16000, stdin="\n".join(script) + "\n").splitlines()
    header = capture.parse_header(out[0])
    assert (header.board, header.sensor, header.rate_hz, header.channels, header.units) == (
        "host_test", "mic", 16000.0, ("mic",), ("int16",)) and out[1] == out[0]
    lines = [capture.parse_line(s, 1) for s in out[2:164]]
    assert [ln.kind for ln in lines] == ["start"] + ["sample"] * 160 + ["stop"] and lines[-1].counter == 160
    assert [ln.counter for ln in lines[1:-1]] == list(range(160))
    assert [int(ln.values[0]) for ln in lines[1:-1]] == [(i * 37) % 2001 - 1000 for i in range(160)]
    assert out[164:] == [
        "#ERR 16 kHz audio is faster than the serial link: use RECORD ms=<n>", "#ERR no model",
        "#STOP n=160", "#ERR RECORD ms=2000 does not fit in RAM: at most 1000 ms",
        "#ERR the microphone stopped delivering samples", "#ERR line too long",
        "#ERR unknown command PLAY", "#ERR microphone not found"]


# --- Cortex-M4: the library and the exported model compile with zero warnings -----------------

@needs_arm
def test_library_and_model_compile_for_cortex_m4(demo_run):
    out, _ = demo_run
    model = compile_for_cortex_m4([out / "model_data.cc"])
    tflite = (out / "model_int8.tflite").stat().st_size
    library = compile_for_cortex_m4(LIB_SOURCES, include_dirs=[LIB / "src"])
    print(f"\nCortex-M4 ({cortex_m4_command()}): model_data.cc {model.flash_bytes:,} B flash "
          f"(.tflite {tflite:,} B); TinyMLKit library {library.flash_bytes:,} B flash, "
          f"{library.data_bytes + library.bss_bytes} B static RAM")
    assert tflite <= model.flash_bytes <= tflite + 64  # the array + its size constant + alignment
    assert 0 < library.flash_bytes < 16 * 1024 and library.data_bytes + library.bss_bytes == 0
    # The sketches' extra warning flags hold on the Cortex-M4 too.
    for src in LIB_SOURCES:
        proc = subprocess.run(["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                               "-mfpu=fpv4-sp-d16", "-std=c++17", "-Os", *WARNINGS, "-c", str(src),
                               "-o", "/dev/null"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


@needs_arm
def test_cortex_m4_compile_errors_are_reported(tmp_path, monkeypatch):
    bad = tmp_path / "bad.cc"
    bad.write_text("int f(int x) { int unused; return x; }\n")
    with pytest.raises(CrossCompileError, match=r"(?s)bad\.cc' does not compile.*unused variable"):
        compile_for_cortex_m4([bad])
    with pytest.raises(CrossCompileError, match="file not found"):
        compile_for_cortex_m4([tmp_path / "missing.cc"])
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the toolchain
    with pytest.raises(CrossCompileError, match="arm-none-eabi-g\\+\\+ and arm-none-eabi-size not found"):
        compile_for_cortex_m4([bad])


def test_fit_report_uses_the_compiled_model_size(demo_run, tmp_path, monkeypatch):
    out, report = demo_run
    flash = measure_model_flash(out / "model_data.cc", report["model_bytes"])
    assert report["model_flash_bytes"] == flash.flash_bytes
    assert report["model_flash_method"] == flash.method
    if shutil.which("arm-none-eabi-g++") and shutil.which("arm-none-eabi-size"):
        assert flash.method == cortex_m4_command() and flash.flash_bytes > report["model_bytes"]
    from tinymlkit.boards import load_boards
    for bid, board in load_boards().items():
        assert report["boards"][bid]["flash_bytes"] == board.runtime_flash_bytes + flash.flash_bytes
    monkeypatch.setenv("PATH", str(tmp_path))
    fallback = measure_model_flash(out / "model_data.cc", report["model_bytes"])
    assert (fallback.flash_bytes, fallback.method) == (report["model_bytes"], TFLITE_BYTES_METHOD)
    assert "not found" in fallback.note


# --- kit folders, sketches and profiles -------------------------------------------------------

def test_every_kit_has_readme_sketches_and_pinned_profiles():
    yaml = pytest.importorskip("yaml")
    assert (HARDWARE / "README.md").is_file() and (LIB / "README.md").is_file()
    for kit, platform in KITS.items():
        assert (HARDWARE / kit / "README.md").is_file()
        for sketch in SKETCHES:
            folder = HARDWARE / kit / sketch
            ino = (folder / f"{sketch}.ino").read_text()
            assert "#include <TinyMLKit.h>" in ino
            assert f'kBoardId[] = "{kit}"' in ino or sketch == "motion_inference" and "kBoardId" in ino
            profiles = yaml.safe_load((folder / "sketch.yaml").read_text())
            assert profiles["default_profile"] == kit
            profile = profiles["profiles"][kit]
            assert profile["fqbn"].startswith(platform + ":")
            assert re.fullmatch(rf"{platform} \(\d+\.\d+\.\d+\)", profile["platforms"][0]["platform"])
            libs = profile["libraries"]
            dirs = [lib["dir"] for lib in libs if isinstance(lib, dict)]
            assert dirs == ["../../libraries/TinyMLKit"] and (folder / dirs[0]).resolve() == LIB
            pinned = [lib for lib in libs if isinstance(lib, str)]
            assert all(re.fullmatch(r"[\w .-]+ \(\d+\.\d+\.\d+\)", lib) for lib in pinned), pinned
            if sketch.endswith("_inference"):  # one TFLM: the esp32 core 3.x carries its own
                core_tflm = kit.startswith("xiao")  # (hardware/xiao_esp32s3_sense/README.md)
                assert ("Chirale_TensorFLowLite (2.0.0)" in pinned) != core_tflm, (kit, sketch, pinned)
                assert ("#include <Chirale_TensorFlowLite.h>" in ino) != core_tflm, (kit, sketch)
            if sketch.endswith("_inference"):
                assert set((folder / ".gitignore").read_text().split()) >= set(EXPORTED)
                assert '__has_include("model_settings.h")' in ino and "#error" in ino


def test_exported_model_files_are_not_committed():
    tracked = subprocess.run(["git", "ls-files", "hardware"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert not [p for p in tracked if pathlib.Path(p).name in EXPORTED]


def _code_lines(ino: str) -> list[str]:
    """The sketch's code without comments, one stripped line each, blank lines dropped."""
    text = re.sub(r"/\*.*?\*/", "", ino, flags=re.S)
    lines = (re.sub(r"//.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


@pytest.mark.parametrize("sketch", ["imu_capture", "mic_capture", "image_capture", "motion_inference", "kws_inference",
                                    "image_inference", "anomaly_inference"])
def test_rev1_and_rev2_sketches_differ_only_in_their_board_glue(sketch):
    """Issue #14: the board-independent setup and loop live in the TinyMLKit library
    (tmk_sketch.h, tmk_pdm_mic.h, tmk_motion_runtime.h, tmk_kws_runtime.h, tmk_anomaly_runtime.h), so the Rev1 and Rev2
    sketches differ only where the boards do: the board id, the IMU library and the advice that
    names the other board's sketch (the chip in a string). Any other differing code line is a copy
    that drifted."""
    rev1, rev2 = (_code_lines((HARDWARE / f"nano33ble_sense_{rev}" / sketch / f"{sketch}.ino").read_text())
                  for rev in ("rev1", "rev2"))
    glue = re.compile(r'kBoardId\[\] = "nano33ble_sense_rev[12]"|#include <Arduino_(LSM9DS1|BMI270_BMM150)\.h>'
                      r'|"imu not found: no (LSM9DS1|BMI270)\.|hardware/nano33ble_sense_rev[12]/')
    differing = sorted((set(rev1) ^ set(rev2)))
    assert len(rev1) == len(rev2), f"{sketch}: {len(rev1)} code lines on Rev1, {len(rev2)} on Rev2"
    assert all(glue.search(line) for line in differing), [l for l in differing if not glue.search(l)]
    assert len(rev1) <= 45, f"{sketch}: {len(rev1)} code lines; move what both boards share into TinyMLKit"


@pytest.mark.parametrize("kit", list(KITS))
def test_image_inference_is_glue_with_pinned_libraries(kit):
    """Every kit's image_inference: the shared tmk::ImageRuntime, clear #errors for missing or
    non-image model files, TFLM and the camera library pinned (the XIAO's both come with its
    core), exported files git-ignored."""
    yaml = pytest.importorskip("yaml")
    folder = HARDWARE / kit / "image_inference"
    ino = (folder / "image_inference.ino").read_text()
    assert "#include <tmk_image_runtime.h>" in ino and "TMK_IMAGE_SETTINGS_FROM_MODEL_SETTINGS()" in ino
    assert '__has_include("model_settings.h")' in ino and "#if !defined(TINYMLKIT_IMAGE_MODEL)" in ino
    assert f'kBoardId[] = "{kit}"' in ino and "tmk_image_runtime" not in (LIB / "src" / "TinyMLKit.h").read_text()
    profile = yaml.safe_load((folder / "sketch.yaml").read_text())["profiles"][kit]
    expected = ([{"dir": "../../libraries/TinyMLKit"}] if kit.startswith("xiao") else
                ["Chirale_TensorFLowLite (2.0.0)", "Arduino_OV767X (0.0.2)", {"dir": "../../libraries/TinyMLKit"}])
    assert profile["libraries"] == expected
    assert set((folder / ".gitignore").read_text().split()) >= set(EXPORTED)
    assert len(_code_lines(ino)) <= 36, "image_inference should be the board's camera glue only (Nano: 34 code lines)"


def test_xiao_camera_glue_exists_once():
    """The XIAO's two camera sketches share tmk::XiaoCamera (tmk_xiao_camera.h): the Sense board's
    pins and the esp32-camera settings are written once, in the library, not in a sketch."""
    header = (LIB / "src" / "tmk_xiao_camera.h").read_text()
    assert "esp_camera_init(&config)" in header and "PIXFORMAT_GRAYSCALE" in header and "psramFound()" in header
    assert "tmk_xiao_camera" not in (LIB / "src" / "TinyMLKit.h").read_text()  # sketch-only
    for sketch in ("image_capture", "image_inference"):
        ino = (HARDWARE / "xiao_esp32s3_sense" / sketch / f"{sketch}.ino").read_text()
        assert "#include <tmk_xiao_camera.h>" in ino and "tmk::XiaoCamera::read" in ino
        assert "esp_camera_init" not in ino and "pin_" not in ino, f"{sketch} holds its own camera set-up"
