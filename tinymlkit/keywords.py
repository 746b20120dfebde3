"""Synthetic spoken keywords from Debian's ``espeak-ng`` and ``flite`` (re-exported by
:mod:`tinymlkit.datasets`). Keyword-spotting track, issue #5.

Every clip is 16 kHz mono 16-bit PCM, exactly ``clip_ms`` long, the word centred by its energy.
A *speaker* is one voice setting (engine, voice, variant, pitch, speed): the same speaker says every
word, so train/test splits can be made by speaker, as with real voices.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import pathlib
import shutil
import subprocess
from fractions import Fraction

import numpy as np
from .files import write_atomic
from .errors import DatasetError
from .labels import check_label

__all__ = ["COMMUNITY_ACCENTS", "DIGIT_WORDS", "ENGLISH_ACCENTS", "ESPEAK_ACCENTS", "ESPEAK_VARIANTS",
           "FLITE_VOICES", "KEYWORD_SAMPLE_RATE_HZ", "KeywordClips", "SpeakerSetting",
           "SynthesisError", "UNKNOWN_WORDS", "load_keyword_clips", "load_real_digits", "load_real_voice_digits",
           "load_synthetic_keywords", "synthesize_keywords", "speaker_settings",
           "synthetic_keywords_path", "fit_clip", "manifest_rows", "real_digits_path"]

#: Sample rate of every keyword clip, in Hz (micro_speech and Speech Commands use 16 kHz).
KEYWORD_SAMPLE_RATE_HZ = 16000
#: espeak-ng 1.51 voices that read English: its seven English varieties and English read with the
#: letter-to-sound rules of languages spoken where TinyML4D workshops run (``espeak-ng --voices``).
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "sw", "hi", "es-419", "pt-br", "id")
#: The seven English varieties of espeak-ng (US, UK, Scottish, RP, Lancastrian, West Midlands,
#: Caribbean): the "textbook" accents most speech data is made of.
ENGLISH_ACCENTS = ESPEAK_ACCENTS[:7]
#: English read by the Swahili, Hindi, Latin-American Spanish, Brazilian Portuguese and
#: Indonesian voices: in the labs, a synthetic stand-in for "our community's accent" that the
#: default model never hears in training (a stand-in only: real people are the point of lab05).
COMMUNITY_ACCENTS = ESPEAK_ACCENTS[7:]
#: The keywords of the course: spoken digits (Speech Commands v2, FSDD and the real-voice test
#: set all have them).
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Non-digit words of the shipped synthetic set, for the "unknown" class: the ten core command
#: words of Speech Commands v2 (Warden 2018, arXiv:1804.03209) that are not digits.
UNKNOWN_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: espeak-ng voice variants (``espeak-ng-data/voices/!v``): formant and breath settings that make
#: different-sounding speakers of one accent.
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "croak", "klatt", "klatt2", "klatt3", "whisper", "Alicia", "Andrea", "Annie",
                   "anika", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "edward",
                   "grandma", "grandpa", "Lee", "Marco", "Mario", "Michael", "Nguyen", "Storm")
#: flite 2.2 voices in Debian (``flite -lv``): kal/kal16 (US male, diphone), awb (Scottish male),
#: rms (US male), slt (US female).
FLITE_VOICES = ("kal16", "awb", "rms", "slt", "kal")


class SynthesisError(RuntimeError):
    """A speech engine is missing or failed; the message says which and how to install it."""


@dataclasses.dataclass(frozen=True)
class SpeakerSetting:
    """One synthetic speaker.

    Attributes:
        speaker_id: stable id, e.g. ``"espeak-en-gb-scotland-f3-p60-s150"``.
        engine: ``"espeak-ng"`` or ``"flite"``.
        voice: espeak-ng language/accent or flite voice name.
        variant: espeak-ng variant ("" for flite).
        pitch: espeak-ng pitch 0-99 (50 = default); flite: 0.
        speed_wpm: espeak-ng words per minute; flite: 0 (its own rate).
    """

    speaker_id: str
    engine: str
    voice: str
    variant: str
    pitch: int
    speed_wpm: int


def speaker_settings(n_espeak: int = 100, seed: int = 0,
                     accents: tuple[str, ...] = ESPEAK_ACCENTS) -> list[SpeakerSetting]:
    """``n_espeak`` distinct espeak-ng speakers per accent plus the five flite voices.

    Pitch is drawn from 25-85 and speed from 120-190 words per minute (espeak-ng's default is
    175), the variant from :data:`ESPEAK_VARIANTS`; combinations never repeat.

    Args:
        n_espeak: speakers per espeak-ng accent (≤ variants × 61 pitches × 71 speeds).
        seed: the draw.
        accents: espeak-ng voices to use.

    Returns:
        A list of :class:`SpeakerSetting`, espeak-ng ones first.
    """
    rng = np.random.default_rng(seed)
    out = []
    for accent in accents:
        seen = set()
        while len(seen) < n_espeak:
            key = (str(rng.choice(ESPEAK_VARIANTS)), int(rng.integers(25, 86)), int(rng.integers(120, 191)))
            if key in seen:
                continue
            seen.add(key)
            variant, pitch, speed = key
            out.append(SpeakerSetting(f"espeak-{accent}-{variant}-p{pitch}-s{speed}", "espeak-ng",
                                      accent, variant, pitch, speed))
    out += [SpeakerSetting(f"flite-{v}", "flite", v, "", 0, 0) for v in FLITE_VOICES]
    return out


def _run(cmd: list[str]) -> bytes:
    exe = shutil.which(cmd[0])
    if exe is None:
        raise SynthesisError(f"'{cmd[0]}' is not installed (Debian/Ubuntu: sudo apt-get install "
                             f"{cmd[0]}; `make setup` does it when run as root). The course ships "
                             "a pre-generated keyword set, so the labs do not need it.")
    proc = subprocess.run([exe, *cmd[1:]], capture_output=True, timeout=60)
    if proc.returncode != 0 or not proc.stdout:
        raise SynthesisError(f"{' '.join(cmd)} failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace')[:300]}")
    return proc.stdout


def _speak(word: str, s: SpeakerSetting) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if s.engine == "espeak-ng":
        wav = _run(["espeak-ng", "-v", f"{s.voice}+{s.variant}", "-p", str(s.pitch), "-s",
                    str(s.speed_wpm), "--stdout", word])
    else:
        wav = _run(["flite", "-voice", s.voice, "-t", word, "-o", "/dev/stdout"])
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return (audio if audio.ndim == 1 else audio.mean(axis=1)), int(rate)


def fit_clip(audio: np.ndarray, rate: int, clip_samples: int) -> np.ndarray:
    """One keyword clip from a recording: resampled to 16 kHz, then cut or zero-padded to
    ``clip_samples`` around its energy centre (so the word sits in the middle of the clip).

    Args:
        audio: ``(n,)`` float32 samples in [-1, 1].
        rate: their sample rate, Hz.
        clip_samples: length of the clip, samples at 16 kHz (16,000 for 1 s).

    Returns:
        ``(clip_samples,)`` float32.
    """
    from scipy.signal import resample_poly

    if rate != KEYWORD_SAMPLE_RATE_HZ:
        r = Fraction(KEYWORD_SAMPLE_RATE_HZ, rate)
        audio = resample_poly(audio, r.numerator, r.denominator).astype(np.float32)
    energy = audio.astype(np.float64) ** 2
    centre = int(np.sum(np.arange(len(audio)) * energy) / max(energy.sum(), 1e-12))
    start = centre - clip_samples // 2
    out = np.zeros(clip_samples, dtype=np.float32)
    src_lo, src_hi = max(0, start), min(len(audio), start + clip_samples)
    out[src_lo - start:src_hi - start] = audio[src_lo:src_hi]
    return out


def synthesize_keywords(words: tuple[str, ...], out_dir: str | pathlib.Path, *,
                        speakers: list[SpeakerSetting] | None = None, clip_ms: int = 1000,
                        peak: float = 0.5, audio_format: str = "wav",
                        progress: bool = True) -> pathlib.Path:
    """Say every word with every speaker; write 16 kHz mono 16-bit WAV clips and a manifest.

    Layout: ``out_dir/<word>/<word>.<speaker_id>.wav`` (``.opus`` with ``audio_format="opus"``)
    and ``out_dir/manifest.csv`` with columns
    ``path, label, speaker_id, engine, voice, variant, pitch, speed_wpm`` (written atomically
    at the end; clips are written as they are made).

    Args:
        words: the keywords, e.g. ``("zero", "one", "two")``.
        out_dir: destination folder (created).
        speakers: from :func:`speaker_settings` (default: 100 per espeak-ng accent + flite).
        clip_ms: clip length in ms (1000, as Speech Commands).
        peak: every clip is scaled to this peak amplitude (full scale = 1.0).
        audio_format: ``"wav"`` (16-bit PCM, lossless, 32 KB per clip) or ``"opus"`` (Ogg Opus at
            libsndfile's default bitrate, about 3 KB per clip: how the course ships its set).
        progress: tqdm bar.

    Returns:
        The path of ``manifest.csv``.

    Raises:
        SynthesisError: ``espeak-ng`` or ``flite`` is missing or fails.
        ValueError: a word is empty or not plain letters, or ``audio_format`` is unknown.
    """
    import soundfile as sf
    from tqdm.auto import tqdm


    formats = {"wav": ("WAV", "PCM_16"), "opus": ("OGG", "OPUS")}
    if audio_format not in formats:
        raise ValueError(f"audio_format {audio_format!r}: use one of {sorted(formats)}")
    for w in words:
        if not (isinstance(w, str) and w.isalpha()):
            check_label(w, spoken=True)  # says the rule; a special name such as _silence_ is not spoken either
            raise ValueError(f"keyword {w!r}: a word to speak is letters only, not a special name")
    speakers = speaker_settings() if speakers is None else speakers
    out_dir = pathlib.Path(out_dir)
    clip_samples = KEYWORD_SAMPLE_RATE_HZ * clip_ms // 1000
    rows = []
    for s in tqdm(speakers, desc="synthesising speakers", disable=not progress):
        for w in words:
            audio, rate = _speak(w, s)
            clip = fit_clip(audio, rate, clip_samples)
            clip *= peak / max(float(np.abs(clip).max()), 1e-6)
            rel = f"{w}/{w}.{s.speaker_id}.{audio_format}"
            buf = io.BytesIO()
            container, subtype = formats[audio_format]
            sf.write(buf, clip, KEYWORD_SAMPLE_RATE_HZ, subtype=subtype, format=container)
            write_atomic(out_dir / rel, buf.getvalue())
            rows.append({"path": rel, "label": w, **dataclasses.asdict(s)})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["path", "label", "speaker_id", "engine", "voice",
                                              "variant", "pitch", "speed_wpm"])
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(out_dir / "manifest.csv", text.getvalue())


@dataclasses.dataclass(frozen=True)
class KeywordClips:
    """Labelled 1 s keyword clips.

    Attributes:
        audio: ``(n_clips, n_samples)`` float32 in [-1, 1], ``sample_rate_hz`` mono.
        labels: ``n_clips`` words, e.g. ``"seven"``.
        speaker_ids: ``n_clips`` speaker ids (split by these, never by clip).
        sample_rate_hz: 16000.
        path: the folder read.
        voices: ``n_clips`` accent or voice names from the manifest's ``voice`` column (espeak-ng
            accent such as ``"sw"``, flite voice, or a human speaker's accent such as ``"en-US"``),
            for per-accent results; empty when the source has none.
    """

    audio: np.ndarray
    labels: tuple[str, ...]
    speaker_ids: tuple[str, ...]
    sample_rate_hz: int
    path: pathlib.Path
    voices: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask) -> "KeywordClips":
        """The clips where ``mask`` (``(n_clips,)`` bool, or integer indices) is true, as a new
        :class:`KeywordClips` with the same ``sample_rate_hz`` and ``path``."""
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=int)
        return dataclasses.replace(
            self, audio=self.audio[idx], labels=tuple(self.labels[i] for i in idx),
            speaker_ids=tuple(self.speaker_ids[i] for i in idx),
            voices=tuple(self.voices[i] for i in idx) if self.voices else ())


def manifest_rows(folder: pathlib.Path, missing: str) -> tuple[pathlib.Path, list[dict]]:
    """``(path, rows)`` of a keyword folder's ``manifest.csv``, checked, without reading clips.

    Args:
        folder: the keyword folder.
        missing: what the error says when the folder has no ``manifest.csv``.

    Returns:
        The manifest's path and its rows as dicts (column name → text).

    Raises:
        tinymlkit.datasets.DatasetError: ``"'<folder>/manifest.csv': <missing>"`` when the file is
            absent; a plain message when it has no rows or lacks path, label, speaker_id.
    """

    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise DatasetError(f"'{manifest}': {missing}")
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "label", "speaker_id"} <= set(rows[0]):
        raise DatasetError(f"'{manifest}': needs the columns path, label, speaker_id and one row per clip")
    return manifest, rows


def load_keyword_clips(folder: str | pathlib.Path, labels: tuple[str, ...] | None = None,
                       voices: tuple[str, ...] | None = None) -> KeywordClips:
    """Read a folder written by :func:`synthesize_keywords` (or in its layout): ``manifest.csv``
    plus the clips it lists (WAV, FLAC or Ogg Opus; decoded on 2 threads).

    Args:
        folder: the folder holding ``manifest.csv``.
        labels: read only the clips of these words (None: all).
        voices: read only the clips whose ``voice`` column is one of these (None: all).

    Returns:
        :class:`KeywordClips`, in manifest order.

    Raises:
        tinymlkit.datasets.DatasetError: the manifest or a clip is missing, not 16 kHz mono, or not
            as long as the others (the message names the file and the fault), or nothing matches
            ``labels``/``voices``.
    """
    from concurrent.futures import ThreadPoolExecutor

    import soundfile as sf


    folder = pathlib.Path(folder)
    manifest, rows = manifest_rows(folder, "file not found (a keyword folder lists its clips there)")
    if labels is not None:
        rows = [r for r in rows if r["label"] in labels]
    if voices is not None:
        rows = [r for r in rows if r.get("voice", "") in voices]
    if not rows:
        raise DatasetError(f"'{manifest}': no clip has a label in {labels} and a voice in {voices}")

    def read(row):
        path = folder / row["path"]
        try:
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise DatasetError(f"'{path}': cannot be read as audio ({exc})") from exc
        if rate != KEYWORD_SAMPLE_RATE_HZ or audio.shape[1] != 1:
            raise DatasetError(f"'{path}': {rate} Hz, {audio.shape[1]} channel(s); expected "
                               f"{KEYWORD_SAMPLE_RATE_HZ} Hz mono")
        return path, audio[:, 0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        clips = list(pool.map(read, rows))
    for path, audio in clips:
        if len(audio) != len(clips[0][1]):
            raise DatasetError(f"'{path}': {len(audio)} samples, '{clips[0][0]}' has {len(clips[0][1])}")
    return KeywordClips(np.stack([a for _, a in clips]), tuple(r["label"] for r in rows),
                        tuple(r["speaker_id"] for r in rows), KEYWORD_SAMPLE_RATE_HZ, folder,
                        tuple(r.get("voice", "") for r in rows) if "voice" in rows[0] else ())


def load_real_voice_digits() -> KeywordClips:
    """The ten digits "zero" … "nine" spoken by Allison Smith (asterisk-core-sounds, CC BY-SA 3.0;
    ``tinymlkit/data/keywords/real_voice/DATACARD.md``), 8 kHz recordings resampled to 16 kHz.

    Returns:
        :class:`KeywordClips` of 10 clips, shipped in the package (works offline).
    """
    import importlib.resources

    return load_keyword_clips(pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" /
                                               "keywords" / "real_voice")))


def load_real_digits(speakers: tuple[str, ...] | None = None) -> KeywordClips:
    """The shipped real-voice digits: "zero" … "nine", 50 takes each by three real speakers of the
    Free Spoken Digit Dataset (jackson, nicolas, lucas; CC BY-SA 4.0;
    ``tinymlkit/data/keywords/fsdd/DATACARD.md``), 8 kHz recordings resampled to 16 kHz, 1 s,
    stored as Ogg Opus (works offline).

    Args:
        speakers: only these speakers (None: all three).

    Returns:
        :class:`KeywordClips` of up to 1,500 clips; ``voices`` holds each speaker's accent
        (``"en-US"``, ``"en-BE-fr"``, ``"en-DE"``). Split by ``speaker_ids`` for unseen-speaker
        results. Order: the manifest's (word, speaker, take).

    Raises:
        tinymlkit.datasets.DatasetError: the set is missing or damaged, or no clip is by ``speakers``.
    """
    clips = load_keyword_clips(real_digits_path())
    if speakers is None:
        return clips
    keep = np.isin(clips.speaker_ids, list(speakers))
    if not keep.any():

        raise DatasetError(f"'{clips.path}': no clip by {speakers}; the speakers are "
                           f"{sorted(set(clips.speaker_ids))}")
    return clips.select(keep)


def real_digits_path() -> pathlib.Path:
    """The folder of the shipped real speakers' digits (``tinymlkit/data/keywords/fsdd/``, with
    its ``DATACARD.md``); it may be missing in a broken install (``tinymlkit doctor`` checks)."""
    import importlib.resources

    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "keywords" / "fsdd"))


def synthetic_keywords_path() -> pathlib.Path:
    """The folder of the shipped synthetic keyword set (``tinymlkit/data/keywords/synthetic/``,
    made by ``scripts/make_synthetic_keywords.py``; see its ``DATACARD.md``)."""
    import importlib.resources

    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "keywords" / "synthetic"))


def load_synthetic_keywords(labels: tuple[str, ...] | None = None,
                            voices: tuple[str, ...] | None = None) -> KeywordClips:
    """The shipped synthetic keyword set: the ten digits from 245 synthetic speakers (12 espeak-ng
    accents × 20 + 5 flite voices) and ten "unknown" words from 65 of them, 16 kHz, 1 s, stored
    as Ogg Opus (under 10 MB; no speech engine needed).

    Args:
        labels: only these words (e.g. ``("yes", "no") + DIGIT_WORDS``); None: all 20.
        voices: only these espeak-ng accents / flite voices (e.g. :data:`ENGLISH_ACCENTS`).

    Returns:
        :class:`KeywordClips` with ``voices`` filled (split by ``speaker_ids``, never by clip).

    Raises:
        tinymlkit.datasets.DatasetError: the set is missing from the installation or damaged.
    """
    return load_keyword_clips(synthetic_keywords_path(), labels=labels, voices=voices)
