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
