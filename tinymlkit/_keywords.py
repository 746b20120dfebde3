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

__all__ = ["ESPEAK_ACCENTS", "ESPEAK_VARIANTS", "FLITE_VOICES", "KEYWORD_SAMPLE_RATE_HZ",
           "KeywordClips", "SpeakerSetting", "SynthesisError", "load_keyword_clips",
           "load_real_voice_digits", "synthesize_keywords", "speaker_settings"]

#: Sample rate of every keyword clip, in Hz (micro_speech and Speech Commands use 16 kHz).
KEYWORD_SAMPLE_RATE_HZ = 16000
#: espeak-ng 1.51 voices that read English: its seven English varieties and English read with the
#: letter-to-sound rules of languages spoken where TinyML4D workshops run (``espeak-ng --voices``).
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "sw", "hi", "es-419", "pt-br", "id")
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


def _fit_clip(audio: np.ndarray, rate: int, clip_samples: int) -> np.ndarray:
    """Resample to 16 kHz, then cut or zero-pad to ``clip_samples`` around the energy centre."""
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
                        peak: float = 0.5, progress: bool = True) -> pathlib.Path:
    """Say every word with every speaker; write 16 kHz mono 16-bit WAV clips and a manifest.

    Layout: ``out_dir/<word>/<word>.<speaker_id>.wav`` and ``out_dir/manifest.csv`` with columns
    ``path, label, speaker_id, engine, voice, variant, pitch, speed_wpm`` (written atomically
    at the end; clips are written as they are made).

    Args:
        words: the keywords, e.g. ``("zero", "one", "two")``.
        out_dir: destination folder (created).
        speakers: from :func:`speaker_settings` (default: 100 per espeak-ng accent + flite).
        clip_ms: clip length in ms (1000, as Speech Commands).
        peak: every clip is scaled to this peak amplitude (full scale = 1.0).
        progress: tqdm bar.

    Returns:
        The path of ``manifest.csv``.

    Raises:
        SynthesisError: ``espeak-ng`` or ``flite`` is missing or fails.
        ValueError: a word is empty or not plain letters.
    """
    import soundfile as sf
    from tqdm.auto import tqdm

    from ._files import write_atomic

    for w in words:
        if not w.isalpha():
            raise ValueError(f"keyword {w!r}: use letters only (it becomes a folder name)")
    speakers = speaker_settings() if speakers is None else speakers
    out_dir = pathlib.Path(out_dir)
    clip_samples = KEYWORD_SAMPLE_RATE_HZ * clip_ms // 1000
    rows = []
    for s in tqdm(speakers, desc="synthesising speakers", disable=not progress):
        for w in words:
            audio, rate = _speak(w, s)
            clip = _fit_clip(audio, rate, clip_samples)
            clip *= peak / max(float(np.abs(clip).max()), 1e-6)
            rel = f"{w}/{w}.{s.speaker_id}.wav"
            buf = io.BytesIO()
            sf.write(buf, clip, KEYWORD_SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
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
    """

    audio: np.ndarray
    labels: tuple[str, ...]
    speaker_ids: tuple[str, ...]
    sample_rate_hz: int
    path: pathlib.Path

    def __len__(self) -> int:
        return len(self.labels)


def load_keyword_clips(folder: str | pathlib.Path) -> KeywordClips:
    """Read a folder written by :func:`synthesize_keywords` (or in its layout): ``manifest.csv``
    plus the WAV clips it lists.

    Raises:
        tinymlkit.datasets.DatasetError: the manifest or a clip is missing, not 16 kHz mono, or not
            ``clip`` long (the message names the file and the fault).
    """
    import soundfile as sf

    from .datasets import DatasetError

    folder = pathlib.Path(folder)
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise DatasetError(f"'{manifest}': file not found (a keyword folder lists its clips there)")
    rows = list(csv.DictReader(manifest.open()))
    if not rows or not {"path", "label", "speaker_id"} <= set(rows[0]):
        raise DatasetError(f"'{manifest}': needs the columns path, label, speaker_id and one row per clip")
    clips = []
    for row in rows:
        path = folder / row["path"]
        try:
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:
            raise DatasetError(f"'{path}': cannot be read as audio ({exc})") from exc
        if rate != KEYWORD_SAMPLE_RATE_HZ or audio.shape[1] != 1:
            raise DatasetError(f"'{path}': {rate} Hz, {audio.shape[1]} channel(s); expected "
                               f"{KEYWORD_SAMPLE_RATE_HZ} Hz mono")
        if clips and len(audio) != len(clips[0]):
            raise DatasetError(f"'{path}': {len(audio)} samples, the other clips have {len(clips[0])}")
        clips.append(audio[:, 0])
    return KeywordClips(np.stack(clips), tuple(r["label"] for r in rows),
                        tuple(r["speaker_id"] for r in rows), KEYWORD_SAMPLE_RATE_HZ, folder)


def load_real_voice_digits() -> KeywordClips:
    """The ten digits "zero" … "nine" spoken by Allison Smith (asterisk-core-sounds, CC BY-SA 3.0;
    ``tinymlkit/data/keywords/real_voice/DATACARD.md``), 8 kHz recordings resampled to 16 kHz.

    Returns:
        :class:`KeywordClips` of 10 clips, shipped in the package (works offline).
    """
    import importlib.resources

    return load_keyword_clips(pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" /
                                               "keywords" / "real_voice")))
