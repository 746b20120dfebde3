"""Anomaly detection (issue #17): learn "normal" from unlabelled normal data, flag the rest.

Taught in ``modules/13_anomaly_detection.ipynb`` and ``solutions/lab07_anomaly_detection``.
Two detectors on the same features, each giving an **anomaly score** (higher = less normal):

* **K-means distance**: cluster normal feature vectors (:class:`sklearn.cluster.KMeans`); the
  score is the Euclidean distance to the nearest centroid (Edge Impulse's K-means anomaly block
  works the same way).
* **Autoencoder reconstruction error**: a small dense autoencoder
  (:func:`tinymlkit.models.build_autoencoder`) rebuilds normal inputs well and others badly; the
  score is the mean squared error (the MLPerf Tiny anomaly benchmark's method).

A **threshold** turns a score into an alarm. It is chosen on normal *validation* data only
(:func:`choose_threshold`: a quantile that fixes the false-alarm rate), never on the test set:
in the field there are no labelled anomalies to tune on. :func:`evaluate_scores` gives the ROC
curve and AUC (:mod:`sklearn.metrics`) and the false alarms per hour of normal use, the number a
deployment lives by.

Motion (:func:`motion_anomaly_data`): "normal" is the exercises a detector was trained on; the
anomalies are held-out exercises and realistic sensor faults
(:func:`tinymlkit.datasets.inject_window_fault`), all from people never seen in training. ECG
(:func:`ecg_anomaly_data`): the heartbeats of a MIT-BIH record 100 excerpt, split in time.

The int8 autoencoder runs in TFLM (:func:`int8_autoencoder_scores`), and
:func:`export_anomaly_detector` writes what the ``anomaly_inference`` sketches compile.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from .datasets import (DEFAULT_TEST_SUBJECTS, WINDOW_FAULT_KINDS, EcgExcerpt, MotionDataset,
                       inject_window_fault, load_ecg_excerpt, load_motion)
from .export import write_model_files
from .features import (RIGHT_TO_LEFT_WRIST_SIGNS, Normalization, ecg_beats, ms_to_samples,
                       window_recordings, window_statistic_names, window_statistics)
from .model_settings import AnomalyModelSettings
from .quantize import QuantParams, dequantize, quantize
from .tflm import measure_arena, predict_int8, tflm_model_io

__all__ = ["MOTION_HELD_OUT_CLASSES", "MOTION_VALIDATION_SUBJECTS", "AnomalyData", "KMeansDetector",
           "Threshold", "ScoreReport", "anomaly_settings", "autoencoder_scores", "choose_threshold",
           "ecg_anomaly_data", "evaluate_scores", "export_anomaly_detector", "false_alarms_per_hour",
           "fit_feature_scaler", "int8_autoencoder_scores", "int8_reconstruction_error",
           "leave_one_exercise_out", "motion_anomaly_data", "reconstruction_error", "score_windows"]

#: The exercises the course's motion detector never sees in training: the two resistance-band
#: rotations (internal and external). Chosen as a pair because each is the other's nearest
#: neighbour: hold out only one and the other, still "normal", hides it (module 13 shows the
#: leave-one-exercise-out table, ``benchmarks/bench_anomaly.py`` prints it).
MOTION_HELD_OUT_CLASSES: tuple[str, ...] = ("IR", "ER")
#: Training subjects whose windows choose the threshold (never used to fit a detector).
MOTION_VALIDATION_SUBJECTS: tuple[int, ...] = (6, 7)


@dataclasses.dataclass(frozen=True)
class AnomalyData:
    """Feature vectors for an anomaly detector, split so that no test example shapes it.

    Attributes:
        train: ``(n_train, n_features)`` float32, normal only: fits the scaler and the detectors.
        val: ``(n_val, n_features)`` float32, normal only: chooses the threshold.
        test: ``(n_test, n_features)`` float32, normal and anomalous.
        test_anomalous: ``(n_test,)`` bool.
        test_kind: ``(n_test,)`` str: ``"normal"``, ``"exercise:<code>"`` or ``"fault:<kind>"``
            (motion), ``"normal"`` or ``"beat:anomalous"`` (ECG).
        feature_names: ``(n_features,)`` names.
        seconds_per_example: time one example stands for, in s (the stride between windows or
            the mean RR interval): how false alarms per example become false alarms per hour.
        description: one line on what normal and anomalous mean here.
        train_windows, val_windows, test_windows: motion only: the raw ``(n, window, 6)``
            windows behind each split (left-wrist frame), for the simulated kit and parity tests.
        test_time_s: ECG only: each test beat's time in the excerpt, s.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_anomalous: np.ndarray
    test_kind: np.ndarray
    feature_names: tuple[str, ...]
    seconds_per_example: float
    description: str
    train_windows: np.ndarray | None = None
    val_windows: np.ndarray | None = None
    test_windows: np.ndarray | None = None
    test_time_s: np.ndarray | None = None

    def summary(self) -> str:
        """One line: sizes of each split and what the test anomalies are."""
        kinds, counts = np.unique(self.test_kind[self.test_anomalous], return_counts=True)
        return (f"{len(self.train)} normal training, {len(self.val)} normal validation, {len(self.test)} test "
                f"examples ({int(self.test_anomalous.sum())} anomalous: "
                + ", ".join(f"{k} {c}" for k, c in zip(kinds, counts)) + ")")


