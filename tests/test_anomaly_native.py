"""The kit side of motion anomaly detection (issue #17): TinyMLKit's tmk_anomaly.h, compiled with
g++ and driven by tests/native/tmk_driver.cpp, against tinymlkit.anomaly in Python on the shipped
dataset's windows (normal, held-out exercises and sensor faults) and a real exported detector
(``tinymlkit anomaly``'s export): window statistics, standardised features, the int8 model input, the
K-means distance and the autoencoder's reconstruction error from the int8 tensors TFLM produces;
then the whole pipeline from raw windows, and ImuApp's #RESULT lines with the detector plugged in.
The anomaly_inference sketches themselves are checked here (files, profiles, op list) and compiled
against the real core in tests/test_arduino_core.py."""

from __future__ import annotations

import pathlib
import struct
import subprocess

import numpy as np
import pytest

from tinymlkit.anomaly import KMeansDetector, int8_autoencoder_scores, int8_reconstruction_error, score_windows
from tinymlkit.datasets import load_motion
from tinymlkit.features import Normalization, sliding_windows, window_statistics
from tinymlkit.op_resolver import check_op_resolver
from tinymlkit.protocol import parse_line
from tinymlkit.quantize import quantize
from tinymlkit.tflm import predict_int8

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARDWARE = ROOT / "hardware"
LIB = HARDWARE / "libraries" / "TinyMLKit"
KITS = ("nano33ble_sense_rev1", "nano33ble_sense_rev2", "xiao_esp32s3_sense")
EXPORTED = ("model_data.cc", "model_data.h", "model_settings.h", "model_int8.tflite", "model_settings.json")


@pytest.fixture(scope="module")
def exported(anomaly_run):
    """(out_dir, model_bytes, settings, data): ``tinymlkit anomaly``'s export and the motion data."""
    from tinymlkit.anomaly import motion_anomaly_data
    from tinymlkit.export import load_model_files

    out = anomaly_run[0]
    return (out, *load_model_files(out, kind="anomaly"), motion_anomaly_data())


def run(exe: pathlib.Path, *args, stdin: str = "") -> str:
    """Run the driver; its stdout as text (fails the test on a non-zero exit)."""
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, timeout=120, input=stdin.encode())
    assert proc.returncode == 0, f"tmk_driver {args[0]} exited {proc.returncode}: {proc.stderr.decode()}"
    return proc.stdout.decode()


def _f32(x) -> str:
    """A float32 as text that strtof reads back to the same float32."""
    return f"{float(np.float32(x)):.9g}"


def _model_blob(settings, *, signs: bool, autoencoder_threshold: float | None = None) -> bytes:
    """The driver's MODEL file (tests/native/tmk_driver.cpp, "Anomaly detection") from the settings."""
    n_ch, k = len(settings.channel_names), len(settings.centroids)
    thr = settings.autoencoder_threshold if autoencoder_threshold is None else autoencoder_threshold
    blob = struct.pack("<7i", settings.window_samples, settings.stride_samples, n_ch, k,
                       settings.input_quant.zero_point, settings.output_quant.zero_point, int(signs))
    blob += struct.pack("<4f", settings.input_quant.scale, settings.output_quant.scale, thr,
                        settings.kmeans_threshold)
    sign = np.asarray(settings.channel_signs or (1,) * n_ch, np.float32)
    return blob + np.concatenate([sign, np.asarray(settings.feature_mean, np.float32),
                                  np.asarray(settings.feature_std, np.float32),
                                  np.asarray(settings.centroids, np.float32).ravel()]).astype("<f4").tobytes()


