"""Stage 10 — capture: recording sessions that save labelled takes from a kit (or the simulated
board) or the laptop's microphone.

Taught in ``solutions/lab04_collect_your_data`` and ``solutions/lab05_keyword_spotting``. The
wire format is :mod:`tinymlkit.protocol` (``hardware/PROTOCOL.md``, version 1), the serial link
:mod:`tinymlkit.board_link` (:class:`Board`), the laptop microphone :mod:`tinymlkit.microphone`;
this module records sessions with them and writes every completed take atomically, so an
interrupted session keeps all the samples it finished. It re-exports what a notebook needs from
those modules (``tk.capture.Board``).

A recording session on disk (``out_dir``)::

    capture.json                     # manifest: the board's header, one entry per saved sample
    <label>/<label>.<person>.<NNN>.csv   # one sample (take): timestamp [ms] + one column per channel

The CSV layout (``timestamp`` in ms, then channels) is also what the Edge Impulse CSV uploader reads.

Spoken keywords (keyword-spotting track, lab 05) come from the kit's microphone
(:meth:`Board.record_audio`, the ``mic_capture`` sketch), the laptop's microphone
(:func:`record_microphone`, PortAudio through ``sounddevice``) or the simulated board
(``tinymlkit simulate-board --sensor mic``). :func:`record_keywords` prompts, records and saves
them in the layout :func:`tinymlkit.datasets.load_keyword_clips` reads::

    manifest.csv                           # path,label,speaker_id,source,recorded_at
    consent.csv                            # record_consent: who agreed to what, until when
    <label>/<label>.<speaker_id>.<NNN>.wav # 1 s, 16 kHz mono 16-bit PCM

An instructor pools the class's keyword folders into one, with consent, by
:func:`pool_keyword_recordings` (``tinymlkit keywords pool``) and deletes a person who withdraws
by :func:`forget_speaker` (``book/instructor_guide/class_recordings.md``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import pathlib
import re
import time
from typing import Callable

import numpy as np

from .files import write_atomic
from .keywords import KEYWORD_SAMPLE_RATE_HZ, fit_clip
from .labels import SILENCE_LABEL, UNKNOWN_LABEL, UNKNOWN_WORDS, check_label, check_speaker_id
from .class_pool import (CLASS_MODEL_USE, CONSENT_COLUMNS, DEFAULT_POOL_DIR, KEYWORD_CLIP_MS, KEYWORD_COLUMNS,
                         POOL_COLUMNS, ConsentRecord, LeftOutSpeaker, PooledSpeaker, PoolResult,
                         forget_speaker, pool_keyword_recordings, read_consent, record_consent)
from .datasets import DatasetError, MotionDataset
from .protocol import (BAUD_RATE, PROTOCOL_VERSION, SILENCE_TIMEOUT_S, Line, ProtocolError, StreamHeader,
                       format_header, format_result, format_sample, parse_header, parse_line)
from .board_link import Board, BoardError, CorruptFrameError, InferenceResult, LostSamplesError, Take
from .images import ImageDataset
from .microphone import MicrophoneError, list_microphones, record_microphone

__all__ = [
    # recording sessions (this module)
    "CaptureSummary", "record_samples", "load_captures", "save_keyword_clip", "record_keywords",
    "check_audio_source", "record_take", "IMAGE_COLUMNS", "record_images", "load_images",
    # re-exported, so a notebook needs only tk.capture: the wire format (tinymlkit.protocol), the
    # serial link (tinymlkit.board_link), the laptop microphone (tinymlkit.microphone), labels
    # (tinymlkit.labels) and a class's recordings pooled with consent (tinymlkit.class_pool)
    "PROTOCOL_VERSION", "BAUD_RATE", "SILENCE_TIMEOUT_S", "ProtocolError", "StreamHeader", "Line",
    "parse_header", "parse_line", "format_header", "format_sample", "format_result",
    "Board", "BoardError", "LostSamplesError", "CorruptFrameError", "Take", "InferenceResult",
    "MicrophoneError", "list_microphones", "record_microphone",
    "KEYWORD_CLIP_MS", "SILENCE_LABEL", "UNKNOWN_LABEL", "check_label", "check_speaker_id",
    "CLASS_MODEL_USE", "CONSENT_COLUMNS", "DEFAULT_POOL_DIR", "POOL_COLUMNS", "ConsentRecord",
    "LeftOutSpeaker", "PooledSpeaker", "PoolResult", "record_consent", "read_consent",
    "pool_keyword_recordings", "forget_speaker",
]


@dataclasses.dataclass
class CaptureSummary:
    """What a recording session did.

    Attributes:
        saved: paths of the samples written in this session, in order.
        retried: takes recorded again because samples were lost on the way.
        bad_lines: lines that were not protocol lines.
        interrupted: the session was stopped (Ctrl-C / the stop button) before the end.
        out_dir: the session folder.
    """

    saved: list[pathlib.Path]
    retried: int
    bad_lines: int
    interrupted: bool
    out_dir: pathlib.Path

    def __str__(self) -> str:
        state = "interrupted; " if self.interrupted else ""
        return (f"{state}{len(self.saved)} sample(s) saved in {self.out_dir}, {self.retried} take(s) "
                f"recorded again after lost samples, {self.bad_lines} bad line(s) ignored")


_MANIFEST = "capture.json"


def _manifest(out_dir: pathlib.Path) -> dict:
    path = out_dir / _MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"'{path}': corrupt manifest ({exc}); it is rewritten after every "
                           "sample, so restore it from the sample files' folder names") from exc


def record_samples(board: Board, label: str, n_samples: int, seconds: float, out_dir, *,
                   person: str = "me", side: str = "left", max_retries: int = 3,
                   pause_s: float = 0.0, progress: bool = True,
                   on_take: Callable[[Take, int], None] | None = None) -> CaptureSummary:
    """Record ``n_samples`` labelled takes and write each one atomically as soon as it is complete.

    Args:
        board: an open :class:`Board`.
        label: class name (letters, digits, ``_``, ``-``; :func:`tinymlkit.labels.check_label`), e.g. ``"WAVE"``.
        n_samples: takes to record.
        seconds: length of each take, in s.
        out_dir: session folder (created); more sessions can go into the same folder.
        person: who performs (letters, digits, ``_``, ``-``; use a code, not a name;
            :func:`tinymlkit.labels.check_speaker_id`).
        side: ``"left"`` or ``"right"`` wrist.
        max_retries: takes with lost samples are recorded again at most this often per sample.
        pause_s: rest between takes, in s (time to get ready).
        progress: show a tqdm bar of samples.
        on_take: called as ``on_take(take, index)`` after each saved take (e.g. a live plot).

    Returns:
        A :class:`CaptureSummary`. On Ctrl-C (KeyboardInterrupt) it returns with
        ``interrupted=True``; everything saved so far stays on disk.

    Raises:
        ValueError: a bad label, person or side, or the folder holds another board's data.
        BoardError: the board went silent or was unplugged (saved samples stay on disk).
    """
    from tqdm.auto import tqdm

    check_label(label)
    check_speaker_id(person, "person")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    out_dir = pathlib.Path(out_dir)
    manifest = _manifest(out_dir) or {"protocol": PROTOCOL_VERSION, "header": board.header.to_dict(),
                                      "samples": []}
    h = manifest["header"]
    if h["channels"] != list(board.header.channels) or h["rate_hz"] != board.header.rate_hz:
        raise ValueError(f"'{out_dir / _MANIFEST}' holds {h['channels']} at {h['rate_hz']} Hz; this "
                         f"board sends {list(board.header.channels)} at {board.header.rate_hz} Hz. "
                         "Use another folder.")
    taken = [s["file"] for s in manifest["samples"]]
    summary = CaptureSummary([], 0, 0, False, out_dir)
    bar = tqdm(total=n_samples, desc=f"recording {label}", unit="sample", disable=not progress)
    try:
        while len(summary.saved) < n_samples:
            for attempt in range(max_retries + 1):
                take = board.record(seconds=seconds)
                summary.bad_lines += take.bad_lines
                if take.lost_samples == 0:
                    break
                summary.retried += 1
            else:
                raise BoardError(f"{max_retries + 1} takes in a row lost samples on '{board.port}': the "
                                 "link is too slow or noisy (use a shorter USB cable, close other "
                                 "programs using the port)")
            k = 1 + max((int(f.rsplit(".", 2)[-2]) for f in taken if f.startswith(f"{label}/{label}.{person}.")),
                        default=0)
            rel = f"{label}/{label}.{person}.{k:03d}.csv"
            path = write_atomic(out_dir / rel, _take_csv(take, board.header))
            taken.append(rel)
            manifest["samples"].append({"file": rel, "label": label, "person": person, "side": side,
                                        "n_samples": len(take.values), "first_counter": int(take.counters[0]),
                                        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
            write_atomic(out_dir / _MANIFEST, json.dumps(manifest, indent=1) + "\n")
            summary.saved.append(path)
            bar.update(1)
            if on_take:
                on_take(take, len(summary.saved) - 1)
            if pause_s and len(summary.saved) < n_samples:
                time.sleep(pause_s)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
    return summary


def _take_csv(take: Take, header: StreamHeader) -> str:
    buf = io.StringIO()
    t_ms = (take.counters - take.counters[0]) * (1000.0 / header.rate_hz)
    np.savetxt(buf, np.column_stack([t_ms, take.values]), delimiter=",", fmt="%.6g",
               header="timestamp," + ",".join(header.channels), comments="")
    return buf.getvalue()


def load_captures(out_dir, class_names: tuple[str, ...] | None = None) -> MotionDataset:
    """Read a recording session folder as a :class:`~tinymlkit.datasets.MotionDataset`.

    Args:
        out_dir: folder written by :func:`record_samples`.
        class_names: label order to use (e.g. the course dataset's plus the new class); default:
            the labels found, sorted.

    Returns:
        A MotionDataset: one recording per saved take, ``(n_i, n_channels)`` float32; subject ids
        100, 101, … for the persons in order of first appearance (so they never collide with the
        course dataset's 1–10); sides 1 = right, 0 = left.

    Raises:
        DatasetError: the folder, manifest or a sample file is missing or malformed, or a label
            is not in ``class_names`` (the message names the file and the fault).
    """
    out_dir = pathlib.Path(out_dir)
    manifest = _manifest(out_dir)
    if not manifest:
        raise DatasetError(f"'{out_dir / _MANIFEST}': not found — record samples first "
                           "(tinymlkit.capture.record_samples)")
    h = manifest["header"]
    channels = tuple(h["channels"])
    labels_found = sorted({s["label"] for s in manifest["samples"]})
    class_names = tuple(class_names) if class_names else tuple(labels_found)
    persons: list[str] = []
    recordings, labels, subjects, sides = [], [], [], []
    for s in manifest["samples"]:
        path = out_dir / s["file"]
        if s["label"] not in class_names:
            raise DatasetError(f"'{path}': label {s['label']!r} is not one of {', '.join(class_names)}")
        try:
            data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"'{path}': cannot be read as a sample CSV ({exc})") from exc
        if data.shape[1] != len(channels) + 1:
            raise DatasetError(f"'{path}': {data.shape[1]} columns, expected timestamp + "
                               f"{len(channels)} ({', '.join(channels)})")
        if s["person"] not in persons:
            persons.append(s["person"])
        recordings.append(data[:, 1:].astype(np.float32))
        labels.append(class_names.index(s["label"]))
        subjects.append(100 + persons.index(s["person"]))
        sides.append(1 if s.get("side") == "right" else 0)
    return MotionDataset(recordings=recordings, labels=np.array(labels, dtype=np.int64),
                         class_names=class_names, subject_ids=np.array(subjects, dtype=np.int64),
                         sides=np.array(sides, dtype=np.int64), channel_names=channels,
                         sample_rate_hz=float(h["rate_hz"]), path=out_dir)



# -- spoken keywords: the kit's microphone or the laptop's, and the clips on disk -----------
# KEYWORD_CLIP_MS lives in class_pool, the labels and their rules in labels (imported above):
# pooling a class's recordings applies the same ones.


def _read_keyword_manifest(path: pathlib.Path) -> tuple[list[str], list[dict]]:
    """Columns and rows of a keyword ``manifest.csv`` (new columns if the file does not exist)."""
    if not path.exists():
        return list(KEYWORD_COLUMNS), []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    if not {"path", "label", "speaker_id"} <= set(columns):
        raise DatasetError(f"'{path}': not a keyword manifest (it needs the columns path, label, "
                           f"speaker_id; it has {', '.join(columns) or 'none'}). Record into another "
                           "folder, or repair it from the clips' file names <label>.<speaker_id>.<NNN>.wav")
    return columns + [c for c in KEYWORD_COLUMNS if c not in columns], rows


def _to_int16_clip(audio, sample_rate_hz: int) -> np.ndarray:
    """``audio`` as ``(16000,)`` int16: 1 s at 16 kHz, resampled and cut/padded around its energy
    centre by ``_keywords.fit_clip`` unless it already is exactly that."""

    a = np.asarray(audio)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"audio: expected (n_samples,) mono samples, got shape {a.shape}")
    clip_samples = KEYWORD_SAMPLE_RATE_HZ * KEYWORD_CLIP_MS // 1000
    if a.dtype == np.int16:
        if sample_rate_hz == KEYWORD_SAMPLE_RATE_HZ and a.size == clip_samples:
            return a.copy()
        x = a.astype(np.float32) / 32768.0
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError("audio: contains NaN or infinite values")
        if np.abs(a).max() > 1.0:
            raise ValueError(f"audio: float samples must lie in [-1, 1] (full scale); the largest is "
                             f"{np.abs(a).max():.3g}")
        x = a.astype(np.float32)
    else:
        raise ValueError(f"audio: dtype {a.dtype}; give int16 samples or floats in [-1, 1]")
    if not (sample_rate_hz == KEYWORD_SAMPLE_RATE_HZ and x.size == clip_samples):
        x = fit_clip(x, int(sample_rate_hz), clip_samples)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def save_keyword_clip(folder, audio, label: str, speaker_id: str, *,
                      sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ, source: str = "") -> pathlib.Path:
    """Save one spoken keyword as a 1 s clip and add it to the folder's ``manifest.csv``.

    Writes ``<folder>/<label>/<label>.<speaker_id>.<NNN>.wav`` (16 kHz mono 16-bit PCM; ``NNN``
    is the next number free for that label and speaker, from 001), then rewrites
    ``<folder>/manifest.csv`` (columns ``path, label, speaker_id, source, recorded_at``; other
    columns already there are kept). Both writes are atomic: a file is complete or untouched.
    The layout is the one :func:`tinymlkit.datasets.load_keyword_clips` reads.

    A take that is not exactly 1 s at 16 kHz is resampled to 16 kHz and cut or zero-padded to 1 s
    centred on its energy (the word), as the synthetic clips are (``_keywords.fit_clip``).

    Args:
        folder: the keyword folder (created).
        audio: ``(n_samples,)`` (or ``(n_samples, 1)``) int16, or float in [-1, 1].
        label: the word in letters (``"yes"``, ``"seven"``), or a special class of letters joined
            and wrapped by ``_``: :data:`SILENCE_LABEL` (``_silence_``, only the room),
            :data:`UNKNOWN_LABEL` (``_unknown_``, other words; ``unknown`` is fine too).
        speaker_id: who speaks, as a code (letters, digits, ``-``, ``_``; no dots: it is part of
            the file name).
        sample_rate_hz: rate of ``audio`` in Hz.
        source: where the audio came from, for the manifest (e.g. ``"laptop"``,
            ``"kit:nano33ble_sense_rev2"``).

    Returns:
        The path of the WAV file written.

    Raises:
        ValueError: a bad label, speaker_id, rate or audio (empty, not mono, NaN, float beyond
            ±1, another dtype); the message says which.
        tinymlkit.datasets.DatasetError: ``manifest.csv`` exists but is not a keyword manifest.
    """
    import soundfile as sf

    label, speaker_id = check_label(label, spoken=True), check_speaker_id(speaker_id)
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, (int, np.integer)) or sample_rate_hz < 1:
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r}: give a whole number of Hz, at least 1")
    clip = _to_int16_clip(audio, int(sample_rate_hz))
    folder = pathlib.Path(folder)
    manifest = folder / "manifest.csv"
    columns, rows = _read_keyword_manifest(manifest)
    stem = f"{label}.{speaker_id}."
    used = {r["path"] for r in rows}
    if (folder / label).is_dir():
        used |= {f"{label}/{p.name}" for p in (folder / label).iterdir()}
    numbered = re.compile(rf"^{re.escape(label)}/{re.escape(stem)}(\d+)\.\w+$")
    numbers = [int(m[1]) for m in map(numbered.match, used) if m]
    rel = f"{label}/{stem}{1 + max(numbers, default=0):03d}.wav"
    buf = io.BytesIO()
    sf.write(buf, clip, KEYWORD_SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
    path = write_atomic(folder / rel, buf.getvalue())
    rows.append({"path": rel, "label": label, "speaker_id": speaker_id, "source": str(source),
                 "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(manifest, text.getvalue())
    return path


def check_audio_source(source) -> str:
    """The manifest's ``source`` text for a recording source: ``"kit:<board id>"`` or ``"laptop"``.

    Args:
        source: an open :class:`Board` sending 16 kHz audio (the mic_capture sketch or the
            simulated board), or ``"laptop"`` for this computer's microphone.

    Raises:
        BoardError: the board sends motion data or another sample rate (the message says which
            sketch to upload).
        ValueError: ``source`` is neither.
    """
    if isinstance(source, Board):
        if source.header.sensor != "mic":
            raise BoardError(f"the board on '{source.port}' sends {source.header.sensor} data, not "
                             "audio: upload the mic_capture sketch, or start the simulated board "
                             "with --sensor mic")
        if source.header.rate_hz != KEYWORD_SAMPLE_RATE_HZ:
            raise BoardError(f"the board on '{source.port}' records at {source.header.rate_hz:g} Hz; "
                             f"keyword clips are {KEYWORD_SAMPLE_RATE_HZ} Hz (upload the course's "
                             "mic_capture sketch)")
        return f"kit:{source.header.board}"
    if source == "laptop":
        return "laptop"
    raise ValueError(f"source {source!r}: give an open Board (the kit's microphone, mic_capture "
                     "sketch, or the simulated board) or the string 'laptop' (this computer's microphone)")


def record_take(source, label: str, duration_ms: int, device=None) -> np.ndarray:
    """One take of ``duration_ms`` from ``source`` as ``(n,)`` int16 at 16 kHz. The simulated
    board is first told to say ``label`` (``ACT``): its simulated person follows the prompt.

    Args:
        source: as :func:`check_audio_source` (checked there first).
        label: the word being recorded.
        duration_ms: take length, ms.
        device: laptop microphone (sounddevice index or name); ``None``: the default.

    Raises:
        BoardError, MicrophoneError: the kit or the microphone failed (their messages say how).
    """
    if isinstance(source, Board):
        if source.header.board == "simulated":
            source.act(label)
        return source.record_audio(duration_ms)
    return record_microphone(duration_ms, device=device)


def _say(label: str) -> str:
    if label == SILENCE_LABEL:
        return f"stay quiet: only the room is recorded ('{label}')"
    if label in UNKNOWN_WORDS:
        return f"say any word that is not one of the keywords ('{label}')"
    return f"say {label}"


def record_keywords(source, folder, labels, speaker_id: str, *, takes: int = 5,
                    clip_ms: int = KEYWORD_CLIP_MS, prompt: Callable[[str], None] = print,
                    device: int | str | None = None, max_retries: int = 2) -> list[pathlib.Path]:
    """Prompt a speaker for each keyword in turn, record and save every take.

    Round ``k`` of ``takes`` asks for every label once, in order ("say yes (take 1 of 5)"), so
    the takes of one word are spread over the session. Each take is saved at once with
    :func:`save_keyword_clip` (1 s clips around the word; ``source`` column ``laptop`` or
    ``kit:<board id>``).

    Args:
        source: an open :class:`Board` with a microphone (``mic_capture`` sketch; the simulated
            board with ``--sensor mic`` is told to say each word with ``ACT``), or ``"laptop"``
            for this computer's microphone (:func:`record_microphone`).
        folder: the keyword folder (see :func:`save_keyword_clip`).
        labels: the words to record, e.g. ``("yes", "no", "_silence_")``.
        speaker_id: code of who speaks (letters, digits, ``-``, ``_``).
        takes: clips per label (at least 1).
        clip_ms: length of each take in ms; the clip saved is always 1 s, centred on the word, so
            a longer take (e.g. 1500) leaves time to react to the prompt. The Nano 33 BLE Sense
            records at most 1000 ms.
        prompt: called with each instruction (text), before its take starts.
        device: laptop microphone (see :func:`record_microphone`); ignored for a board.
        max_retries: a board take that lost samples on the way is asked for again at most this
            often.

    Returns:
        Paths of the clips saved, in order. On Ctrl-C (KeyboardInterrupt) it returns early with
        the clips finished so far (all on disk, in the manifest); the take in progress is dropped.

    Raises:
        ValueError: a bad source, label, speaker_id, takes or clip_ms (before anything is recorded).
        BoardError: the board is not a microphone board, fails, goes silent or is unplugged, or
            keeps losing samples (saved clips stay on disk).
        MicrophoneError: the laptop microphone cannot be used (saved clips stay on disk).
        tinymlkit.datasets.DatasetError: the folder's manifest is not a keyword manifest.
    """
    text = check_audio_source(source)
    labels = [labels] if isinstance(labels, str) else list(labels)
    if not labels:
        raise ValueError("labels: give at least one word to record")
    for label in labels:
        check_label(label, spoken=True)
    check_speaker_id(speaker_id)
    for name, value in (("takes", takes), ("clip_ms", clip_ms)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: give a whole number, at least 1")
    folder = pathlib.Path(folder)
    _read_keyword_manifest(folder / "manifest.csv")  # a broken manifest stops us before any take
    saved: list[pathlib.Path] = []
    try:
        for k in range(takes):
            for label in labels:
                prompt(f"{_say(label)} (take {k + 1} of {takes})")
                for attempt in range(max_retries + 1):
                    try:
                        audio = record_take(source, label, clip_ms, device)
                        break
                    except LostSamplesError as exc:
                        if attempt == max_retries:
                            raise
                        prompt(f"samples were lost on the way ({exc}); once more: {_say(label)}")
                saved.append(save_keyword_clip(folder, audio, label, speaker_id, source=text))
    except KeyboardInterrupt:
        prompt(f"stopped: {len(saved)} clip(s) kept in {folder}")
    return saved


# -- camera images (vision track, issue #15) ------------------------------------------------------
#: Columns of an image folder's ``manifest.csv`` (:func:`record_images`): ``people`` lists the
#: codes of the persons in view (space-separated; each with a consent record), ``source`` is
#: ``kit:<board id>``.
IMAGE_COLUMNS = ("path", "label", "width", "height", "source", "people", "recorded_at")


def _check_image_consent(folder: pathlib.Path, label: str, people: tuple[str, ...]) -> None:
    """Refuse, before the first frame, pictures of people without their recorded consent."""
    if label.lower() in ("person", "people", "face") and not people:
        raise ValueError(f"label {label!r}: pictures of people need the consent of everyone in view. "
                         "Record each person's consent first (tinymlkit.class_pool.record_consent(folder, "
                         "code)) and pass people=(their codes,)")
    if not people:
        return
    records = read_consent(folder)
    for code in people:
        check_speaker_id(code, "person")
        r = records.get(code)
        if r is None or r.consented_on is None or r.withdrawn_on is not None or CLASS_MODEL_USE not in r.uses:
            state = ("has no consent record" if r is None else "withdrew" if r.withdrawn_on else
                     f"did not agree to '{CLASS_MODEL_USE}'")
            raise ValueError(f"person {code!r} {state} in '{folder / 'consent.csv'}': take no picture "
                             "of them (record_consent after they have read and signed the consent form)")


def record_images(board: Board, label: str, n_images: int, folder, *, people=(), max_retries: int = 3,
                  pause_s: float = 0.0, progress: bool = True,
                  on_image: Callable[[np.ndarray, int], None] | None = None) -> CaptureSummary:
    """Take ``n_images`` camera frames of one class and save each one as soon as it arrives whole.

    Writes ``<folder>/<label>/<label>.<NNN>.png`` (8-bit grayscale, the frame as sent) and rewrites
    ``<folder>/manifest.csv`` (:data:`IMAGE_COLUMNS`) after every image, both atomically: an
    interrupted session keeps every image it finished. A frame damaged on the link
    (:class:`~tinymlkit.board_link.CorruptFrameError`) is taken again.

    Args:
        board: an open :class:`Board` whose header says ``sensor=camera`` (``image_capture``, or
            the simulated board with ``--sensor camera``).
        label: class name (letters, digits, ``_``, ``-``; :func:`tinymlkit.labels.check_label`).
        n_images: frames to save (at least 1).
        folder: the image folder (created); more sessions and classes go into the same folder.
        people: codes of the persons in view. Each needs a consent record in
            ``<folder>/consent.csv`` (:func:`tinymlkit.class_pool.record_consent`) that is not
            withdrawn; the label ``person`` needs at least one.
        max_retries: damaged frames taken again per image at most.
        pause_s: wait between images, s (time to turn the object).
        progress: show a tqdm bar.
        on_image: called as ``on_image(frame, index)`` after each saved image (a live preview).

    Returns:
        A :class:`CaptureSummary`; on Ctrl-C (KeyboardInterrupt) it returns with
        ``interrupted=True`` and everything saved so far on disk.

    Raises:
        ValueError: a bad label, person code or count; people in view without consent.
        BoardError: the board has no camera, refuses, goes silent, is unplugged, or keeps sending
            damaged frames (saved images stay on disk).
        tinymlkit.datasets.DatasetError: the folder's ``manifest.csv`` or ``consent.csv`` is malformed.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    check_label(label)
    people = tuple(people.split() if isinstance(people, str) else people)
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images={n_images!r}: give a whole number, at least 1")
    folder = pathlib.Path(folder)
    _check_image_consent(folder, label, people)
    if board.header.sensor != "camera":
        raise BoardError(f"the board on '{board.port}' sends {board.header.sensor} data, not camera "
                         "frames: upload the image_capture sketch, or start the simulated board with "
                         "--sensor camera")
    manifest = folder / "manifest.csv"
    rows = _read_image_manifest(manifest)
    numbered = re.compile(rf"^{re.escape(label)}/{re.escape(label)}\.(\d+)\.png$")
    next_k = 1 + max((int(m[1]) for m in map(numbered.match, (r["path"] for r in rows)) if m), default=0)
    summary = CaptureSummary([], 0, 0, False, folder)
    bar = tqdm(total=n_images, desc=f"images of {label}", unit="image", disable=not progress)
    try:
        while len(summary.saved) < n_images:
            for attempt in range(max_retries + 1):
                try:
                    frame = board.snap()
                    break
                except CorruptFrameError:
                    summary.retried += 1
                    if attempt == max_retries:
                        raise BoardError(f"{max_retries + 1} frames in a row were damaged on the way from "
                                         f"'{board.port}': use a shorter USB cable, close other programs "
                                         "using the port") from None
            buf = io.BytesIO()
            Image.fromarray(frame, mode="L").save(buf, format="PNG")
            rel = f"{label}/{label}.{next_k:03d}.png"
            next_k += 1
            path = write_atomic(folder / rel, buf.getvalue())
            rows.append({"path": rel, "label": label, "width": str(frame.shape[1]), "height": str(frame.shape[0]),
                         "source": f"kit:{board.header.board}", "people": " ".join(people),
                         "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=IMAGE_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            write_atomic(manifest, text.getvalue())
            summary.saved.append(path)
            bar.update(1)
            if on_image:
                on_image(frame, len(summary.saved) - 1)
            if pause_s and len(summary.saved) < n_images:
                time.sleep(pause_s)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
    summary.bad_lines = board.bad_lines
    return summary


def _read_image_manifest(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = tuple(reader.fieldnames or ())
    if columns != IMAGE_COLUMNS:
        raise DatasetError(f"'{path}': not an image manifest (columns {', '.join(columns) or 'none'}; "
                           f"expected {', '.join(IMAGE_COLUMNS)}). Record into another folder.")
    return rows


def load_images(folder, class_names: tuple[str, ...] | None = None) -> ImageDataset:
    """Read an image folder written by :func:`record_images`.

    Args:
        folder: the image folder.
        class_names: label order to use; default the labels found, sorted.

    Returns:
        An :class:`~tinymlkit.images.ImageDataset` of ``(n, height, width)`` uint8 frames, in
        the order they were taken, ``source`` ``"camera"``.

    Raises:
        tinymlkit.datasets.DatasetError: the manifest is missing or malformed, an image is missing,
            unreadable or not the manifest's size, frames differ in size, or a label is not in
            ``class_names`` (the message names the file).
    """
    from PIL import Image, UnidentifiedImageError

    folder = pathlib.Path(folder)
    rows = _read_image_manifest(folder / "manifest.csv")
    if not rows:
        raise DatasetError(f"'{folder / 'manifest.csv'}': no images recorded yet (tinymlkit.capture.record_images)")
    class_names = tuple(class_names) if class_names else tuple(sorted({r["label"] for r in rows}))
    images, labels = [], []
    for r in rows:
        path = folder / r["path"]
        if r["label"] not in class_names:
            raise DatasetError(f"'{path}': label {r['label']!r} is not one of {', '.join(class_names)}")
        try:
            with Image.open(path) as img:
                pixels = np.array(img.convert("L"), dtype=np.uint8)
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"'{path}': cannot be read as an image ({exc})") from exc
        if pixels.shape != (int(r["height"]), int(r["width"])):
            raise DatasetError(f"'{path}': {pixels.shape[1]}×{pixels.shape[0]} pixels, the manifest says "
                               f"{r['width']}×{r['height']}")
        if images and pixels.shape != images[0].shape:
            raise DatasetError(f"'{path}': {pixels.shape[1]}×{pixels.shape[0]} pixels, the folder's first "
                               f"image is {images[0].shape[1]}×{images[0].shape[0]}: one camera size per folder")
        images.append(pixels)
        labels.append(class_names.index(r["label"]))
    return ImageDataset(np.stack(images), np.array(labels, dtype=np.int64), class_names, folder, "camera")