def motion_anomaly_data(ds: MotionDataset | None = None, *,
                        held_out: tuple[str, ...] = MOTION_HELD_OUT_CLASSES,
                        val_subjects: tuple[int, ...] = MOTION_VALIDATION_SUBJECTS,
                        test_subjects: tuple[int, ...] = DEFAULT_TEST_SUBJECTS,
                        window_ms: float = 2000.0, stride_ms: float = 1000.0,
                        faults: tuple[str, ...] = WINDOW_FAULT_KINDS, fault_share: float = 0.2,
                        seed: int = 0) -> AnomalyData:
    """The motion anomaly task: window statistics of the smartwatch exercises.

    * train: the exercises not in ``held_out``, subjects not in ``val_subjects`` or
      ``test_subjects``;
    * val: the same exercises by ``val_subjects`` (normal only: picks the threshold);
    * test, all by ``test_subjects`` (people never seen): their normal exercises, their
      ``held_out`` exercises (anomalies), and for each fault kind a copy of a random
      ``fault_share`` of their normal windows with that fault (anomalies).

    Right-arm recordings are mirrored into the left-wrist frame first (as the kit does with its
    "worn on the right wrist" setting).

    Args:
        ds: the dataset; default :func:`tinymlkit.datasets.load_motion`.
        held_out: exercise codes that are anomalies (never trained on).
        val_subjects, test_subjects: disjoint subject ids.
        window_ms, stride_ms: window length and hop, in ms (50 Hz: 100 and 50 samples).
        faults: kinds of :func:`tinymlkit.datasets.inject_window_fault` to add to the test set.
        fault_share: share of normal test windows copied with each fault.
        seed: fault choice.

    Returns:
        An :class:`AnomalyData` with ``train_windows``, ``val_windows``, ``test_windows`` set.

    Raises:
        ValueError: an unknown exercise code or fault, overlapping subject sets, or every
            exercise held out.
    """
    ds = ds if ds is not None else load_motion()
    unknown = [c for c in held_out if c not in ds.class_names]
    if unknown:
        raise ValueError(f"unknown exercise(s) {unknown}; the dataset has {', '.join(ds.class_names)}")
    if len(held_out) >= len(ds.class_names):
        raise ValueError("every exercise is held out: nothing is left to learn 'normal' from")
    if set(val_subjects) & set(test_subjects):
        raise ValueError(f"validation subjects {val_subjects} and test subjects {test_subjects} overlap")
    window = ms_to_samples(window_ms, ds.sample_rate_hz)
    stride = ms_to_samples(stride_ms, ds.sample_rate_hz)
    w = window_recordings(ds.recordings, ds.labels, ds.subject_ids, window, stride, sides=ds.sides)
    held_idx = [ds.class_names.index(c) for c in held_out]
    is_normal = ~np.isin(w.y, held_idx)
    in_val, in_test = np.isin(w.subject_ids, val_subjects), np.isin(w.subject_ids, test_subjects)
    train_x, val_x = w.x[is_normal & ~in_val & ~in_test], w.x[is_normal & in_val]
    test_normal, test_held = w.x[is_normal & in_test], w.x[~is_normal & in_test]
    rng = np.random.default_rng(seed)
    parts = [test_normal, test_held]
    kinds = [np.full(len(test_normal), "normal"),
             np.array([f"exercise:{ds.class_names[k]}" for k in w.y[~is_normal & in_test]])]
    for j, fault in enumerate(faults):
        pick = rng.choice(len(test_normal), size=max(1, int(round(fault_share * len(test_normal)))), replace=False)
        parts.append(inject_window_fault(test_normal[pick], fault, seed=seed + 1 + j))
        kinds.append(np.full(len(pick), f"fault:{fault}"))
    test_x = np.concatenate(parts).astype(np.float32)
    test_kind = np.concatenate(kinds)
    names = window_statistic_names(ds.channel_names)
    normal = [c for c in ds.class_names if c not in held_out]
    return AnomalyData(window_statistics(train_x), window_statistics(val_x), window_statistics(test_x),
                       test_kind != "normal", test_kind, names, stride / ds.sample_rate_hz,
                       f"normal = exercises {', '.join(normal)}; anomalous = exercises "
                       f"{', '.join(held_out)} and sensor faults ({', '.join(faults)}); test subjects "
                       f"{list(test_subjects)} never seen",
                       train_x, val_x, test_x)