def _features_in_c(driver, tmp_path, settings, raw: np.ndarray, *, signs: bool):
    """raw ``(n, window, 6)`` -> C's (features, z, q, kmeans) for each window."""
    n, w, c = raw.shape
    f = 5 * c
    (tmp_path / "model.bin").write_bytes(_model_blob(settings, signs=signs))
    (tmp_path / "raw.bin").write_bytes(struct.pack("<i", n) + raw.astype("<f4").tobytes())
    run(driver, "anomaly_features", tmp_path / "model.bin", tmp_path / "raw.bin", tmp_path / "out.bin")
    out = (tmp_path / "out.bin").read_bytes()
    features = np.frombuffer(out[:4 * n * f], "<f4").reshape(n, f)
    z = np.frombuffer(out[4 * n * f:8 * n * f], "<f4").reshape(n, f)
    q = np.frombuffer(out[8 * n * f:9 * n * f], np.int8).reshape(n, f)
    kmeans = np.frombuffer(out[9 * n * f:], "<f4")
    assert kmeans.shape == (n,)
    return features, z, q, kmeans


def _recon_in_c(driver, tmp_path, settings, q_in: np.ndarray, q_out: np.ndarray) -> np.ndarray:
    n, f = q_in.shape
    blob = struct.pack("<4i2f", n, f, settings.input_quant.zero_point, settings.output_quant.zero_point,
                       settings.input_quant.scale, settings.output_quant.scale)
    (tmp_path / "recon.bin").write_bytes(blob + q_in.astype(np.int8).tobytes() + q_out.astype(np.int8).tobytes())
    run(driver, "recon", tmp_path / "recon.bin", tmp_path / "score.bin")
    return np.frombuffer((tmp_path / "score.bin").read_bytes(), "<f4")


def _scaler(settings) -> Normalization:
    return Normalization(mean=np.asarray(settings.feature_mean, np.float32),
                         std=np.asarray(settings.feature_std, np.float32))


def _detector(settings) -> KMeansDetector:
    km = KMeansDetector(len(settings.centroids))
    km.centroids = np.asarray(settings.centroids, np.float32)
    return km


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    """Largest distance between two float32 arrays in units in the last place (same-sign values)."""
    ia, ib = a.astype(np.float32).view(np.int32).astype(np.int64), b.astype(np.float32).view(np.int32).astype(np.int64)
    return int(np.max(np.abs(ia - ib))) if a.size else 0


def _one_output_step(settings) -> float:
    """How much one int8 output step moves the score of a feature the autoencoder rebuilt exactly:
    (kOutputScale)² / kFeatureCount. The issue's parity criterion: C and Python scores closer than
    that are the same score as far as the int8 model can tell."""
    return float(settings.output_quant.scale) ** 2 / settings.n_features


# --- features, z, int8 input, K-means: C vs Python ---------------------------------------------

@pytest.mark.parametrize("right_wrist", [False, True], ids=["left_wrist", "right_wrist"])
def test_window_statistics_z_and_int8_input_match_python(driver, exported, tmp_path, right_wrist):
    """Every window of the anomaly task (training, validation, test with held-out exercises and
    sensor faults: 4,720 windows of 100 x 6) as the board reads it: on the right wrist the raw
    readings are the left-wrist frame times the signs, and C's signs must bring them back."""
    _, _, settings, data = exported
    windows = np.concatenate([data.train_windows, data.val_windows, data.test_windows]).astype(np.float32)
    signs = np.asarray(settings.channel_signs, np.float32)
    raw = windows * signs if right_wrist else windows
    features, z, q, kmeans = _features_in_c(driver, tmp_path, settings, raw, signs=right_wrist)
    expected = window_statistics(windows)
    diff = np.abs(features.astype(np.float64) - expected)
    expected_z = _scaler(settings).apply(expected)
    expected_q = quantize(expected_z, settings.input_quant)
    q_diff = np.abs(q.astype(int) - expected_q.astype(int))
    km_expected = _detector(settings).score(expected_z)
    km_rel = float(np.max(np.abs(kmeans - km_expected) / km_expected))
    print(f"\n{len(windows)} windows ({'right' if right_wrist else 'left'} wrist): window_statistics max "
          f"|C - Python| = {diff.max():.3g} ({_ulps(features, expected)} float32 ulp, "
          f"{int(np.sum(features != expected))} of {features.size:,} values differ); z max |diff| "
          f"{float(np.max(np.abs(z - expected_z))):.3g}; int8 inputs differing: {int(np.sum(q_diff > 0))} "
          f"of {q.size:,}; K-means max relative diff {km_rel:.3g}")
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=0)
    np.testing.assert_allclose(z, expected_z, rtol=1e-5, atol=1e-6)
    assert q_diff.max() <= 1, "an int8 input more than one step from Python's"
    assert np.sum(q_diff > 0) <= 0.0001 * q.size
    np.testing.assert_allclose(kmeans, km_expected, rtol=1e-5)
    assert (expected[:, 6:12] == 0).any(), "the faults (a stuck axis: std 0) are part of the check"


