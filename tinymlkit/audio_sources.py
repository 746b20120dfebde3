"""Keyword-spotting audio from outside the package: the Speech Commands v2 and Free Spoken Digit
datasets (downloaded once with pooch, or served from a laptop on the workshop LAN), and background
noise generated on the spot (re-exported by :mod:`tinymlkit.datasets`). Keyword-spotting track,
issue #5.

Licences and citations of the downloads: ``tinymlkit/data/keywords/SOURCES.md``.
Every clip returned is 16 kHz mono float32, 1 s long, as :class:`~tinymlkit.datasets.KeywordClips`.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import tarfile
import urllib.parse
import zipfile
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .labels import SILENCE_CLASS, UNKNOWN_CLASS
from .keywords import (KEYWORD_SAMPLE_RATE_HZ, KeywordClips, fit_clip, manifest_rows,
                        load_keyword_clips, synthetic_keywords_path)
from .errors import DatasetError
from .files import write_atomic

__all__ = ["DOWNLOADS", "Download", "FSDD_DIGITS", "FSDD_TEST_INDICES", "NOISE_KINDS",
           "SPEECH_COMMANDS_SPLITS", "background_noise", "fetch", "load_fsdd", "silence_clips",
           "load_speech_commands", "load_speech_commands_noise"]

#: Samples in one keyword clip: 1 s at 16 kHz, as Speech Commands (Warden 2018, arXiv:1804.03209).
_CLIP_SAMPLES = KEYWORD_SAMPLE_RATE_HZ

#: Speech Commands splits; "training" is every clip in neither list file (Warden 2018, sec. 6;
#: ``README.md`` of the archive).
SPEECH_COMMANDS_SPLITS = ("training", "validation", "testing")
#: FSDD labels, index = digit (file names start with the digit).
FSDD_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: FSDD's own test split: recordings numbered 0-4 of every speaker and digit ("The test set
#: officially consists of the first 10% of the recordings", the dataset's README.md).
FSDD_TEST_INDICES = range(0, 5)
#: Generated background-noise kinds of :func:`background_noise`.
NOISE_KINDS = ("white", "pink", "brown", "hum", "fan", "babble")

_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.wav$")
_NOHASH = "_nohash_"


class Download(NamedTuple):
    """One entry of :data:`DOWNLOADS`.

    Attributes:
        url: where the publisher serves the archive.
        sha256: hex SHA-256 of the archive, from a published checksum list (``None`` = unknown:
            :func:`fetch` then needs ``known_hash``).
        archive: ``"tar.gz"`` or ``"zip"``.
        licence: SPDX-style licence of the data, e.g. ``"CC-BY-4.0"``.
        citation: how to cite it.
    """

    url: str
    sha256: str | None
    archive: str
    licence: str
    citation: str


#: Archives :func:`fetch` knows, name → :class:`Download`. The SHA-256 values are published ones:
#: Speech Commands from tensorflow/datasets ``tensorflow_datasets/url_checksums/speech_commands.txt``
#: (2,428,923,189 bytes; torchaudio's ``torchaudio/datasets/speechcommands.py`` lists the same),
#: FSDD v1.0.9 from tensorflow/datasets ``tensorflow_datasets/audio/spoken_digit/checksums.tsv``
#: (11,975,353 bytes). Licences and citations: ``tinymlkit/data/keywords/SOURCES.md``.
DOWNLOADS: dict[str, Download] = {
    "speech_commands_v0.02": Download(
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        archive="tar.gz",
        licence="CC-BY-4.0",
        citation="Pete Warden, Speech Commands: A Dataset for Limited-Vocabulary Speech "
                 "Recognition, arXiv:1804.03209, 2018"),
    "fsdd": Download(
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz",
        sha256="8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
        archive="tar.gz",
        licence="CC-BY-SA-4.0",
        citation="Zohar Jackson, César Souza, Jason Flaks, Yuxin Pan, Hereman Nicolas, Adhish "
                 "Thite, Free Spoken Digit Dataset (FSDD) v1.0.9, "
                 "https://github.com/Jakobovski/free-spoken-digit-dataset, Zenodo "
                 "(https://zenodo.org/badge/latestdoi/61622039)"),
}

_ARCHIVE_SUFFIX = {"tar.gz": ".tar.gz", "zip": ".zip"}
#: Seconds pooch waits for the server to answer (requests' ``timeout``) before giving up.
_TIMEOUT_S = 30


def _mirrored(url: str, base_url: str | None) -> str:
    """``url`` with its scheme and host replaced by ``base_url``'s (its path, if any, prefixed)."""
    if not base_url:
        return url
    base = urllib.parse.urlsplit(base_url)
    if not base.scheme or not base.netloc:
        raise ValueError(f"base_url {base_url!r}: give scheme and host, e.g. 'http://192.168.1.10:8000'")
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                                    parts.query, ""))


