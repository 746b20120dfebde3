"""Stage 2 — features: wrist frame, sliding windows and normalisation for IMU recordings.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Windows"). Imports only ``datasets``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial.transform import Rotation
from sklearn.preprocessing import StandardScaler

from .audio_features import (ms_to_samples, FEATURE_SCALE, AugmentConfig, FrontendSettings, apply_gain,
                              augment_clips, band_limit, change_speed, keyword_features,
                              microfrontend, mix_noise, spec_augment, streamed_keyword_features,
                              time_shift)
from .kit_audio import (MEMS_MICROPHONES, ROOM_KINDS, KitAudioConfig, MemsMicrophone,
                         room_impulse_responses, sound_like_kit)

__all__ = [
    "RIGHT_TO_LEFT_WRIST_SIGNS",
    "Normalization",
    "WindowSet",
    "fit_normalization",
    "ms_to_samples",
    "random_rotations",
    "samples_to_ms",
    "sliding_windows",
    "to_left_wrist",
    "window_recordings",
    # anomaly detection (issue #17): window statistics (motion) and heartbeats (ECG)
    "WINDOW_STATISTICS", "window_statistics", "window_statistic_names", "EcgBeats", "ecg_beats",
    # keyword spotting: TFLM microfrontend features and audio augmentation (audio_features.py)
    "FEATURE_SCALE", "AugmentConfig", "FrontendSettings", "apply_gain", "augment_clips",
    "band_limit", "change_speed", "keyword_features", "microfrontend", "mix_noise",
    "spec_augment", "streamed_keyword_features", "time_shift",
    # a kit's microphone in a room: pyroomacoustics rooms, audiomentations (kit_audio.py)
    "MEMS_MICROPHONES", "ROOM_KINDS", "KitAudioConfig", "MemsMicrophone", "room_impulse_responses",
    "sound_like_kit",
]

#: Sign per channel (ax, ay, az, wx, wy, wz) that mirrors a right-wrist recording into the
#: left-wrist frame: a reflection across the body's mid-plane flips the accelerometer's x axis;
#: angular velocity is an axial vector, so under the same reflection its other two axes flip.
#: Evidence in the data: the mean ``ax`` of every exercise changes sign between arms while ``ay``
#: and ``az`` keep theirs (``modules/01_pipeline_tour.ipynb``, "Left and right arm").
RIGHT_TO_LEFT_WRIST_SIGNS: tuple[int, ...] = (-1, 1, 1, 1, -1, -1)


def samples_to_ms(n_samples: int, sample_rate_hz: float) -> float:
    """Duration of ``n_samples`` at ``sample_rate_hz``, in ms."""
    return 1000.0 * n_samples / sample_rate_hz


def to_left_wrist(recording: np.ndarray, side: int) -> np.ndarray:
    """Express a recording in the left-wrist frame (mirror right-arm recordings).

    Args:
        recording: ``(n_samples, 6)`` float32, channels ax, ay, az [g], wx, wy, wz [rad/s].
        side: 1 = worn on the right arm (mirrored), 0 = left arm (returned unchanged, as a copy).

    Returns:
        ``(n_samples, 6)`` float32, a new array.

    Raises:
        ValueError: ``recording`` is not ``(n, 6)`` or ``side`` is not 0 or 1.
    """
    recording = np.asarray(recording, dtype=np.float32)
    if recording.ndim != 2 or recording.shape[1] != len(RIGHT_TO_LEFT_WRIST_SIGNS):
        raise ValueError(f"recording has shape {recording.shape}, expected (n_samples, 6)")
    if side not in (0, 1):
        raise ValueError(f"side must be 0 (left) or 1 (right), got {side!r}")
    if side == 1:
        return recording * np.asarray(RIGHT_TO_LEFT_WRIST_SIGNS, dtype=np.float32)
    return recording.copy()


def sliding_windows(recording: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Cut one recording into overlapping windows; a partial window at the end is dropped.

    Args:
        recording: ``(n_samples, n_channels)``.
        window: window length in samples.
        stride: hop between window starts in samples (``stride < window`` overlaps).

    Returns:
        ``(n_windows, window, n_channels)``, same dtype, a copy;
        ``n_windows = (n_samples - window) // stride + 1`` (0 if the recording is too short).

    Raises:
        ValueError: ``window`` or ``stride`` is not a positive integer.
    """
    if int(window) != window or window <= 0 or int(stride) != stride or stride <= 0:
        raise ValueError(f"window and stride must be positive whole numbers of samples, "
                         f"got window={window}, stride={stride}")
    recording = np.asarray(recording)
    if len(recording) < window:
        return np.empty((0, int(window), recording.shape[1]), dtype=recording.dtype)
    views = sliding_window_view(recording, int(window), axis=0)[::int(stride)]
    return np.ascontiguousarray(views.transpose(0, 2, 1))