def leave_one_exercise_out(ds: MotionDataset | None = None, n_clusters: int = 8,
                           seed: int = 0) -> dict[str, float]:
    """How anomalous each exercise is to a detector that knows the others: for each exercise,
    K-means on the other six (no faults), AUC of normal vs that exercise on the unseen test people.

    Args:
        ds: the dataset; default :func:`tinymlkit.datasets.load_motion`.
        n_clusters: K of each K-means.
        seed: K-means' ``random_state``.

    Returns:
        ``{exercise code: AUC}`` in the dataset's class order (0.5 = the detector cannot tell it
        from the exercises it knows).
    """
    from sklearn.metrics import roc_auc_score

    ds = ds if ds is not None else load_motion()
    aucs = {}
    for code in ds.class_names:
        d = motion_anomaly_data(ds, held_out=(code,), faults=())
        scaler = fit_feature_scaler(d.train)
        km = KMeansDetector(n_clusters, seed=seed).fit(scaler.apply(d.train))
        aucs[code] = float(roc_auc_score(d.test_anomalous, km.score(scaler.apply(d.test))))
    return aucs


def ecg_anomaly_data(excerpt: EcgExcerpt | None = None, *, train_share: float = 0.6,
                     val_share: float = 0.15) -> AnomalyData:
    """The ECG anomaly task: one feature vector per heartbeat (:func:`tinymlkit.features.ecg_beats`),
    split **in time** (never shuffled): the first ``train_share`` of the excerpt trains, the
    next ``val_share`` chooses the threshold, the rest tests.

    Training and validation beats labelled anomalous are dropped (a detector learns from normal
    data only; in record 100's excerpt there are none there). A beat is anomalous when its R
    peak lies in a labelled sample.

    Args:
        excerpt: default :func:`tinymlkit.datasets.load_ecg_excerpt`.
        train_share, val_share: shares of the excerpt's duration.

    Returns:
        An :class:`AnomalyData` with ``test_time_s`` set; ``seconds_per_example`` is the mean RR
        interval of the training beats.

    Raises:
        ValueError: the shares do not leave a test part, or a part has no beat.
    """
    excerpt = excerpt if excerpt is not None else load_ecg_excerpt()
    if not (0 < train_share and 0 < val_share and train_share + val_share < 1):
        raise ValueError(f"train_share {train_share} + val_share {val_share} must leave a test part (< 1)")
    beats = ecg_beats(excerpt.signal, excerpt.sample_rate_hz)
    n = len(excerpt.signal)
    t_train, t_val = int(train_share * n), int((train_share + val_share) * n)
    anomalous = excerpt.labels[beats.r_peaks]
    part_train = (beats.r_peaks < t_train) & ~anomalous
    part_val = (beats.r_peaks >= t_train) & (beats.r_peaks < t_val) & ~anomalous
    part_test = beats.r_peaks >= t_val
    for name, part in (("training", part_train), ("validation", part_val), ("test", part_test)):
        if not part.any():
            raise ValueError(f"the {name} part of the excerpt has no whole heartbeat; change the shares")
    n_shape = beats.features.shape[1] - 2
    names = tuple(f"shape_{k}" for k in range(n_shape)) + ("rr_before_s", "rr_after_s")
    return AnomalyData(beats.features[part_train], beats.features[part_val], beats.features[part_test],
                       anomalous[part_test], np.where(anomalous[part_test], "beat:anomalous", "normal"),
                       names, float(beats.rr_before_s[part_train].mean()),
                       f"MIT-BIH record {excerpt.record}: normal beats vs the labelled atrial premature "
                       f"beat; first {train_share:.0%} trains, next {val_share:.0%} validates, last "
                       f"{1 - train_share - val_share:.0%} tests",
                       test_time_s=(beats.r_peaks[part_test] / excerpt.sample_rate_hz).astype(np.float32))