class _AtomicExtract:
    """pooch processor: extract into a temporary sibling folder, then rename it into place, so
    the extracted folder is complete or absent; a marker file holding the archive's hash says
    that extraction finished."""

    def __init__(self, name: str, kind: str, sha256: str):
        self.name, self.kind, self.sha256 = name, kind, sha256

    def __call__(self, fname: str, action: str, pup: object) -> pathlib.Path:
        import pooch


        archive = pathlib.Path(fname)
        final = archive.parent / self.name
        marker = archive.parent / f"{self.name}.extracted"
        if action == "fetch" and final.is_dir() and marker.is_file() \
                and marker.read_text().strip() == self.sha256:
            return final
        partial = archive.parent / f".{self.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        processor = pooch.Untar if self.kind == "tar.gz" else pooch.Unzip
        processor(extract_dir=str(partial))(str(archive), "download", pup)
        if marker.exists():
            marker.unlink()
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        write_atomic(marker, self.sha256 + "\n")
        return final


def fetch(name: str, *, cache_dir: str | pathlib.Path | None = None, base_url: str | None = None,
          progress: bool = True, known_hash: str | None = None) -> pathlib.Path:
    """Download an archive of :data:`DOWNLOADS` once, check its SHA-256, extract it, and return
    the extracted folder (later calls only re-check the hash: no network).

    The archive is saved as ``<cache_dir>/<name>.tar.gz`` (or ``.zip``) and extracted into
    ``<cache_dir>/<name>/``; extraction goes to a temporary folder renamed into place, so an
    interrupted run never leaves half a dataset. If that folder holds a single sub-folder (GitHub
    archives: ``free-spoken-digit-dataset-1.0.9/``) the sub-folder is returned.

    Offline workshop: the host downloads the archives once and serves them on the LAN, keeping
    the publishers' paths, e.g. ``python -m http.server 8000`` in a folder holding
    ``data/speech_commands_v0.02.tar.gz`` and
    ``Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz``; students pass
    ``base_url="http://<host-ip>:8000"``. Or copy the archive into the cache folder under the
    name above: a file whose hash matches is used without any download.

    Args:
        name: a key of :data:`DOWNLOADS`, e.g. ``"speech_commands_v0.02"`` (2.4 GB) or ``"fsdd"``
            (12 MB).
        cache_dir: where archives and extracted folders live; default ``$TINYMLKIT_DATA_DIR``,
            else ``pooch.os_cache("tinymlkit")`` (``~/.cache/tinymlkit`` on Linux).
        base_url: ``scheme://host[:port][/prefix]`` replacing the publisher's scheme and host
            (the URL path is kept); default ``$TINYMLKIT_DATA_MIRROR``, else the publisher.
        progress: show a tqdm download bar.
        known_hash: SHA-256 (hex) to use instead of the registry's; required for an entry whose
            ``sha256`` is ``None``.

    Returns:
        The extracted dataset folder.

    Raises:
        ValueError: ``name`` is not in :data:`DOWNLOADS`, or ``base_url`` has no scheme/host.
        tinymlkit.datasets.DatasetError: the entry has no known hash; the download failed (host
            unreachable, HTTP error: the message says what to do offline); the downloaded file's
            SHA-256 differs from the expected one (the file is deleted); the archive is corrupt.
    """
    import pooch
    import requests


    if name not in DOWNLOADS:
        raise ValueError(f"unknown download {name!r}; known: {sorted(DOWNLOADS)}")
    entry = DOWNLOADS[name]
    sha256 = known_hash or entry.sha256
    if sha256 is None:
        raise DatasetError(f"download {name!r} ({entry.url}): no published SHA-256 is recorded, so "
                           "its integrity cannot be checked; pass known_hash='<sha256>' once you "
                           "have verified the archive yourself")
    if entry.archive not in _ARCHIVE_SUFFIX:
        raise DatasetError(f"download {name!r}: archive kind {entry.archive!r}, expected one of "
                           f"{sorted(_ARCHIVE_SUFFIX)}")
    cache = pathlib.Path(cache_dir or os.environ.get("TINYMLKIT_DATA_DIR")
                         or pooch.os_cache("tinymlkit"))
    url = _mirrored(entry.url, base_url or os.environ.get("TINYMLKIT_DATA_MIRROR"))
    fname = name + _ARCHIVE_SUFFIX[entry.archive]
    offline = (f"Offline? Use the data shipped with the course (load_real_voice_digits(), the "
               f"synthetic keyword set), or get the archive from the workshop host's mirror "
               f"(base_url='http://<host-ip>:<port>' or TINYMLKIT_DATA_MIRROR), or copy "
               f"'{fname}' into '{cache}' by hand.")
    try:
        out = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=cache,
                             processor=_AtomicExtract(name, entry.archive, sha256),
                             downloader=pooch.HTTPDownloader(progressbar=progress,
                                                             timeout=_TIMEOUT_S),
                             progressbar=progress)
    except requests.exceptions.RequestException as exc:
        raise DatasetError(f"could not download {name!r} from {url}: "
                           f"{type(exc).__name__} ({exc}). {offline}") from exc
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        raise DatasetError(f"'{cache / fname}': the file downloaded from {url} is not the "
                           f"published archive (SHA-256 differs from {sha256}); it was deleted. "
                           f"A broken or cut download, or a mirror serving another file: try "
                           f"again, or check the mirror's copy. ({exc})") from exc
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"'{cache / fname}': cannot be extracted ({exc}); delete it and fetch "
                           "again") from exc
    out = pathlib.Path(out)
    inside = list(out.iterdir())
    return inside[0] if len(inside) == 1 and inside[0].is_dir() else out