@dataclasses.dataclass
class WindowSet:
    """Windows cut from several recordings, with what each window came from.

    Attributes:
        x: ``(n_windows, window, n_channels)`` float32.
        y: ``(n_windows,)`` int64 class index.
        subject_ids: ``(n_windows,)`` int64.
        recording_ids: ``(n_windows,)`` int64 index of the source recording.
    """

    x: np.ndarray
    y: np.ndarray
    subject_ids: np.ndarray
    recording_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def window_recordings(recordings: list[np.ndarray], labels: np.ndarray, subject_ids: np.ndarray,
                      window: int, stride: int, sides: np.ndarray | None = None,
                      indices: np.ndarray | None = None) -> WindowSet:
    """Window every selected recording and keep its label and subject per window.

    Args:
        recordings: list of ``(n_samples_i, n_channels)`` float32 arrays.
        labels, subject_ids: ``(n_recordings,)`` int.
        window, stride: in samples (see :func:`sliding_windows`).
        sides: ``(n_recordings,)`` 0/1; if given, recordings are first put in the left-wrist
            frame with :func:`to_left_wrist`.
        indices: which recordings to use (int indices or a bool mask); default all.

    Returns:
        A :class:`WindowSet`.

    Raises:
        ValueError: no selected recording is as long as one window.
    """
    idx = np.arange(len(recordings)) if indices is None else np.asarray(indices)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    xs, ys, subs, recs = [], [], [], []
    for i in idx:
        rec = recordings[i] if sides is None else to_left_wrist(recordings[i], int(sides[i]))
        w = sliding_windows(rec, window, stride)
        xs.append(w.astype(np.float32, copy=False))
        ys.append(np.full(len(w), labels[i], dtype=np.int64))
        subs.append(np.full(len(w), subject_ids[i], dtype=np.int64))
        recs.append(np.full(len(w), i, dtype=np.int64))
    if not xs or sum(len(x) for x in xs) == 0:
        raise ValueError(f"no recording is as long as one window of {window} samples")
    return WindowSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(subs),
                     np.concatenate(recs))


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Per-channel standardisation ``(x - mean) / std``, fitted on training windows only.

    The same two constants go into ``model_settings.h`` so the device normalises exactly as
    training did.

    Attributes:
        mean: ``(n_channels,)`` float32, in the channel's unit (g or rad/s).
        std: ``(n_channels,)`` float32, same unit, > 0.
    """

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``(..., n_channels)`` data; returns float32 of the same shape.

        Raises:
            ValueError: the last axis is not ``n_channels`` long.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.shape[-1] != len(self.mean):
            raise ValueError(f"data has {x.shape[-1]} channels on its last axis, the "
                             f"normalisation was fitted on {len(self.mean)}")
        return (x - self.mean) / self.std

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}`` as plain floats, for JSON and C export."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}


def fit_normalization(train_windows: np.ndarray) -> Normalization:
    """Fit per-channel mean and standard deviation on training windows (never on test data).

    Uses :class:`sklearn.preprocessing.StandardScaler` over every sample of every window.

    Args:
        train_windows: ``(n_windows, window, n_channels)`` float.

    Returns:
        A :class:`Normalization`; a channel with zero spread gets std 1 (left unscaled).

    Raises:
        ValueError: the array is not 3-D or is empty.
    """
    train_windows = np.asarray(train_windows)
    if train_windows.ndim != 3 or train_windows.size == 0:
        raise ValueError(f"expected non-empty (n_windows, window, n_channels) windows, got "
                         f"shape {train_windows.shape}")
    scaler = StandardScaler().fit(train_windows.reshape(-1, train_windows.shape[-1]))
    return Normalization(mean=scaler.mean_.astype(np.float32), std=scaler.scale_.astype(np.float32))


def random_rotations(windows: np.ndarray, angle_std_deg: float = 20.0, seed: int = 0) -> np.ndarray:
    """Augment IMU windows by turning the sensor: one random 3-D rotation per window.

    People wear a watch (or strap a kit) at slightly different angles, so the same movement
    reaches the sensor rotated. Rotating the accelerometer and the gyroscope vectors of a window
    by the same rotation makes training data for those angles (rotation augmentation of wearable
    sensor data: T. T. Um et al., ICMI 2017, doi:10.1145/3136755.3136817). Rotations come from
    :class:`scipy.spatial.transform.Rotation`.

    Args:
        windows: ``(n_windows, window, 6)`` float, channels ax, ay, az, wx, wy, wz, in sensor
            units (rotate *before* normalising).
        angle_std_deg: standard deviation of each component of the rotation vector, in degrees.
        seed: for the random rotations.

    Returns:
        ``(n_windows, window, 6)`` float32, a new array.

    Raises:
        ValueError: ``windows`` does not have 6 channels (two 3-axis sensors) on its last axis.
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[-1] != 6:
        raise ValueError(f"expected (n_windows, window, 6) IMU windows, got shape {windows.shape}")
    rng = np.random.default_rng(seed)
    rotvecs = rng.normal(scale=np.deg2rad(angle_std_deg), size=(len(windows), 3))
    matrices = Rotation.from_rotvec(rotvecs).as_matrix().astype(np.float32)  # (n, 3, 3)
    out = np.empty_like(windows)
    out[..., :3] = np.einsum("nij,ntj->nti", matrices, windows[..., :3])
    out[..., 3:] = np.einsum("nij,ntj->nti", matrices, windows[..., 3:])
    return out