def test_kmeans_distance_matches_the_detector(driver, exported, tmp_path):
    """tmk::kmeans_distance on Python's z of the test windows, and on wide random vectors with one
    and with many clusters, vs KMeansDetector.score (both float32)."""
    _, _, settings, data = exported
    z = _scaler(settings).apply(data.test)
    rng = np.random.default_rng(3)
    cases = [(np.asarray(settings.centroids, np.float32), z),
             (rng.normal(0, 1, (1, 30)).astype(np.float32), rng.normal(0, 5, (500, 30)).astype(np.float32)),
             (rng.normal(0, 1, (40, 7)).astype(np.float32), rng.normal(0, 2, (500, 7)).astype(np.float32))]
    for centroids, x in cases:
        k, f = centroids.shape
        blob = struct.pack("<3i", len(x), f, k) + centroids.astype("<f4").tobytes() + x.astype("<f4").tobytes()
        (tmp_path / "km.bin").write_bytes(blob)
        run(driver, "kmeans", tmp_path / "km.bin", tmp_path / "d.bin")
        got = np.frombuffer((tmp_path / "d.bin").read_bytes(), "<f4")
        km = KMeansDetector(k)
        km.centroids = centroids
        expected = km.score(x)
        print(f"\nK-means, {k} clusters x {f} features, {len(x)} rows: max relative diff "
              f"{float(np.max(np.abs(got - expected) / expected)):.3g}")
        np.testing.assert_allclose(got, expected, rtol=1e-5)


# --- the autoencoder's score from TFLM's int8 tensors ------------------------------------------

def test_reconstruction_error_from_tflm_tensors_matches_python(driver, exported, tmp_path):
    """The int8 input and output tensors of the real autoencoder in TFLM (every test window):
    tmk::reconstruction_error equals Python's score within one int8 output step (and rtol 1e-5)."""
    _, model_bytes, settings, data = exported
    z = _scaler(settings).apply(data.test)
    scores, q_in, q_out, runtime = int8_autoencoder_scores(model_bytes, z)
    got = _recon_in_c(driver, tmp_path, settings, q_in, q_out)
    step = _one_output_step(settings)
    worst = float(np.max(np.abs(got - scores)))
    print(f"\nreconstruction error ({runtime}, {len(z)} windows): max |C - Python| = {worst:.3g} = "
          f"{worst / step:.2g} int8 output steps (one step: {step:.3g}); scores {scores.min():.3g}..{scores.max():.3g}")
    assert worst <= step
    np.testing.assert_allclose(got, scores, rtol=1e-5)
    # A tensor-level check of the formula: an exact rebuild scores only the scales' mismatch.
    same = _recon_in_c(driver, tmp_path, settings, q_in, q_in)
    np.testing.assert_allclose(same, int8_reconstruction_error(q_in, q_in, settings.input_quant,
                                                               settings.output_quant), rtol=1e-5)