def _read_mono(path: pathlib.Path) -> tuple[np.ndarray, int]:
    """A WAV file as float32 ``(n,)`` in [-1, 1] and its rate in Hz; DatasetError if unreadable
    or not mono."""
    import soundfile as sf


    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise DatasetError(f"'{path}': cannot be read as audio ({exc})") from exc
    if audio.shape[1] != 1:
        raise DatasetError(f"'{path}': {audio.shape[1]} channels, expected mono")
    return audio[:, 0], int(rate)


def _read_16k(path: pathlib.Path) -> np.ndarray:
    """A 16 kHz mono WAV file as float32 ``(n,)``; DatasetError naming the file otherwise."""

    audio, rate = _read_mono(path)
    if rate != KEYWORD_SAMPLE_RATE_HZ:
        raise DatasetError(f"'{path}': {rate} Hz, expected {KEYWORD_SAMPLE_RATE_HZ} Hz "
                           "(Speech Commands clips are 16 kHz)")
    return audio


def _read_list(path: pathlib.Path) -> set[str]:

    if not path.is_file():
        raise DatasetError(f"'{path}': file not found (Speech Commands v2 lists its validation and "
                           "test clips in validation_list.txt and testing_list.txt)")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_speech_commands(root: str | pathlib.Path, words: tuple[str, ...] | list[str], *,
                         split: str = "training", unknown_words: tuple[str, ...] | list[str] | None = None,
                         max_per_word: int | None = None) -> KeywordClips:
    """Read one split of Speech Commands v2 (Warden 2018, arXiv:1804.03209) from its folder
    layout: ``<root>/<word>/<speaker>_nohash_<n>.wav`` with ``validation_list.txt`` and
    ``testing_list.txt`` (relative paths, one per line) in ``root``.

    The splits are the published ones: ``"validation"`` and ``"testing"`` are the listed files,
    ``"training"`` every other clip. The dataset assigns a speaker to one split only (by a hash
    of the speaker id), so the splits never share a speaker. Clips shorter than 1 s are padded
    with zeros at the end, longer ones cut at the end, as the official input pipeline does
    (``tf.audio.decode_wav(..., desired_samples=16000)``,
    https://www.tensorflow.org/api_docs/python/tf/audio/decode_wav). Levels are unchanged.

    Args:
        root: the extracted archive, e.g. ``fetch("speech_commands_v0.02")``.
        words: the keywords kept with their own label, e.g. ``("yes", "no")``.
        split: ``"training"``, ``"validation"`` or ``"testing"``.
        unknown_words: words read and labelled ``"unknown"`` (the "unknown word" class of
            keyword spotting); none if ``None``.
        max_per_word: keep at most this many clips of each word folder, the first in file-name
            order (names start with the speaker hash, so these are all takes of the first few,
            effectively random, speakers); all if ``None``.

    Returns:
        :class:`KeywordClips`: ``audio`` ``(n_clips, 16000)`` float32 in [-1, 1], ``labels``
        (the word or ``"unknown"``), ``speaker_ids`` (the hash before ``_nohash_``), 16000 Hz,
        ``path`` = ``root``. Clip order: ``words`` then ``unknown_words``, files sorted by name.

    Raises:
        ValueError: bad ``split``, ``words`` empty, a word in both lists, ``max_per_word`` < 1.
        tinymlkit.datasets.DatasetError: ``root``, a word folder or a list file is missing; a
            file is not 16 kHz mono WAV or not named ``<speaker>_nohash_<n>.wav``; no clip
            matches (the message names the path and the fault).
    """

    if split not in SPEECH_COMMANDS_SPLITS:
        raise ValueError(f"split {split!r}: use one of {SPEECH_COMMANDS_SPLITS}")
    words, unknown = tuple(words), tuple(unknown_words or ())
    if not words:
        raise ValueError("words: give at least one keyword, e.g. ('yes', 'no')")
    if set(words) & set(unknown):
        raise ValueError(f"{sorted(set(words) & set(unknown))} are in both words and unknown_words")
    if max_per_word is not None and max_per_word < 1:
        raise ValueError(f"max_per_word={max_per_word}: must be ≥ 1 or None")
    root = pathlib.Path(root)
    if not root.is_dir():
        raise DatasetError(f"'{root}': folder not found (expected the extracted Speech Commands "
                           "v2 archive, e.g. fetch('speech_commands_v0.02'))")
    validation = _read_list(root / "validation_list.txt")
    testing = _read_list(root / "testing_list.txt")

    chosen: list[tuple[pathlib.Path, str, str]] = []
    for word in words + unknown:
        folder = root / word
        if not folder.is_dir():
            raise DatasetError(f"'{folder}': folder not found (no word {word!r} in this Speech "
                               "Commands copy)")
        label = word if word in words else UNKNOWN_CLASS
        kept = 0
        for path in sorted(folder.glob("*.wav")):
            rel = f"{word}/{path.name}"
            in_split = ("validation" if rel in validation else
                        "testing" if rel in testing else "training")
            if in_split != split:
                continue
            if _NOHASH not in path.stem:
                raise DatasetError(f"'{path}': name is not <speaker>{_NOHASH}<n>.wav, so its "
                                   "speaker is unknown")
            chosen.append((path, label, path.stem.split(_NOHASH)[0]))
            kept += 1
            if max_per_word is not None and kept >= max_per_word:
                break
    if not chosen:
        raise DatasetError(f"'{root}': no {split} clips of {list(words + unknown)}")

    audio = np.zeros((len(chosen), _CLIP_SAMPLES), dtype=np.float32)
    for i, (path, _, _) in enumerate(chosen):
        clip = _read_16k(path)[:_CLIP_SAMPLES]
        audio[i, :len(clip)] = clip
    return KeywordClips(audio, tuple(c[1] for c in chosen), tuple(c[2] for c in chosen),
                        KEYWORD_SAMPLE_RATE_HZ, root)