# -- anomaly detection features (issue #17; modules/13_anomaly_detection.ipynb) ---------------------

#: The statistics :func:`window_statistics` computes per channel, in this order. The kit computes
#: the same in C (hardware/libraries/TinyMLKit/src/tmk_anomaly.h, ``window_statistics``).
WINDOW_STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "mean_abs_diff")


def window_statistics(windows: np.ndarray) -> np.ndarray:
    """Per-channel statistics of IMU windows: the anomaly track's features.

    For each channel: mean, standard deviation (population, ``ddof=0``), minimum, maximum and
    the mean absolute difference of consecutive samples (how jerky the signal is). Computed in
    float64 and rounded once to float32, as the kit does (``tmk::window_statistics``).

    Args:
        windows: ``(n, window_samples, n_channels)`` or ``(window_samples, n_channels)`` float,
            in the sensor's units (g, rad/s), with at least 2 samples per window.

    Returns:
        ``(n, 5 * n_channels)`` float32 (``(5 * n_channels,)`` for one window), grouped by
        statistic: the ``n_channels`` means first, then the standard deviations, and so on
        (:func:`window_statistic_names`).

    Raises:
        ValueError: the windows are not 2-D or 3-D, have fewer than 2 samples, or contain NaN or
            infinity (clean gaps first: ``modules/03``).
    """
    x = np.asarray(windows, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"windows of shape {np.shape(windows)}: expected (n, samples >= 2, channels)")
    if not np.isfinite(x).all():
        raise ValueError("windows contain NaN or infinity (a gap in the recording?): fill or drop "
                         "them before computing features")
    mean = x.mean(axis=1)
    std = np.sqrt(((x - mean[:, None, :]) ** 2).mean(axis=1))
    out = np.concatenate([mean, std, x.min(axis=1), x.max(axis=1),
                          np.abs(np.diff(x, axis=1)).mean(axis=1)], axis=1).astype(np.float32)
    return out[0] if single else out