def test_whole_pipeline_from_raw_windows_matches_score_windows(driver, exported, tmp_path):
    """Raw right-wrist test windows (normal, held-out exercises, every sensor fault) -> C features,
    z and int8 input -> that input through TFLM (Python) -> C scores, vs score_windows(...), the
    scores the simulated kit and the notebooks compute. Same decisions at the exported thresholds."""
    _, model_bytes, settings, data = exported
    signs = np.asarray(settings.channel_signs, np.float32)
    raw = (data.test_windows * signs).astype(np.float32)
    _, _, q_c, km_c = _features_in_c(driver, tmp_path, settings, raw, signs=True)
    q_out, runtime = predict_int8(model_bytes, q_c)
    ae_c = _recon_in_c(driver, tmp_path, settings, q_c, q_out)
    ae_py, km_py = score_windows(raw, settings, model_bytes, right_wrist=True)
    step = _one_output_step(settings)
    worst = float(np.max(np.abs(ae_c - ae_py)))
    thr_ae, thr_km = settings.autoencoder_threshold, settings.kmeans_threshold
    flips = int(np.sum((ae_c > thr_ae) != (ae_py > thr_ae))) + int(np.sum((km_c > thr_km) != (km_py > thr_km)))
    kinds = sorted(set(data.test_kind.tolist()))
    print(f"\nend to end ({runtime}, {len(raw)} test windows: {', '.join(kinds)}): autoencoder max "
          f"|C - Python| = {worst:.3g} ({worst / step:.2g} int8 steps), K-means max relative diff "
          f"{float(np.max(np.abs(km_c - km_py) / km_py)):.3g}; {int(np.sum(ae_c > thr_ae))} anomalies "
          f"by the autoencoder, decisions that differ: {flips}")
    assert any(k.startswith("fault:") for k in kinds) and any(k.startswith("exercise:") for k in kinds)
    assert worst <= step
    np.testing.assert_allclose(ae_c, ae_py, rtol=1e-5)
    np.testing.assert_allclose(km_c, km_py, rtol=1e-5)
    assert 0 < np.sum(ae_c > thr_ae) < len(raw), "the test windows should hold both decisions"
    assert flips == 0


# --- ImuApp with the detector as its window step -----------------------------------------------

def test_imu_app_sends_anomaly_results_the_protocol_parses(driver, exported, tmp_path):
    """ImuApp + tmk::anomaly_window_step over a recording: a #RESULT at the take's sliding windows
    and on INFER, label normal|anomaly by the autoencoder threshold, logits = (autoencoder score,
    K-means score) as Python computes them from the same window. The driver's Invoke stand-in
    copies the int8 input to the output (its score is the scales' mismatch alone) and takes
    1, 2, 3 ... us; the threshold is the median of the expected scores, so both labels occur."""
    _, _, settings, _ = exported
    w, s = settings.window_samples, settings.stride_samples
    signs = np.asarray(settings.channel_signs, np.float32)
    rec = np.concatenate(load_motion().recordings[5:7])[:4 * w + s + 13].astype(np.float32)
    take = rec[7:]
    windows = list(sliding_windows(take, w, s)) + [take[-w:]]  # + the INFER at the end of the take

    def expected_scores(win):
        z = _scaler(settings).apply(window_statistics(win * signs))
        q = quantize(z, settings.input_quant)[None]
        return (float(int8_reconstruction_error(q, q, settings.input_quant, settings.output_quant)[0]),
                float(_detector(settings).score(z[None])[0]))

    expected = [expected_scores(win) for win in windows]
    threshold = float(np.median([e[0] for e in expected]))
    (tmp_path / "model.bin").write_bytes(_model_blob(settings, signs=True, autoencoder_threshold=threshold))
    samples = ["s " + " ".join(map(_f32, row)) for row in rec]
    n_stride = len(windows) - 1
    fail_at = w + 2 * s - 1  # the Invoke of the third window of the take fails
    script = ["> INFER", *samples[:7], "> START", *samples[7:7 + fail_at], "f", *samples[7 + fail_at:],
              "> INFER", "> STOP", "> INFER"]
    out = run(driver, "anomaly_app", tmp_path / "model.bin", stdin="\n".join(script) + "\n").splitlines()
    lines = [parse_line(x, 6) for x in out]
    assert lines[0].kind == "header" and out[1] == f"#ERR window not full yet (0 of {w} samples)"
    assert "#ERR Invoke() failed" in out and not [ln for ln in lines if ln.kind == "bad"]
    results = [ln for ln in lines if ln.kind == "result"]
    kept = [i for i in range(len(windows)) if i != 2]  # the failed one sent #ERR instead
    assert len(results) == len(kept) + 1  # + the INFER after the take
    counters = [w - 1 + i * s for i in range(n_stride)] + [len(take) - 1]
    for r, i in zip(results, kept):
        ae, km = expected[i]
        assert r.counter == counters[i]
        assert r.label == ("anomaly" if ae > threshold else "normal")
        np.testing.assert_allclose(r.logits, [ae, km], rtol=5e-6)
    assert {r.label for r in results} == {"normal", "anomaly"}
    assert [r.micros for r in results[:len(kept)]] == list(range(1, len(kept) + 1))  # Invoke µs
    # INFER after the take: the same window as the take's last INFER, counted since start-up.
    assert results[-1].counter == len(rec) - 1 and results[-1].logits == results[-2].logits
    assert out[-2] == f"#STOP n={len(take)}"


