"""Stage 1 — datasets: load the course's shipped sensor data, checked, with clear errors.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "The data").
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib
import zipfile

import numpy as np

from .errors import DatasetError
from .labels import SILENCE_WORDS
from .keywords import (COMMUNITY_ACCENTS, DIGIT_WORDS, ENGLISH_ACCENTS, ESPEAK_ACCENTS,
                        FLITE_VOICES, KEYWORD_SAMPLE_RATE_HZ, UNKNOWN_WORDS, KeywordClips,
                        SpeakerSetting, SynthesisError, load_keyword_clips, load_real_digits, load_real_voice_digits,
                        load_synthetic_keywords, speaker_settings, synthesize_keywords,
                        synthetic_keywords_path)
from .audio_sources import (DOWNLOADS, FSDD_DIGITS, FSDD_TEST_INDICES, NOISE_KINDS,
                             SPEECH_COMMANDS_SPLITS, Download, background_noise, fetch, load_fsdd,
                             load_speech_commands, load_speech_commands_noise, silence_clips)

__all__ = [
    "DatasetError",
    "MotionDataset",
    "DEFAULT_TEST_SUBJECTS",
    "STANDARD_GRAVITY_M_S2",
    "InjectedFaults",
    "inject_faults",
    "MOTION_CHANNELS",
    "load_motion",
    "motion_dataset_path",
    "subject_split",
    # anomaly detection (issue #17): the ECG excerpt and sensor faults on windows
    "EcgExcerpt", "ECG_SAMPLE_RATE_HZ", "WINDOW_FAULT_KINDS", "ecg_excerpt_path", "inject_window_fault",
    "load_ecg_excerpt",
    # keyword spotting (synthetic voices; tinymlkit/keywords.py)
    "COMMUNITY_ACCENTS", "DIGIT_WORDS", "ENGLISH_ACCENTS", "ESPEAK_ACCENTS", "FLITE_VOICES",
    "KEYWORD_SAMPLE_RATE_HZ", "UNKNOWN_WORDS", "KeywordClips", "SpeakerSetting", "SynthesisError",
    "load_keyword_clips", "load_real_digits", "load_real_voice_digits", "load_synthetic_keywords", "speaker_settings",
    "synthesize_keywords", "synthetic_keywords_path",
    # keyword-spotting audio sources: downloads, loaders, generated noise (tinymlkit/audio_sources.py)
    "DOWNLOADS", "Download", "FSDD_DIGITS", "FSDD_TEST_INDICES", "NOISE_KINDS",
    "SPEECH_COMMANDS_SPLITS", "background_noise", "fetch", "load_fsdd", "load_speech_commands",
    "load_speech_commands_noise", "silence_clips", "SILENCE_WORDS", "keyword_classes", "speaker_split", "held_out_speakers_by_group",
]

#: Subjects held out for testing in every course run (the last three ids, fixed before any model
#: was trained). No window of theirs is ever used for training or normalisation.
DEFAULT_TEST_SUBJECTS: tuple[int, ...] = (8, 9, 10)

#: Channel order of the motion data: accelerometer [g], then gyroscope [rad/s] (DATACARD.md).
MOTION_CHANNELS: tuple[str, ...] = ("ax", "ay", "az", "wx", "wy", "wz")

#: Standard gravity in m/s² (CGPM 1901; NIST SP 330), to tell g from m/s² in accelerometer data.
STANDARD_GRAVITY_M_S2 = 9.80665

_REQUIRED_ARRAYS = ("samples", "offsets", "labels", "subjects", "sides", "class_names",
                    "channel_names", "sample_rate_hz")


@dataclasses.dataclass(frozen=True)
class MotionDataset:
    """The smartwatch shoulder-exercise recordings (see ``data/motion/DATACARD.md``).

    Attributes:
        recordings: list of ``n_recordings`` float32 arrays, each ``(n_samples_i, 6)``, channels
            ``ax, ay, az`` [g] and ``wx, wy, wz`` [rad/s], sampled at ``sample_rate_hz``.
        labels: ``(n_recordings,)`` int64, index into ``class_names``.
        class_names: exercise codes, e.g. ``("PEN", "ABD", ...)``.
        subject_ids: ``(n_recordings,)`` int64, the person who made each recording.
        sides: ``(n_recordings,)`` int64, 1 = right arm, 0 = left arm.
        channel_names: ``("ax", "ay", "az", "wx", "wy", "wz")``.
        sample_rate_hz: sampling rate in Hz (50.0).
        path: the file it was read from.
    """

    recordings: list[np.ndarray]
    labels: np.ndarray
    class_names: tuple[str, ...]
    subject_ids: np.ndarray
    sides: np.ndarray
    channel_names: tuple[str, ...]
    sample_rate_hz: float
    path: pathlib.Path

    def __len__(self) -> int:
        return len(self.recordings)

    def summary(self) -> str:
        """One line a person can read: counts of recordings, subjects, classes, minutes."""
        n_samples = sum(len(r) for r in self.recordings)
        return (f"{len(self)} recordings, {len(np.unique(self.subject_ids))} subjects, "
                f"{len(self.class_names)} classes ({', '.join(self.class_names)}), "
                f"{len(self.channel_names)} channels at {self.sample_rate_hz:g} Hz, "
                f"{n_samples / self.sample_rate_hz / 60:.0f} min in all")


def motion_dataset_path() -> pathlib.Path:
    """Path of the motion dataset shipped inside the package (``tinymlkit/data/motion/watch_imu.npz``)."""
    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "motion" / "watch_imu.npz"))


def load_motion(path: str | pathlib.Path | None = None) -> MotionDataset:
    """Load the smartwatch shoulder-exercise IMU dataset (Burns et al., 2018; BSD-3-Clause).

    Args:
        path: an ``.npz`` in the course format written by ``scripts/convert_watch_dataset.py``;
            default: the copy shipped in the package, so this works offline.

    Returns:
        A :class:`MotionDataset` with 140 recordings of shape ``(n_samples_i, 6)`` float32,
        labels, class names, subject ids and sides.

    Raises:
        DatasetError: the file is missing, truncated or corrupt, lacks an array, or an array has
            the wrong shape or values (the message names the file and the fault).
    """
    path = pathlib.Path(path) if path is not None else motion_dataset_path()
    if not path.is_file():
        raise DatasetError(f"'{path}': file not found. The motion dataset ships inside the "
                           "tinymlkit package; reinstall it with 'make setup'.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _REQUIRED_ARRAYS if k not in npz.files]
            if missing:
                raise DatasetError(f"'{path}': missing array(s) {', '.join(missing)}; expected "
                                   f"{', '.join(_REQUIRED_ARRAYS)}")
            arrays = {k: npz[k] for k in _REQUIRED_ARRAYS}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DatasetError(f"'{path}': cannot be read as a NumPy .npz archive — it may be "
                           f"truncated or corrupt ({exc}). Re-copy it, or reinstall with "
                           "'make setup'.") from exc
    return _validate(path, arrays)


def _validate(path: pathlib.Path, a: dict[str, np.ndarray]) -> MotionDataset:
    samples, offsets = a["samples"], a["offsets"]
    channels = tuple(str(c) for c in a["channel_names"])
    if samples.ndim != 2 or samples.shape[1] != len(channels):
        raise DatasetError(f"'{path}': 'samples' has shape {samples.shape}, expected "
                           f"(n_samples, {len(channels)}) for channels {', '.join(channels)}")
    if not np.issubdtype(samples.dtype, np.floating):
        raise DatasetError(f"'{path}': 'samples' has dtype {samples.dtype}, expected float32")
    n_rec = len(a["labels"])
    if offsets.shape != (n_rec + 1,):
        raise DatasetError(f"'{path}': 'offsets' has shape {offsets.shape}, expected ({n_rec + 1},) "
                           f"for {n_rec} recordings")
    if offsets[0] != 0 or offsets[-1] != len(samples) or np.any(np.diff(offsets) <= 0):
        raise DatasetError(f"'{path}': 'offsets' must rise from 0 to {len(samples)} (the number "
                           f"of samples); got {offsets[0]} … {offsets[-1]}")
    for key in ("subjects", "sides"):
        if a[key].shape != (n_rec,):
            raise DatasetError(f"'{path}': '{key}' has shape {a[key].shape}, expected ({n_rec},)")
    class_names = tuple(str(c) for c in a["class_names"])
    bad = np.flatnonzero((a["labels"] < 0) | (a["labels"] >= len(class_names)))
    if bad.size:
        raise DatasetError(f"'{path}': recording {bad[0]} has label {a['labels'][bad[0]]}, "
                           f"expected 0..{len(class_names) - 1} ({', '.join(class_names)})")
    if not np.all(np.isfinite(samples)):
        row = int(np.flatnonzero(~np.all(np.isfinite(samples), axis=1))[0])
        raise DatasetError(f"'{path}': sample row {row} holds NaN or infinity")
    samples = samples.astype(np.float32, copy=False)
    recordings = [samples[offsets[i]:offsets[i + 1]] for i in range(n_rec)]
    return MotionDataset(
        recordings=recordings,
        labels=a["labels"].astype(np.int64),
        class_names=class_names,
        subject_ids=a["subjects"].astype(np.int64),
        sides=a["sides"].astype(np.int64),
        channel_names=channels,
        sample_rate_hz=float(a["sample_rate_hz"]),
        path=path,
    )


def subject_split(subject_ids: np.ndarray,
                  test_subjects: tuple[int, ...] = DEFAULT_TEST_SUBJECTS) -> tuple[np.ndarray, np.ndarray]:
    """Split by person: every item of a test subject goes to test, all others to train.

    Args:
        subject_ids: ``(n,)`` int, the subject of each recording or window.
        test_subjects: ids held out; default :data:`DEFAULT_TEST_SUBJECTS`.

    Returns:
        ``(train_mask, test_mask)``, two ``(n,)`` bool arrays that never overlap.

    Raises:
        ValueError: a test subject does not occur, or no subject is left for training.
    """
    subject_ids = np.asarray(subject_ids)
    unknown = sorted(set(test_subjects) - set(np.unique(subject_ids).tolist()))
    if unknown:
        raise ValueError(f"test subject(s) {unknown} do not occur; subjects are "
                         f"{sorted(np.unique(subject_ids).tolist())}")
    test_mask = np.isin(subject_ids, test_subjects)
    if test_mask.all():
        raise ValueError("every subject is a test subject; leave at least one for training")
    return ~test_mask, test_mask




def keyword_classes(words, keywords: tuple[str, ...]) -> np.ndarray:
    """Class index of each word for a keyword model whose classes are ``keywords + ("unknown",
    "silence")``: a keyword keeps its index in ``keywords``, silence (either spelling,
    :data:`SILENCE_WORDS`) is ``len(keywords) + 1``, every other word is ``len(keywords)``
    ("unknown"). Lab 05's ``to_classes`` is graded against it.

    Args:
        words: ``n`` labels (str).
        keywords: the words to spot, in class order.

    Returns:
        ``(n,)`` int64.
    """
    keywords = tuple(keywords)
    n = len(keywords)
    return np.array([keywords.index(w) if w in keywords else n + 1 if w in SILENCE_WORDS else n
                     for w in words], dtype=np.int64)


def speaker_split(speaker_ids, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split clips by speaker: a random ``test_fraction`` of the speakers (rounded, at least one)
    and all their clips go to test, everyone else to train. Lab 05's ``speaker_split`` is graded
    against it.

    Args:
        speaker_ids: ``(n,)`` str, the speaker of each clip.
        test_fraction: share of the speakers held out, 0..1.
        seed: the random speaker order (``numpy.random.default_rng(seed).permutation`` of the
            sorted unique speakers).

    Returns:
        ``(train_mask, test_mask)``, two ``(n,)`` bool arrays that never overlap and cover every
        clip.

    Raises:
        ValueError: ``test_fraction`` is not in [0, 1), or there are fewer than 2 speakers.
    """
    ids = np.asarray(speaker_ids)
    speakers = np.unique(ids)
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction {test_fraction}: give a share of the speakers in [0, 1)")
    if len(speakers) < 2:
        raise ValueError(f"{len(speakers)} speaker(s): a split by speaker needs at least 2")
    order = np.random.default_rng(seed).permutation(speakers)
    n_test = min(len(speakers) - 1, max(1, int(round(test_fraction * len(speakers)))))
    test = np.isin(ids, order[:n_test])
    return ~test, test