def window_statistic_names(channel_names) -> tuple[str, ...]:
    """Names of :func:`window_statistics`' columns, e.g. ``("ax_mean", ..., "wz_mean_abs_diff")``."""
    return tuple(f"{c}_{stat}" for stat in WINDOW_STATISTICS for c in channel_names)


@dataclasses.dataclass(frozen=True)
class EcgBeats:
    """Heartbeats cut from an ECG around their R peaks (:func:`ecg_beats`).

    Attributes:
        features: ``(n_beats, n_shape + 2)`` float32: the beat's shape (mV, every ``decimate``-th
            sample from ``before_s`` before the R peak to ``after_s`` after it, minus the median
            of the window: baseline removed) followed by the RR intervals before and after the
            beat, in s.
        r_peaks: ``(n_beats,)`` int64, sample index of each R peak in the signal.
        rr_before_s, rr_after_s: ``(n_beats,)`` float32 RR intervals in s.
        sample_rate_hz: of the signal.
    """

    features: np.ndarray
    r_peaks: np.ndarray
    rr_before_s: np.ndarray
    rr_after_s: np.ndarray
    sample_rate_hz: float

    def __len__(self) -> int:
        return len(self.r_peaks)


def ecg_beats(signal: np.ndarray, sample_rate_hz: float, *, before_s: float = 0.25,
              after_s: float = 0.45, decimate: int = 4, min_rr_s: float = 0.3) -> EcgBeats:
    """Find R peaks (``scipy.signal.find_peaks``) and cut one feature vector per heartbeat.

    An R peak is a local maximum at least ``min_rr_s`` from the next one and higher than the
    median plus half the spread (98th minus 2nd percentile) of the signal. Beats too close to
    either end for a whole window or for both RR intervals are skipped. A premature beat (the
    ``A`` of MIT-BIH) shows in its short RR interval before and long one after, a ventricular
    one also in its wide shape: the two parts of the feature vector.

    Args:
        signal: ``(n,)`` float ECG in mV (one lead).
        sample_rate_hz: Hz (360 for MIT-BIH).
        before_s, after_s: window around the R peak, in s (0.25 s covers the P wave, 0.45 s the
            T wave at resting heart rates).
        decimate: keep every this-many-th sample of the window (4: 90 Hz, enough for a beat's
            shape; fewer features for a small autoencoder).
        min_rr_s: shortest RR interval accepted, in s (0.3 s = 200 beats per minute).

    Returns:
        An :class:`EcgBeats`.

    Raises:
        ValueError: the signal is not 1-D and finite, or has fewer than three beats.
    """
    from scipy.signal import find_peaks

    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ValueError(f"ECG of shape {x.shape}: expected a 1-D finite signal in mV")
    lo, hi = np.percentile(x, [2, 98])
    peaks, _ = find_peaks(x, height=np.median(x) + 0.5 * (hi - lo),
                          distance=max(1, int(min_rr_s * sample_rate_hz)))
    before, after = int(round(before_s * sample_rate_hz)), int(round(after_s * sample_rate_hz))
    keep = [k for k in range(1, len(peaks) - 1)
            if peaks[k] - before >= 0 and peaks[k] + after <= len(x)]
    if len(keep) < 3:
        raise ValueError(f"found {len(keep)} whole heartbeats in {len(x) / sample_rate_hz:.1f} s of ECG; "
                         "need at least 3 (is the signal upside down, or not an ECG in mV?)")
    rows, rr_b, rr_a = [], [], []
    for k in keep:
        w = x[peaks[k] - before:peaks[k] + after:decimate]
        rr_b.append((peaks[k] - peaks[k - 1]) / sample_rate_hz)
        rr_a.append((peaks[k + 1] - peaks[k]) / sample_rate_hz)
        rows.append(np.concatenate([w - np.median(w), [rr_b[-1], rr_a[-1]]]))
    return EcgBeats(np.asarray(rows, dtype=np.float32), peaks[keep].astype(np.int64),
                    np.asarray(rr_b, dtype=np.float32), np.asarray(rr_a, dtype=np.float32),
                    float(sample_rate_hz))