# --- the anomaly_inference sketches -------------------------------------------------------------

def test_anomaly_runtime_registers_every_op_of_the_autoencoder(exported):
    _, model_bytes, _, _ = exported
    assert check_op_resolver(model_bytes, LIB / "src" / "tmk_anomaly_runtime.h") == []


@pytest.mark.parametrize("kit", KITS)
def test_anomaly_inference_is_glue_with_the_motion_sketch_profile(kit):
    """Each kit's anomaly_inference: the motion sketch's IMU glue around tmk::AnomalyRuntime, clear
    #errors for missing or non-anomaly model files, the same core and libraries as motion_inference,
    the exported files git-ignored."""
    yaml = pytest.importorskip("yaml")
    folder = HARDWARE / kit / "anomaly_inference"
    ino = (folder / "anomaly_inference.ino").read_text()
    runtime = (LIB / "src" / "tmk_anomaly_runtime.h").read_text()
    assert "#include <tmk_anomaly_runtime.h>" in ino and "TMK_ANOMALY_SETTINGS_FROM_MODEL_SETTINGS()" in ino
    assert '__has_include("model_settings.h")' in ino and "tinymlkit anomaly" in ino
    assert f'kBoardId[] = "{kit}"' in ino and "g_anomaly.poll()" in ino
    assert "#elif !defined(TINYMLKIT_ANOMALY_MODEL)" in runtime and "anomaly_window_step" in runtime
    header = (LIB / "src" / "TinyMLKit.h").read_text()
    assert '#include "tmk_anomaly.h"' in header and "tmk_anomaly_runtime" not in header  # sketch-only
    motion = (HARDWARE / kit / "motion_inference" / "motion_inference.ino").read_text()
    glue = motion[motion.index("namespace {"):motion.index("void setup()")]
    assert glue.replace("tmk::MotionRuntime g_motion;", "tmk::AnomalyRuntime g_anomaly;").replace(
        "the model was trained in", "the detector was trained in") in ino, "the IMU glue drifted from motion_inference"
    profile = yaml.safe_load((folder / "sketch.yaml").read_text())
    motion_profile = yaml.safe_load((folder.parent / "motion_inference" / "sketch.yaml").read_text())
    assert profile["default_profile"] == kit
    assert {k: v for k, v in profile["profiles"][kit].items() if k != "notes"} == \
        {k: v for k, v in motion_profile["profiles"][kit].items() if k != "notes"}
    ignored = subprocess.run(["git", "check-ignore", *(str(folder / f) for f in EXPORTED)],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert len(ignored) == len(EXPORTED), "the exported model files must be git-ignored"