def load_speech_commands_noise(root: str | pathlib.Path) -> dict[str, np.ndarray]:
    """The long background recordings of Speech Commands v2, ``<root>/_background_noise_/*.wav``
    (in v0.02: doing_the_dishes, dude_miaowing, exercise_bike, pink_noise, running_tap,
    white_noise; about 1 min each).

    Args:
        root: the extracted archive, e.g. ``fetch("speech_commands_v0.02")``.

    Returns:
        File stem → float32 ``(n_samples,)`` in [-1, 1] at 16 kHz, sorted by name.

    Raises:
        tinymlkit.datasets.DatasetError: the folder is missing or has no WAV file; a file is not
            16 kHz mono (the message names the file).
    """

    folder = pathlib.Path(root) / "_background_noise_"
    files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not files:
        raise DatasetError(f"'{folder}': no WAV files (Speech Commands v2 keeps its background "
                           "noise there)")
    return {p.stem: _read_16k(p) for p in files}


def load_fsdd(root: str | pathlib.Path, *, digits_as_words: bool = True,
              split: str = "all") -> KeywordClips:
    """Read the Free Spoken Digit Dataset (Jackson et al., CC BY-SA 4.0): files
    ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono PCM16, trimmed to the word.

    Each recording is resampled to 16 kHz with ``scipy.signal.resample_poly`` (from the rate in
    its header) and centred by its energy in a 1 s clip (zero-padded both sides; the longest
    FSDD recording, 2.3 s, is cut around its centre). Levels are unchanged.

    Args:
        root: the dataset folder holding ``recordings/`` (e.g. ``fetch("fsdd")``) or
            ``recordings/`` itself.
        digits_as_words: labels ``"zero"`` … ``"nine"`` (as Speech Commands and the shipped
            sets); ``False``: ``"0"`` … ``"9"``.
        split: ``"all"``; ``"test"`` = FSDD's own test split, recordings numbered 0-4
            (:data:`FSDD_TEST_INDICES`) of every speaker and digit; ``"train"`` = numbers 5 and
            up. This split shares speakers between train and test (the dataset's convention);
            to test on unseen speakers, split ``split="all"`` by ``speaker_ids`` instead.

    Returns:
        :class:`KeywordClips`: ``audio`` ``(n_clips, 16000)`` float32 in [-1, 1], ``labels``,
        ``speaker_ids`` (the speaker name, e.g. ``"jackson"``), 16000 Hz, ``path`` = the
        recordings folder. Order: by speaker, digit, index.

    Raises:
        ValueError: bad ``split``.
        tinymlkit.datasets.DatasetError: no recordings folder or no WAV in it; a file not named
            ``{digit}_{speaker}_{index}.wav``, unreadable or not mono (the message names it).
    """

    if split not in ("all", "train", "test"):
        raise ValueError(f"split {split!r}: use 'all', 'train' or 'test'")
    root = pathlib.Path(root)
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not files:
        raise DatasetError(f"'{root}': no recordings/ folder with WAV files (expected the Free "
                           "Spoken Digit Dataset, e.g. fetch('fsdd'))")
    parsed = []
    for path in files:
        m = _FSDD_NAME.match(path.name)
        if m is None:
            raise DatasetError(f"'{path}': name is not {{digit}}_{{speaker}}_{{index}}.wav")
        digit, speaker, index = int(m[1]), m[2], int(m[3])
        is_test = index in FSDD_TEST_INDICES
        if split == "all" or (split == "test") == is_test:
            parsed.append((speaker, digit, index, path))
    if not parsed:
        raise DatasetError(f"'{folder}': no recordings in split {split!r}")
    parsed.sort()
    audio = np.zeros((len(parsed), _CLIP_SAMPLES), dtype=np.float32)
    for i, (_, _, _, path) in enumerate(parsed):
        wav, rate = _read_mono(path)
        audio[i] = fit_clip(wav, rate, _CLIP_SAMPLES)
    labels = tuple(FSDD_DIGITS[d] if digits_as_words else str(d) for _, d, _, _ in parsed)
    return KeywordClips(np.clip(audio, -1.0, 1.0), labels, tuple(p[0] for p in parsed),
                        KEYWORD_SAMPLE_RATE_HZ, folder)


