"""The anomaly track (issue #17): the ECG loader and its data, sensor faults, features, detectors,
thresholds chosen without test data, TFLM vs Python scores, the exported files, the simulated kit
and ``tinymlkit anomaly``. The C side (features and scores on the kit) is tests/test_anomaly_native.py."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tinymlkit import anomaly
from tinymlkit.datasets import (DatasetError, STANDARD_GRAVITY_M_S2, WINDOW_FAULT_KINDS, ecg_excerpt_path,
                                inject_window_fault, load_ecg_excerpt)
from tinymlkit.features import ecg_beats, window_statistic_names, window_statistics

#: sha256 of ``sktime/datasets/data/mitdb/mitdb.csv`` in the sktime 1.2.0 wheel (its RECORD file):
#: the shipped excerpt is that file, unchanged (data/ecg/DATACARD.md).
SKTIME_MITDB_SHA256 = "d4f2539a5e85e1ac1e7f8bba152b5e60a02356282463a8a1c97848ad3e1bb386"


# -- the ECG excerpt ---------------------------------------------------------------------------------

def test_shipped_ecg_is_the_sktime_wheels_file_unchanged():
    assert hashlib.sha256(ecg_excerpt_path().read_bytes()).hexdigest() == SKTIME_MITDB_SHA256
    card = (ecg_excerpt_path().parent / "DATACARD.md").read_text()
    for needed in ("Moody", "Goldberger", "ODC-By", "sktime 1.2.0", "360 Hz", "record 100"):
        assert needed in card, needed


def test_ecg_excerpt_loads_with_its_one_labelled_beat():
    e = load_ecg_excerpt()
    assert e.signal.shape == (7500,) and e.signal.dtype == np.float32 and e.sample_rate_hz == 360.0
    runs = np.flatnonzero(np.diff(np.r_[0, e.labels.astype(int), 0]))
    assert runs.tolist() == [6936, 7288]  # one run: record samples 99436-99787 around the A beat at 99579
    assert -1.0 < e.signal.min() < 0 < e.signal.max() < 2.0  # mV
    assert "record 100" in e.summary() and "20.8 s" in e.summary()


@pytest.mark.parametrize("text, fault", [
    ("value,label\n0.1,0\n", "first line must be 'data,label'"),
    ("data,label\n0.1,0\nabc,0\n", "line 3"),
    ("data,label\n0.1,2\n", "line 2"),
    ("data,label\nnan,0\n", "line 2"),
    ("data,label\n" + "0.1,0\n" * 10, "at least one second"),
])
def test_a_bad_ecg_file_is_named_with_its_fault(tmp_path, text, fault):
    path = tmp_path / "ecg.csv"
    path.write_text(text)
    with pytest.raises(DatasetError) as err:
        load_ecg_excerpt(path)
    assert str(path) in str(err.value) and fault in str(err.value)
    with pytest.raises(DatasetError, match="not found"):
        load_ecg_excerpt(tmp_path / "missing.csv")


def test_ecg_beats_find_every_beat_and_the_premature_one():
    e = load_ecg_excerpt()
    beats = ecg_beats(e.signal, e.sample_rate_hz)
    assert len(beats) == 24 and beats.features.shape == (24, 65)
    # the labelled beat is the atrial premature one: the shortest RR before, the longest after
    a = int(np.flatnonzero(e.labels[beats.r_peaks])[0])
    assert beats.rr_before_s[a] == beats.rr_before_s.min() < 0.7 * np.median(beats.rr_before_s)
    assert abs(beats.r_peaks[a] - (99579 - 92500)) <= 2
    with pytest.raises(ValueError, match="heartbeats"):
        ecg_beats(np.zeros(3600), 360.0)


def test_ecg_split_is_in_time_and_trains_on_normal_beats_only():
    d = anomaly.ecg_anomaly_data()
    assert len(d.train) + len(d.val) + len(d.test) == 24
    assert d.test_anomalous.sum() == 1 and np.all(np.diff(d.test_time_s) > 0)
    assert d.test_time_s.min() >= 0.75 * 7500 / 360  # the test part is the last quarter
    with pytest.raises(ValueError, match="test part"):
        anomaly.ecg_anomaly_data(train_share=0.8, val_share=0.3)


# -- faults and features -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def motion_data():
    return anomaly.motion_anomaly_data()


@pytest.mark.parametrize("kind", WINDOW_FAULT_KINDS)
def test_each_fault_changes_copies_and_leaves_the_input(motion_data, kind):
    clean = motion_data.val_windows[:20]
    before = clean.copy()
    faulty = inject_window_fault(clean, kind, seed=3)
    np.testing.assert_array_equal(clean, before)
    assert faulty.shape == clean.shape and faulty.dtype == np.float32
    changed = np.any(faulty != clean, axis=(1, 2))
    assert changed.mean() >= 0.9, f"{kind} changed only {changed.mean():.0%} of windows"
    if kind == "stuck_axis":
        assert all(np.any(np.ptp(w[-25:], axis=0) == 0) for w in faulty)
    elif kind == "saturation":
        assert np.abs(faulty[:, :, :3]).max() <= 0.5 + 1e-6 and np.abs(faulty[:, :, 3:]).max() <= 0.55
    elif kind == "unit_error":
        np.testing.assert_allclose(faulty[:, :, :3], clean[:, :, :3] * STANDARD_GRAVITY_M_S2, rtol=1e-6)
    elif kind == "dropped_samples":
        assert all(np.sum(np.all(w == 0, axis=1)) >= 10 for w in faulty)


def test_faults_refuse_bad_input():
    with pytest.raises(ValueError, match="unknown fault"):
        inject_window_fault(np.zeros((1, 100, 6)), "gremlins")
    with pytest.raises(ValueError, match="IMU windows"):
        inject_window_fault(np.zeros((1, 100, 3)), "stuck_axis")


def test_window_statistics_are_the_five_per_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 100, 6)).astype(np.float32)
    f = window_statistics(w)
    x = w.astype(np.float64)
    expected = np.concatenate([x.mean(1), x.std(1), x.min(1), x.max(1), np.abs(np.diff(x, axis=1)).mean(1)], axis=1)
    np.testing.assert_array_equal(f, expected.astype(np.float32))
    assert window_statistics(w[0]).shape == (30,)
    assert window_statistic_names(("ax", "ay", "az", "wx", "wy", "wz"))[6] == "ax_std"
    w[1, 5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        window_statistics(w)


def test_motion_split_keeps_test_people_and_held_out_exercises_out_of_training(motion, motion_data):
    d = motion_data
    # no training or validation window appears among the test windows
    train_rows = {w.tobytes() for w in d.train_windows} | {w.tobytes() for w in d.val_windows}
    assert not any(w.tobytes() in train_rows for w in d.test_windows)
    # the held-out exercises are absent from training: every training window matches a
    # recording of a trained exercise by a training subject
    allowed = [r for r, y, s in zip(motion.recordings, motion.labels, motion.subject_ids)
               if motion.class_names[y] not in anomaly.MOTION_HELD_OUT_CLASSES and s not in (6, 7, 8, 9, 10)]
    assert len(d.train) > 1000 and len(d.val) > 300
    assert sum(len(r) for r in allowed) >= 50 * len(d.train)  # stride 50 samples: about one window per 50
    kinds = set(d.test_kind.tolist())
    assert {"normal", "exercise:IR", "exercise:ER"} | {f"fault:{k}" for k in WINDOW_FAULT_KINDS} == kinds
    with pytest.raises(ValueError, match="unknown exercise"):
        anomaly.motion_anomaly_data(held_out=("SQUAT",))
    with pytest.raises(ValueError, match="overlap"):
        anomaly.motion_anomaly_data(val_subjects=(7, 8))


# -- detectors, thresholds, metrics ------------------------------------------------------------------

def test_kmeans_score_is_the_distance_to_the_nearest_centroid():
    z = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], dtype=np.float32)
    km = anomaly.KMeansDetector(2).fit(z)
    np.testing.assert_allclose(km.score(km.centroids), 0, atol=1e-6)
    np.testing.assert_allclose(km.score(np.array([[0, 4.5]], np.float32)), [4.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="fit"):
        anomaly.KMeansDetector(2).score(z)
    with pytest.raises(ValueError, match="one example per cluster"):
        anomaly.KMeansDetector(8).fit(z)


def test_threshold_is_a_validation_quantile_and_false_alarms_are_per_hour():
    val = np.arange(1, 101, dtype=np.float64)
    t = anomaly.choose_threshold(val, 0.05)
    assert t.value == pytest.approx(np.quantile(val, 0.95)) and t.n_validation == 100
    assert np.mean(val > t.value) == pytest.approx(0.05)
    # 1 % of windows above, one window per second: 36 alarms per hour
    assert anomaly.false_alarms_per_hour(np.r_[np.zeros(99), 1.0], 0.5, 1.0) == pytest.approx(36.0)
    for bad in ([], [np.nan]):
        with pytest.raises(ValueError):
            anomaly.choose_threshold(bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        anomaly.choose_threshold(val, 1.5)


def test_evaluate_scores_matches_sklearn_and_counts_by_kind():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(200, bool), np.ones(100, bool)]
    s = np.r_[rng.normal(0, 1, 200), rng.normal(2, 1, 50), rng.normal(0.2, 1, 50)]
    kinds = np.r_[["normal"] * 200, ["far"] * 50, ["near"] * 50]
    r = anomaly.evaluate_scores(s, y, 1.0, 2.0, kinds)
    assert r.auc == pytest.approx(roc_auc_score(y, s))
    assert r.auc_by_kind["far"] > 0.9 > r.auc_by_kind["near"]
    assert r.detection_rate == pytest.approx(np.mean(s[y] > 1.0))
    assert r.false_alarms_per_hour == pytest.approx(np.mean(s[~y] > 1.0) * 1800)
    with pytest.raises(ValueError, match="both normal and anomalous"):
        anomaly.evaluate_scores(s[:200], y[:200], 1.0, 1.0)


# -- the track end to end: tinymlkit anomaly ---------------------------------------------------------

def test_anomaly_run_meets_the_targets_on_unseen_people(anomaly_run):
    out, report = anomaly_run
    from tinymlkit.pipeline import ANOMALY_REPORT_KEYS

    assert set(ANOMALY_REPORT_KEYS) <= set(report)
    for name in ("kmeans", "autoencoder_float", "autoencoder_int8"):
        m = report["motion"][name]
        held = [m["auc_by_kind"][f"exercise:{c}"] for c in ("IR", "ER")]
        assert min(held) >= 0.90, (name, held)  # the target for held-out exercises
        assert m["auc_by_kind"]["fault:unit_error"] >= 0.95 and m["auc_by_kind"]["fault:loose_strap"] >= 0.95
    # quantization costs little: int8 in TFLM ranks windows as the float model does
    assert abs(report["motion"]["autoencoder_int8"]["auc"] - report["motion"]["autoencoder_float"]["auc"]) < 0.02
    assert report["int8_runtime"] == "tflm" and 0 < report["model_bytes"] < 16_000 and 0 < report["arena_bytes"] < 16_000
    assert report["ecg"]["test_anomalous"] == 1 and 0 <= report["ecg"]["kmeans"]["auc"] <= 1
    for name in ("model_int8.tflite", "model_data.cc", "model_data.h", "model_settings.h", "roc.png",
                 "scores.png", "ecg_scores.png"):
        assert (out / name).stat().st_size > 0, name
    assert all(b["fits"] for bid, b in report["boards"].items() if bid.startswith("nano33"))


def test_thresholds_come_from_validation_windows_only(anomaly_run):
    """Recompute each threshold from the normal validation windows alone, as the kit scores them:
    the exported thresholds must be exactly those quantiles (no test window took part)."""
    from tinymlkit.export import load_model_files

    out, report = anomaly_run
    model_bytes, settings = load_model_files(out, kind="anomaly")
    data = anomaly.motion_anomaly_data()
    ae_val, km_val = anomaly.score_windows(data.val_windows, settings, model_bytes)
    rate = report["motion"]["false_alarm_rate_target"]
    assert rate == pytest.approx(10 / 3600)
    assert settings.autoencoder_threshold == pytest.approx(np.quantile(ae_val.astype(np.float64), 1 - rate), rel=1e-5)
    assert settings.kmeans_threshold == pytest.approx(np.quantile(km_val.astype(np.float64), 1 - rate), rel=1e-5)
    assert report["thresholds"]["autoencoder_int8"]["n_validation"] == len(data.val)


def test_tflm_scores_agree_with_litert_and_the_float_model(anomaly_run):
    from scipy.stats import spearmanr

    from tinymlkit.export import load_model_files
    from tinymlkit.quantize import litert_predict

    out, _ = anomaly_run
    model_bytes, settings = load_model_files(out, kind="anomaly")
    data = anomaly.motion_anomaly_data()
    z = (data.test - settings.feature_mean) / settings.feature_std
    scores, q_in, q_out, runtime = anomaly.int8_autoencoder_scores(model_bytes, z)
    assert runtime == "tflm"
    ref = litert_predict(model_bytes, q_in)
    steps = np.abs(ref.astype(int) - q_out.astype(int))
    # Two int8 runtimes round each layer's requantization on their own: the outputs are equal or
    # one step apart, with a rare few steps after four layers of such differences.
    print(f"TFLM vs LiteRT: {np.mean(steps == 0):.2%} equal, {np.mean(steps > 1):.3%} more than 1 step, max {steps.max()}")
    assert np.mean(steps > 1) < 0.005 and steps.max() <= 4
    # the kit's score from the raw windows is the same number
    ae, km = anomaly.score_windows(data.test_windows, settings, model_bytes)
    np.testing.assert_allclose(ae, scores, rtol=1e-6)
    km_ref = anomaly.KMeansDetector(len(settings.centroids))
    km_ref.centroids = settings.centroids
    np.testing.assert_allclose(km, km_ref.score(z.astype(np.float32)), rtol=1e-5)
    assert spearmanr(scores, np.abs(z).mean(axis=1)).statistic > 0.5  # far-out features rebuild worse


def test_export_round_trips_and_the_header_has_what_the_sketch_needs(anomaly_run):
    from tinymlkit.export import ModelFilesError, load_model_files

    out, _ = anomaly_run
    _, settings = load_model_files(out, kind="anomaly")
    assert settings.labels == ("normal", "anomaly") and settings.centroids.shape == (8, 30)
    header = (out / "model_settings.h").read_text()
    for name in ("TINYMLKIT_ANOMALY_MODEL", "kFeatureMean[kFeatureCount]", "kCentroids[kClusterCount][kFeatureCount]",
                 "kAutoencoderThreshold", "kKmeansThreshold", "kTensorArenaBytes"):
        assert name in header
    with pytest.raises(ModelFilesError, match="anomaly-detection"):
        load_model_files(out, kind="motion")
    d = json.loads((out / "model_settings.json").read_text())
    d["centroids"] = [[0.0] * 29]
    (out.parent / "bad_anomaly").mkdir(exist_ok=True)
    (out.parent / "bad_anomaly" / "model_settings.json").write_text(json.dumps(d))
    (out.parent / "bad_anomaly" / "model_int8.tflite").write_bytes((out / "model_int8.tflite").read_bytes())
    with pytest.raises(ModelFilesError, match="centroids"):
        load_model_files(out.parent / "bad_anomaly")


def test_the_simulated_kit_flags_held_out_exercises_and_faults(anomaly_run):
    from tinymlkit.board_link import Board, BoardError
    from tinymlkit.simboard import SimulatedBoard, SimulationConfig

    out, _ = anomaly_run
    with SimulatedBoard(SimulationConfig(model=str(out), speed=20, subject=9)) as sim:
        board = Board(sim.port)
        try:
            labels = {}
            for act, fault in (("PEN", "none"), ("ABD", "none"), ("IR", "none"), ("ABD", "unit_error"),
                               ("PEN", "loose_strap")):
                board.act(act)
                board.fault(fault)
                time.sleep(0.3)  # > 2 s of samples at 20x: a whole new window
                results = [board.infer() for _ in range(3)]
                labels[(act, fault)] = [r.label for r in results]
                assert all(len(r.logits) == 2 and r.logits[0] >= 0 and r.logits[1] >= 0 for r in results)
            assert labels[("ABD", "unit_error")] == ["anomaly"] * 3
            assert labels[("PEN", "loose_strap")] == ["anomaly"] * 3
            assert labels[("IR", "none")].count("anomaly") >= 2
            assert labels[("PEN", "none")].count("normal") >= 2 and labels[("ABD", "none")].count("normal") >= 2
            with pytest.raises(BoardError, match="unknown fault"):
                board.fault("gremlins")
        finally:
            board.close()


def test_cli_refuses_an_unknown_exercise_in_plain_words(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "anomaly", "--held-out", "SQUAT",
                           "--out", str(tmp_path), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "unknown exercise" in proc.stderr and "Traceback" not in proc.stderr


def test_anomaly_plots_draw_and_refuse_bad_input():
    from tinymlkit.plots import plot_anomaly_scores, plot_roc, plot_score_histogram

    s = np.r_[np.linspace(0.1, 1, 50), np.linspace(2, 3, 10)]
    y = np.r_[np.zeros(50, bool), np.ones(10, bool)]
    fig = plot_anomaly_scores(s, 1.5, anomalous=y)
    assert "10 alarms" in fig.axes[0].get_legend().get_texts()[-1].get_text()
    assert plot_score_histogram(s[~y], s[y], 1.5).axes
    assert plot_roc({"a": (np.array([0, 0, 1.0]), np.array([0, 1, 1.0]), 1.0)}).axes
    with pytest.raises(ValueError, match="finite"):
        plot_anomaly_scores(np.r_[s, np.nan], 1.0)
    with pytest.raises(ValueError, match="at least one curve"):
        plot_roc({})


def test_training_curves_draw_an_autoencoders_loss():
    from tinymlkit.plots import plot_training_curves

    fig = plot_training_curves({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]})
    assert [ax.get_title() for ax in fig.axes] == ["loss"] and len(fig.axes[0].get_lines()) == 2


def test_leave_one_exercise_out_shows_why_ir_and_er_are_held_out_together(motion):
    aucs = anomaly.leave_one_exercise_out(motion)
    assert list(aucs) == list(motion.class_names) and all(0.0 <= v <= 1.0 for v in aucs.values())
    # each rotation alone hides behind the other (module 13, section 7); a pendulum stands out
    assert aucs["IR"] < 0.7 and aucs["ER"] < 0.7 and aucs["PEN"] > 0.85