def fit_feature_scaler(train_features: np.ndarray) -> Normalization:
    """Per-feature mean and standard deviation of the normal training features
    (:class:`sklearn.preprocessing.StandardScaler`); a constant feature gets std 1.

    Args:
        train_features: ``(n, n_features)`` float.

    Returns:
        A :class:`tinymlkit.features.Normalization` over features (``apply`` standardises
        ``(..., n_features)``).

    Raises:
        ValueError: not 2-D or empty.
    """
    from sklearn.preprocessing import StandardScaler

    f = np.asarray(train_features, dtype=np.float64)
    if f.ndim != 2 or f.size == 0:
        raise ValueError(f"expected non-empty (n, n_features) features, got shape {f.shape}")
    scaler = StandardScaler().fit(f)
    return Normalization(mean=scaler.mean_.astype(np.float32), std=scaler.scale_.astype(np.float32))


class KMeansDetector:
    """K-means on normal feature vectors; the anomaly score is the distance to the nearest centroid.

    Args:
        n_clusters: how many kinds of "normal" to find (the K of K-means).
        seed: :class:`sklearn.cluster.KMeans`' ``random_state``.

    Attributes:
        centroids: ``(n_clusters, n_features)`` float32 after :meth:`fit`.
    """

    def __init__(self, n_clusters: int = 8, seed: int = 0):
        if int(n_clusters) < 1:
            raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
        self.n_clusters, self.seed = int(n_clusters), seed
        self.centroids: np.ndarray | None = None

    def fit(self, z: np.ndarray) -> "KMeansDetector":
        """Cluster ``(n, n_features)`` standardised normal features; returns self.

        Raises:
            ValueError: fewer examples than clusters.
        """
        from sklearn.cluster import KMeans

        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or len(z) < self.n_clusters:
            raise ValueError(f"{len(z)} examples of shape {z.shape[1:]} for {self.n_clusters} clusters: "
                             "need at least one example per cluster")
        km = KMeans(self.n_clusters, n_init=10, random_state=self.seed).fit(z)
        self.centroids = km.cluster_centers_.astype(np.float32)
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        """``(n,)`` float32 distance of each ``(n, n_features)`` row to its nearest centroid, in
        float32 as the kit computes it (``tmk::kmeans_distance``).

        Raises:
            RuntimeError: not fitted yet.
        """
        if self.centroids is None:
            raise RuntimeError("fit() the detector on normal training features first")
        z = np.asarray(z, dtype=np.float32)
        d2 = ((z[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2, dtype=np.float32)
        return np.sqrt(d2.min(axis=1)).astype(np.float32)


def reconstruction_error(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean squared error per row: ``(n,)`` float32 from two ``(n, n_features)`` arrays."""
    x, x_hat = np.asarray(x, dtype=np.float32), np.asarray(x_hat, dtype=np.float32)
    if x.shape != x_hat.shape:
        raise ValueError(f"input {x.shape} and reconstruction {x_hat.shape} differ in shape")
    return ((x_hat - x) ** 2).mean(axis=1, dtype=np.float32)


def autoencoder_scores(model, z: np.ndarray) -> np.ndarray:
    """The float autoencoder's score for each ``(n, n_features)`` standardised row: ``(n,)`` float32."""
    z = np.asarray(z, dtype=np.float32)
    return reconstruction_error(z, model.predict(z, verbose=0, batch_size=256))


def int8_reconstruction_error(q_in: np.ndarray, q_out: np.ndarray, input_quant: QuantParams,
                              output_quant: QuantParams) -> np.ndarray:
    """The kit's autoencoder score from the int8 tensors, as ``tmk::reconstruction_error`` does:
    mean over features of ``(dequantize(out) - dequantize(in))²``, in float32.

    Args:
        q_in, q_out: ``(n, n_features)`` int8 input and output tensors.
        input_quant, output_quant: their scale and zero point.

    Returns:
        ``(n,)`` float32 scores.
    """
    return reconstruction_error(dequantize(np.asarray(q_in), input_quant),
                                dequantize(np.asarray(q_out), output_quant))


def int8_autoencoder_scores(model_bytes: bytes, z: np.ndarray, progress: bool = False
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Run the int8 autoencoder (in TFLM where available) and score each row as the kit does.

    Args:
        model_bytes: the int8 ``.tflite``.
        z: ``(n, n_features)`` float32 standardised features.
        progress: a tqdm bar over invokes.

    Returns:
        ``(scores, q_in, q_out, runtime)``: ``(n,)`` float32, the int8 input and output tensors,
        and ``"tflm"`` or ``"litert-reference"``.
    """
    io_ = tflm_model_io(model_bytes)
    q_in = quantize(np.asarray(z, dtype=np.float32), io_.input_quant)
    q_out, runtime = predict_int8(model_bytes, q_in, progress=progress)
    return int8_reconstruction_error(q_in, q_out, io_.input_quant, io_.output_quant), q_in, q_out, runtime


@dataclasses.dataclass(frozen=True)
class Threshold:
    """An alarm threshold and where it came from.

    Attributes:
        value: scores strictly above it are anomalies.
        false_alarm_rate: the share of normal validation examples above it (the target).
        n_validation: how many normal validation examples chose it.
    """

    value: float
    false_alarm_rate: float
    n_validation: int


def choose_threshold(val_scores: np.ndarray, false_alarm_rate: float = 0.01) -> Threshold:
    """The score above which an alarm sounds, from **normal validation scores only**.

    The ``1 - false_alarm_rate`` quantile (``numpy.quantile``, linear interpolation) of the
    validation scores: about that share of normal windows raise an alarm. With fewer than
    ``1 / false_alarm_rate`` validation examples the quantile is near their maximum, and the
    rate on new data is not known better than 1 in ``n_validation``: say so when you report it.

    Args:
        val_scores: ``(n,)`` scores of normal validation examples (never test data).
        false_alarm_rate: target share of normal examples that alarm, in (0, 1).

    Returns:
        A :class:`Threshold`.

    Raises:
        ValueError: no scores, a non-finite score, or a rate outside (0, 1).
    """
    s = np.asarray(val_scores, dtype=np.float64).ravel()
    if s.size == 0 or not np.isfinite(s).all():
        raise ValueError("the validation scores are empty or contain NaN/infinity")
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"false_alarm_rate {false_alarm_rate} must be between 0 and 1")
    return Threshold(float(np.quantile(s, 1.0 - false_alarm_rate)), float(false_alarm_rate), int(s.size))


def false_alarms_per_hour(normal_scores: np.ndarray, threshold: float, seconds_per_example: float) -> float:
    """Alarms per hour of normal use: the share of normal examples scoring above ``threshold``,
    times the examples per hour (``3600 / seconds_per_example``: a window every stride).

    Args:
        normal_scores: ``(n,)`` scores of normal examples.
        threshold: the alarm threshold.
        seconds_per_example: time between examples, in s (the stride, e.g. 1.0).

    Returns:
        Alarms per hour (float).

    Raises:
        ValueError: no scores or a non-positive ``seconds_per_example``.
    """
    s = np.asarray(normal_scores, dtype=np.float64).ravel()
    if s.size == 0 or seconds_per_example <= 0:
        raise ValueError("need at least one normal score and a positive time per example")
    return float(np.mean(s > threshold) * 3600.0 / seconds_per_example)


@dataclasses.dataclass(frozen=True)
class ScoreReport:
    """How well a score separates normal from anomalous test examples.

    Attributes:
        auc: area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`): the chance a random
            anomaly scores above a random normal example (0.5 = guessing, 1 = perfect).
        fpr, tpr: the ROC curve (:func:`sklearn.metrics.roc_curve`).
        threshold: the alarm threshold evaluated.
        detection_rate: share of anomalies above the threshold (recall).
        false_alarm_rate: share of normal test examples above it.
        false_alarms_per_hour: :func:`false_alarms_per_hour` on the normal test examples.
        auc_by_kind: AUC of normal vs each kind of anomaly.
        detection_by_kind: detection rate of each kind of anomaly.
    """

    auc: float
    fpr: np.ndarray
    tpr: np.ndarray
    threshold: float
    detection_rate: float
    false_alarm_rate: float
    false_alarms_per_hour: float
    auc_by_kind: dict[str, float]
    detection_by_kind: dict[str, float]

    def to_dict(self) -> dict:
        """JSON-able summary (without the curve)."""
        return {"auc": self.auc, "threshold": self.threshold, "detection_rate": self.detection_rate,
                "false_alarm_rate": self.false_alarm_rate, "false_alarms_per_hour": self.false_alarms_per_hour,
                "auc_by_kind": self.auc_by_kind, "detection_by_kind": self.detection_by_kind}


def evaluate_scores(scores: np.ndarray, anomalous: np.ndarray, threshold: float,
                    seconds_per_example: float, kinds: np.ndarray | None = None) -> ScoreReport:
    """ROC, AUC, detection rate and false alarms per hour of test scores at a given threshold.

    Args:
        scores: ``(n,)`` anomaly scores of test examples.
        anomalous: ``(n,)`` bool truth.
        threshold: chosen beforehand on validation data (:func:`choose_threshold`).
        seconds_per_example: for false alarms per hour.
        kinds: optional ``(n,)`` labels of each example's kind (``"normal"`` for normal ones), for
            the per-kind AUC and detection rate.

    Returns:
        A :class:`ScoreReport`.

    Raises:
        ValueError: lengths differ, or the test set lacks normal or anomalous examples (no ROC).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(anomalous, dtype=bool).ravel()
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    if y.all() or not y.any():
        raise ValueError("the test set needs both normal and anomalous examples for a ROC curve")
    fpr, tpr, _ = roc_curve(y, s)
    by_kind_auc, by_kind_det = {}, {}
    if kinds is not None:
        kinds = np.asarray(kinds)
        for kind in sorted(set(kinds[y].tolist())):
            pick = (kinds == kind) | ~y
            by_kind_auc[kind] = float(roc_auc_score(y[pick], s[pick]))
            by_kind_det[kind] = float(np.mean(s[kinds == kind] > threshold))
    return ScoreReport(float(roc_auc_score(y, s)), fpr, tpr, float(threshold), float(np.mean(s[y] > threshold)),
                       float(np.mean(s[~y] > threshold)),
                       false_alarms_per_hour(s[~y], threshold, seconds_per_example), by_kind_auc, by_kind_det)


def anomaly_settings(scaler: Normalization, kmeans: KMeansDetector, model_bytes: bytes, *,
                     autoencoder_threshold: float, kmeans_threshold: float, window_samples: int,
                     stride_samples: int, sample_rate_hz: float = 50.0,
                     channel_names: tuple[str, ...] = ("ax", "ay", "az", "wx", "wy", "wz"),
                     normal_classes: tuple[str, ...] = ()) -> AnomalyModelSettings:
    """Everything ``anomaly_inference`` needs besides the model bytes, with the tensor arena
    measured in TFLM (:func:`tinymlkit.tflm.measure_arena`).

    Args:
        scaler: :func:`fit_feature_scaler` on the normal training features.
        kmeans: a fitted :class:`KMeansDetector`.
        model_bytes: the int8 autoencoder.
        autoencoder_threshold, kmeans_threshold: from :func:`choose_threshold` (``.value``).
        window_samples, stride_samples, sample_rate_hz, channel_names: the kit's windows.
        normal_classes: what "normal" was (written in the header's comment).

    Returns:
        An :class:`tinymlkit.model_settings.AnomalyModelSettings` with the right-wrist signs.

    Raises:
        ValueError: as :class:`AnomalyModelSettings` (shapes, thresholds).
    """
    io_ = tflm_model_io(model_bytes)
    arena = measure_arena(model_bytes)
    return AnomalyModelSettings(
        channel_names=tuple(channel_names), window_samples=int(window_samples),
        stride_samples=int(stride_samples), sample_rate_hz=float(sample_rate_hz),
        feature_mean=scaler.mean, feature_std=scaler.std, centroids=kmeans.centroids,
        input_quant=io_.input_quant, output_quant=io_.output_quant,
        autoencoder_threshold=float(autoencoder_threshold), kmeans_threshold=float(kmeans_threshold),
        arena_bytes=arena.arena_bytes, arena_method=arena.method,
        channel_signs=RIGHT_TO_LEFT_WRIST_SIGNS, normal_classes=tuple(normal_classes))


def export_anomaly_detector(out_dir: str | pathlib.Path, model_bytes: bytes,
                            settings: AnomalyModelSettings) -> dict[str, pathlib.Path]:
    """Write the ``anomaly_inference`` files: ``model_data.cc``/``.h``, ``model_settings.h``
    (centroids, thresholds, standardisation, quantization, arena), ``model_int8.tflite`` and
    ``model_settings.json`` (:func:`tinymlkit.export.write_model_files`).

    Returns:
        ``{"tflite", "source", "header", "settings", "json"}`` paths.
    """
    return write_model_files(out_dir, model_bytes, settings)


def score_windows(windows: np.ndarray, settings: AnomalyModelSettings, model_bytes: bytes,
                  right_wrist: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Both scores of raw IMU windows exactly as the kit computes them (the simulated kit and
    the C parity test use it).

    Args:
        windows: ``(n, window_samples, 6)`` float32 raw (g, rad/s).
        settings: the exported settings.
        model_bytes: the int8 autoencoder.
        right_wrist: apply the right-wrist signs first.

    Returns:
        ``(autoencoder_scores, kmeans_scores)``, each ``(n,)`` float32.
    """
    x = np.asarray(windows, dtype=np.float32)
    if right_wrist and settings.channel_signs:
        x = x * np.asarray(settings.channel_signs, dtype=np.float32)
    z = Normalization(mean=np.asarray(settings.feature_mean, np.float32),
                      std=np.asarray(settings.feature_std, np.float32)).apply(window_statistics(x))
    km = KMeansDetector(len(settings.centroids))
    km.centroids = np.asarray(settings.centroids, dtype=np.float32)
    q_in = quantize(z, settings.input_quant)
    q_out, _ = predict_int8(model_bytes, q_in)
    return int8_reconstruction_error(q_in, q_out, settings.input_quant, settings.output_quant), km.score(z)