# --- generated background noise ---------------------------------------------------------------

def _power_law(rng: np.random.Generator, n: int, rate: int, exponent: float) -> np.ndarray:
    """Gaussian noise whose power spectral density falls as ``1/f**exponent``: white noise's
    Fourier coefficients scaled by ``f**(-exponent/2)`` (the spectral method of J. Timmer and
    M. König, "On generating power law noise", Astron. Astrophys. 300, 707-710, 1995), DC removed."""
    from scipy.fft import irfft, rfft, rfftfreq

    spectrum = rfft(rng.standard_normal(n))
    f = rfftfreq(n, 1.0 / rate)
    scale = np.zeros_like(f)
    scale[1:] = f[1:] ** (-exponent / 2.0)
    return irfft(spectrum * scale, n)


def _hum(rng: np.random.Generator, n: int, rate: int, mains_hz: float) -> np.ndarray:
    """Mains hum: the fundamental and harmonics 2-6 with amplitudes 1/k and random phases, plus
    white noise 40 dB below the fundamental."""
    t = np.arange(n) / rate
    out = np.zeros(n)
    for k in range(1, 7):
        if k * mains_hz < rate / 2:
            out += np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi)) / k
    return out + 0.01 * rng.standard_normal(n)


def _fan(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Fan: noise low-passed at 400 Hz (4th-order Butterworth, ``scipy.signal``) slowly
    amplitude-modulated (0.2-0.5 Hz, depth 30 %: an oscillating fan turning), plus the blade-pass
    tone (blades × revolutions/s; 5 blades at 15-25 rev/s, i.e. 900-1500 rpm, a desk fan) and its
    second harmonic."""
    from scipy.signal import butter, sosfilt

    t = np.arange(n) / rate
    sos = butter(4, min(400.0, 0.45 * rate), btype="low", fs=rate, output="sos")
    rumble = sosfilt(sos, rng.standard_normal(n))
    rumble /= max(float(np.std(rumble)), 1e-12)
    swing = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 2 * np.pi))
    blade_hz = 5 * rng.uniform(15.0, 25.0)
    tone = 0.5 * np.sin(2 * np.pi * blade_hz * t) + 0.2 * np.sin(2 * np.pi * 2 * blade_hz * t)
    return swing * (rumble + tone)


def _synthetic_speech(rng: np.random.Generator, n_clips: int = 64) -> KeywordClips:
    """``n_clips`` random clips (drawn with ``rng``) of the shipped synthetic keyword set
    ``tinymlkit/data/keywords/synthetic`` (its ``manifest.csv`` layout, see
    :func:`load_keyword_clips`); reading a sample, not the thousands of clips, keeps babble fast."""
    folder = synthetic_keywords_path()
    _, rows = manifest_rows(folder, "not found, so there is no shipped synthetic speech; babble "
                                     "noise is made of speech clips: pass speech=<KeywordClips>, e.g. "
                                     "load_real_voice_digits() or load_keyword_clips(<folder>)")
    picked = [rows[i] for i in sorted(rng.choice(len(rows), min(n_clips, len(rows)), replace=False))]
    audio = np.stack([fit_clip(*_read_mono(folder / r["path"]), _CLIP_SAMPLES) for r in picked])
    return KeywordClips(audio, tuple(r["label"] for r in picked),
                        tuple(r["speaker_id"] for r in picked), KEYWORD_SAMPLE_RATE_HZ, folder)


def _babble(rng: np.random.Generator, n: int, rate: int, speech: KeywordClips,
            talkers: int = 8) -> np.ndarray:
    """Babble: ``talkers`` streams, each a random sequence of random clips (random gain 0.5-1,
    random start offset), summed — a crowd of voices no word of which stands out."""
    from scipy.signal import resample_poly


    if len(speech) == 0:
        raise DatasetError(f"'{speech.path}': no speech clips to make babble from")
    clips = np.asarray(speech.audio, dtype=np.float64)
    if speech.sample_rate_hz != rate:
        r = Fraction(rate, speech.sample_rate_hz)
        clips = resample_poly(clips, r.numerator, r.denominator, axis=1)
    clip_len = clips.shape[1]
    out = np.zeros(n)
    for _ in range(talkers):
        stream = np.concatenate([clips[rng.integers(len(clips))] * rng.uniform(0.5, 1.0)
                                 for _ in range(n // clip_len + 2)])
        start = int(rng.integers(clip_len))
        out += stream[start:start + n]
    return out


def background_noise(kind: str, duration_s: float, *, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ,
                     seed: int = 0, speech: KeywordClips | None = None,
                     mains_hz: float = 50.0) -> np.ndarray:
    """Generate background noise for augmentation (nothing recorded, so it ships freely).

    Kinds (:data:`NOISE_KINDS`):

    - ``"white"``: Gaussian, flat spectrum.
    - ``"pink"``: power spectral density ∝ 1/f (−3 dB per octave), by shaping white noise's
      spectrum (Timmer & König, Astron. Astrophys. 300, 707, 1995).
    - ``"brown"``: ∝ 1/f² (−6 dB per octave), the same way.
    - ``"hum"``: mains hum at ``mains_hz`` with harmonics 2-6 (amplitude 1/k) and a little noise
      (−40 dB).
    - ``"fan"``: low-passed rumble, slowly amplitude-modulated, with a blade-pass tone.
    - ``"babble"``: 8 overlapping talkers made of random clips of ``speech``.

    Args:
        kind: one of :data:`NOISE_KINDS`.
        duration_s: length in seconds (> 0).
        sample_rate_hz: output rate in Hz (> 0).
        seed: the draw; the same arguments give the same samples.
        speech: clips for ``"babble"`` (resampled to ``sample_rate_hz`` if needed); ``None``: 64
            random clips (drawn with ``seed``) of the shipped synthetic set
            ``tinymlkit/data/keywords/synthetic``, if this installation has it.
        mains_hz: mains frequency for ``"hum"``: 50 Hz (Africa, Europe, most of Asia) or 60 Hz
            (the Americas, parts of Asia).

    Returns:
        float32 ``(round(duration_s * sample_rate_hz),)``, peak amplitude 0.5 (full scale 1.0).

    Raises:
        ValueError: unknown ``kind``, ``duration_s`` or ``sample_rate_hz`` not positive, fewer
            than 1 sample.
        tinymlkit.datasets.DatasetError: ``"babble"`` without ``speech`` and no shipped synthetic
            set, or ``speech`` is empty.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind {kind!r}: use one of {NOISE_KINDS}")
    if not duration_s > 0 or not sample_rate_hz > 0:
        raise ValueError(f"duration_s={duration_s}, sample_rate_hz={sample_rate_hz}: both must be > 0")
    n = int(round(duration_s * sample_rate_hz))
    if n < 1:
        raise ValueError(f"duration_s={duration_s} at {sample_rate_hz} Hz is less than one sample")
    rng = np.random.default_rng(seed)
    if kind == "white":
        out = rng.standard_normal(n)
    elif kind == "pink":
        out = _power_law(rng, n, sample_rate_hz, 1.0)
    elif kind == "brown":
        out = _power_law(rng, n, sample_rate_hz, 2.0)
    elif kind == "hum":
        out = _hum(rng, n, sample_rate_hz, mains_hz)
    elif kind == "fan":
        out = _fan(rng, n, sample_rate_hz)
    else:
        out = _babble(rng, n, sample_rate_hz, _synthetic_speech(rng) if speech is None else speech)
    peak = float(np.abs(out).max())
    return (out * (0.5 / peak) if peak > 0 else out).astype(np.float32)


#: Noise kinds a "silence" clip is made of: everything but babble (talk is "unknown", not silence).
_SILENCE_KINDS = ("white", "pink", "brown", "hum", "fan")


def silence_clips(n_clips: int, *, seed: int = 0, peak_range: tuple[float, float] = (1e-4, 0.1),
                  clip_ms: int = 1000) -> KeywordClips:
    """Clips for the "silence" class: a quiet room is never digital zero, so each clip is one of the
    generated background noises (white, pink, brown, mains hum, fan; not babble) at a random level.

    The level is drawn log-uniformly from ``peak_range`` (peak amplitude, full scale 1.0:
    -80 dBFS ... -20 dBFS by default), like Speech Commands' ``_silence_`` examples, which are
    background noise at a random volume (``tensorflow/examples/speech_commands/input_data.py``).

    Args:
        n_clips: how many clips (>= 1).
        seed: the draw; the same arguments give the same clips.
        peak_range: (low, high) peak amplitude, 0 < low <= high <= 1.
        clip_ms: clip length, ms (1000).

    Returns:
        :class:`KeywordClips` with label ``"silence"``, speaker id ``"noise-<kind>"`` and voice
        ``"noise"``; audio ``(n_clips, clip_ms * 16)`` float32.

    Raises:
        ValueError: ``n_clips`` < 1 or a bad ``peak_range``.
    """
    lo, hi = peak_range
    if n_clips < 1 or not 0 < lo <= hi <= 1:
        raise ValueError(f"n_clips={n_clips}, peak_range={peak_range}: need n_clips >= 1 and "
                         "0 < low <= high <= 1")
    rng = np.random.default_rng(seed)
    n = KEYWORD_SAMPLE_RATE_HZ * clip_ms // 1000
    # one long noise per kind, cut into clips at random places
    long = {k: background_noise(k, 20.0, seed=seed + i) for i, k in enumerate(_SILENCE_KINDS)}
    kinds = rng.choice(_SILENCE_KINDS, n_clips)
    audio = np.empty((n_clips, n), dtype=np.float32)
    for i, kind in enumerate(kinds):
        start = int(rng.integers(len(long[kind]) - n))
        audio[i] = long[kind][start:start + n] * (np.exp(rng.uniform(np.log(lo), np.log(hi))) / 0.5)
    return KeywordClips(audio, (SILENCE_CLASS,) * n_clips, tuple(f"noise-{k}" for k in kinds),
                        KEYWORD_SAMPLE_RATE_HZ, pathlib.Path("<generated>"), ("noise",) * n_clips)