def held_out_speakers_by_group(speaker_ids, groups, per_group: int, seed: int = 0) -> list[str]:
    """Held-out test speakers chosen in every group (an espeak-ng accent, say), so that each group
    keeps most of its speakers for training: per group (in sorted order) the first
    ``min(per_group, max(1, n_speakers // 5))`` of a random permutation of its speakers (one
    ``numpy.random.default_rng(seed)`` drawn group after group). The keyword pipeline's split.

    Args:
        speaker_ids: ``(n,)`` str, the speaker of each clip.
        groups: ``(n,)`` str, the group of each clip (a speaker is in the group of its first clip).
        per_group: at most this many test speakers per group.
        seed: for the permutations.

    Returns:
        The test speakers, sorted.
    """
    rng = np.random.default_rng(seed)
    speakers_of: dict[str, list[str]] = {}
    seen: set[str] = set()
    for speaker, group in zip(speaker_ids, groups):
        if speaker not in seen:
            seen.add(speaker)
            speakers_of.setdefault(group, []).append(speaker)
    return sorted(str(s) for group in sorted(speakers_of) for s in
                  rng.permutation(speakers_of[group])[:min(per_group, max(1, len(speakers_of[group]) // 5))])


@dataclasses.dataclass(frozen=True)
class InjectedFaults:
    """What :func:`inject_faults` broke, for checking a student's data cleaning.

    Attributes:
        gap_recordings: indices of recordings with NaN gaps (a sensor that dropped samples).
        gaps: ``{recording: [(start_sample, length_samples), ...]}``.
        unit_error_recordings: indices whose accelerometer was logged in m/s² instead of g.
    """

    gap_recordings: tuple[int, ...]
    gaps: dict[int, list[tuple[int, int]]]
    unit_error_recordings: tuple[int, ...]


def inject_faults(ds: MotionDataset, seed: int = 0, n_gap_recordings: int = 3,
                  n_unit_errors: int = 2) -> tuple[MotionDataset, InjectedFaults]:
    """A copy of the dataset with the faults real field recordings have, for cleaning exercises.

    Two kinds of fault, on different recordings:

    * **gaps**: two runs of 5–25 samples set to NaN, as when a Bluetooth link drops packets;
    * **unit errors**: the accelerometer columns multiplied by :data:`STANDARD_GRAVITY_M_S2`, as
      when one phone app logs m/s² and another g.

    Args:
        ds: a :class:`MotionDataset` (not modified).
        seed: chooses the recordings and gap positions.
        n_gap_recordings, n_unit_errors: how many recordings get each fault.

    Returns:
        ``(faulty_dataset, faults)``.

    Raises:
        ValueError: more faulty recordings asked for than the dataset has.
    """
    if n_gap_recordings + n_unit_errors > len(ds):
        raise ValueError(f"asked for {n_gap_recordings + n_unit_errors} faulty recordings, "
                         f"the dataset has {len(ds)}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(ds), size=n_gap_recordings + n_unit_errors, replace=False)
    gap_idx = tuple(sorted(int(i) for i in chosen[:n_gap_recordings]))
    unit_idx = tuple(sorted(int(i) for i in chosen[n_gap_recordings:]))
    recordings = [r.copy() for r in ds.recordings]
    gaps: dict[int, list[tuple[int, int]]] = {}
    for i in gap_idx:
        n = len(recordings[i])
        starts = sorted(rng.choice(np.arange(50, n - 80, 40), size=2, replace=False))
        gaps[i] = [(int(s0), int(rng.integers(5, 26))) for s0 in starts]
        for start, length in gaps[i]:
            recordings[i][start:start + length] = np.nan
    for i in unit_idx:
        recordings[i][:, :3] *= STANDARD_GRAVITY_M_S2
    faulty = dataclasses.replace(ds, recordings=recordings)
    return faulty, InjectedFaults(gap_idx, gaps, unit_idx)


# -- ECG (anomaly detection track, issue #17; data/ecg/DATACARD.md) ----------------------------------

#: Sampling rate of the MIT-BIH Arrhythmia Database records, Hz (Moody & Mark 2001; PhysioNet's
#: mitdb page: "digitized at 360 samples per second per channel").
ECG_SAMPLE_RATE_HZ = 360.0


@dataclasses.dataclass(frozen=True)
class EcgExcerpt:
    """A 20.8 s excerpt of MIT-BIH record 100 with anomaly labels (``data/ecg/DATACARD.md``).

    Attributes:
        signal: ``(7500,)`` float32 ECG in mV (MIT-BIH's 200 ADC units per mV; every value is a
            multiple of 0.005 mV).
        labels: ``(7500,)`` bool, True inside the window the TSB-UAD benchmark marks around a
            non-normal beat (here one atrial premature beat, annotation ``A`` at sample 99579).
        sample_rate_hz: 360.0.
        record: ``"100"``.
        first_sample: the record's sample number of ``signal[0]`` (92500).
        path: the file it was read from.
    """

    signal: np.ndarray
    labels: np.ndarray
    sample_rate_hz: float
    record: str
    first_sample: int
    path: pathlib.Path

    def __len__(self) -> int:
        return len(self.signal)

    def summary(self) -> str:
        """One line a person can read: record, length, rate and how much is labelled anomalous."""
        return (f"MIT-BIH record {self.record}, samples {self.first_sample}-{self.first_sample + len(self) - 1}: "
                f"{len(self) / self.sample_rate_hz:.1f} s at {self.sample_rate_hz:g} Hz, "
                f"{int(self.labels.sum())} samples ({self.labels.mean():.1%}) labelled anomalous")


def ecg_excerpt_path() -> pathlib.Path:
    """Path of the ECG excerpt shipped in the package (``tinymlkit/data/ecg/mitdb_100_excerpt.csv``)."""
    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "ecg" / "mitdb_100_excerpt.csv"))


def load_ecg_excerpt(path: str | pathlib.Path | None = None) -> EcgExcerpt:
    """Load the MIT-BIH record 100 excerpt (7,500 samples at 360 Hz, ODC-By 1.0) with its labels.

    The file is ``sktime/datasets/data/mitdb/mitdb.csv`` of the sktime 1.2.0 wheel, unchanged:
    a header ``data,label`` and one ``<mV>,<0|1>`` row per sample (provenance in DATACARD.md).

    Args:
        path: a CSV in that format; default: the copy shipped in the package (works offline).

    Returns:
        An :class:`EcgExcerpt` (``signal`` float32 mV, ``labels`` bool).

    Raises:
        DatasetError: the file is missing, has another header, a row that is not
            ``<number>,<0|1>``, a non-finite value, or fewer than 360 rows (the message names the
            file and the row).
    """
    import csv

    path = pathlib.Path(path) if path is not None else ecg_excerpt_path()
    if not path.is_file():
        raise DatasetError(f"'{path}': ECG file not found. The course ships it in "
                           "tinymlkit/data/ecg/; reinstall the package (make setup) or pass the right path.")
    values, labels = [], []
    try:
        with path.open(newline="") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None or [h.strip() for h in header] != ["data", "label"]:
                raise DatasetError(f"'{path}': the first line must be 'data,label', found {header!r}")
            for line_no, row in enumerate(rows, start=2):
                if not row:
                    continue
                try:
                    value, label = float(row[0]), int(row[1])
                except (IndexError, ValueError):
                    raise DatasetError(f"'{path}', line {line_no}: expected '<mV>,<0 or 1>', found "
                                       f"{','.join(row)!r}") from None
                if not np.isfinite(value) or label not in (0, 1):
                    raise DatasetError(f"'{path}', line {line_no}: value {row[0]!r} must be a finite "
                                       f"number and label {row[1]!r} 0 or 1")
                values.append(value)
                labels.append(label == 1)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"'{path}': not a text CSV file ({exc})") from exc
    if len(values) < int(ECG_SAMPLE_RATE_HZ):
        raise DatasetError(f"'{path}': {len(values)} samples; an ECG excerpt needs at least one "
                           f"second ({int(ECG_SAMPLE_RATE_HZ)} samples)")
    return EcgExcerpt(np.asarray(values, dtype=np.float32), np.asarray(labels, dtype=bool),
                      ECG_SAMPLE_RATE_HZ, "100", 92500, path)


#: Sensor faults :func:`inject_window_fault` makes: what a field deployment's anomaly detector
#: must flag although no one recorded them for training.
WINDOW_FAULT_KINDS: tuple[str, ...] = ("stuck_axis", "saturation", "dropped_samples", "loose_strap",
                                       "unit_error")

# Saturation limits: the BMI270's smallest ranges, +-2 g and +-125 deg/s = 2.18 rad/s (Bosch
# BST-BMI270-DS000, table 1 "Accelerometer ... range" and "Gyroscope ... range"), as when a
# sketch configures the wrong range.
_SATURATION_G, _SATURATION_RAD_S = 2.0, 125.0 * np.pi / 180.0


def inject_window_fault(windows: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Copies of IMU windows with one realistic sensor fault each (nothing is changed in place).

    * ``stuck_axis``: from a random sample on, one random channel repeats its last value (a
      sensor register that stops updating).
    * ``saturation``: the accelerometer clipped to +-0.5 g and the gyroscope to +-0.5 rad/s,
      a quarter of the BMI270's smallest ranges (+-2 g, +-125 deg/s): an amplifier or range
      set wrongly, so every real movement hits the rails.
    * ``dropped_samples``: 2-4 runs of 5-15 samples read as all zeros (a driver that returns 0
      when an I2C read fails; :func:`inject_faults` makes the same loss as NaN gaps).
    * ``loose_strap``: the watch rattles on the wrist: a 6-10 Hz oscillation of 0.3 g and
      1.5 rad/s on every channel, with a random phase per channel.
    * ``unit_error``: the accelerometer logged in m/s² instead of g (x 9.80665), as
      :func:`inject_faults`.

    Args:
        windows: ``(n, window_samples, 6)`` float32, channels ``ax, ay, az`` [g], ``wx, wy, wz``
            [rad/s] at 50 Hz.
        kind: one of :data:`WINDOW_FAULT_KINDS`.
        seed: chooses channels, positions and phases.

    Returns:
        ``(n, window_samples, 6)`` float32.

    Raises:
        ValueError: ``windows`` is not ``(n, samples, 6)`` with at least 20 samples, or ``kind``
            is unknown.
    """
    x = np.array(windows, dtype=np.float32, copy=True)
    if x.ndim != 3 or x.shape[2] != 6 or x.shape[1] < 20:
        raise ValueError(f"windows of shape {x.shape}: expected (n, samples >= 20, 6) IMU windows "
                         "(ax, ay, az in g; wx, wy, wz in rad/s)")
    if kind not in WINDOW_FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(WINDOW_FAULT_KINDS)}")
    rng = np.random.default_rng(seed)
    n, length, _ = x.shape
    if kind == "stuck_axis":
        for i in range(n):
            c, start = int(rng.integers(6)), int(rng.integers(length // 4, length // 2))
            x[i, start:, c] = x[i, start, c]
    elif kind == "saturation":
        limit = 0.25 * np.array([_SATURATION_G] * 3 + [_SATURATION_RAD_S] * 3, dtype=np.float32)
        x = np.clip(x, -limit, limit)
    elif kind == "dropped_samples":
        for i in range(n):
            for _ in range(int(rng.integers(2, 5))):
                run = int(rng.integers(5, 16))
                start = int(rng.integers(0, length - run))
                x[i, start:start + run] = 0.0
    elif kind == "loose_strap":
        t = np.arange(length, dtype=np.float64) / 50.0
        amplitude = np.array([0.3] * 3 + [1.5] * 3)
        for i in range(n):
            freq = rng.uniform(6.0, 10.0)
            phase = rng.uniform(0, 2 * np.pi, 6)
            x[i] += (amplitude * np.sin(2 * np.pi * freq * t[:, None] + phase)).astype(np.float32)
    else:  # unit_error
        x[:, :, :3] *= STANDARD_GRAVITY_M_S2
    return x
