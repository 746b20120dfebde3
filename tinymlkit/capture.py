"""Stage 10 — capture: record labelled sensor data from a kit (or the simulated board) over serial.

Taught in ``solutions/lab04_collect_your_data``. The wire format is ``hardware/PROTOCOL.md``
(version 1); this module parses it, talks to the board with pyserial, and writes every completed
take atomically, so an interrupted session keeps all the samples it finished.

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
from .class_pool import (CLASS_MODEL_USE, CONSENT_COLUMNS, DEFAULT_POOL_DIR, KEYWORD_CLIP_MS, KEYWORD_COLUMNS,
                    POOL_COLUMNS, SILENCE_LABEL, UNKNOWN_LABEL, ConsentRecord, LeftOutSpeaker, PooledSpeaker,
                    PoolResult, check_label, check_speaker_id, forget_speaker, pool_keyword_recordings,
                    read_consent, record_consent)
from .datasets import DatasetError, MotionDataset

__all__ = [
    "PROTOCOL_VERSION", "BAUD_RATE", "SILENCE_TIMEOUT_S", "KEYWORD_CLIP_MS", "SILENCE_LABEL",
    "UNKNOWN_LABEL", "ProtocolError", "BoardError", "LostSamplesError", "MicrophoneError",
    "StreamHeader", "Line", "Take", "InferenceResult", "CaptureSummary", "Board", "parse_header",
    "parse_line", "format_header", "format_sample", "format_result", "record_samples",
    "load_captures", "list_microphones", "record_microphone", "save_keyword_clip",
    "record_keywords", "check_label", "check_speaker_id",
    # a class's recordings pooled with consent (tinymlkit/class_pool.py)
    "CLASS_MODEL_USE", "CONSENT_COLUMNS", "DEFAULT_POOL_DIR", "POOL_COLUMNS", "ConsentRecord",
    "LeftOutSpeaker", "PooledSpeaker", "PoolResult", "record_consent", "read_consent",
    "pool_keyword_recordings", "forget_speaker",
    "check_audio_source", "record_take",
]

#: Protocol version this module speaks (``hardware/PROTOCOL.md``).
PROTOCOL_VERSION = 1
#: Serial speed of every course sketch, in baud (``hardware/PROTOCOL.md``, "The link").
BAUD_RATE = 115200
#: A take fails when no line arrives for this long, in seconds (``hardware/PROTOCOL.md``).
SILENCE_TIMEOUT_S = 2.0

_HEADER_TAG = "#TINYMLKIT"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# one audio sample line, "<counter>,<int16>" (format_sample_int16 in tmk_protocol.cpp), with an
# optional \r; matched on bytes so 16,000 lines a second parse in a few ms
_AUDIO_SAMPLE = re.compile(rb"(\d{1,10}),(-?\d{1,6})\r?")


class ProtocolError(ValueError):
    """A line that should follow ``hardware/PROTOCOL.md`` does not; the message quotes it."""


class BoardError(RuntimeError):
    """The board did not answer, went silent, or was unplugged; the message says what to check."""


class LostSamplesError(BoardError):
    """An audio take arrived with samples missing or garbled on the way; record it again."""


class MicrophoneError(RuntimeError):
    """The laptop microphone cannot be used (PortAudio missing, no input device, device busy);
    the message says what to install or check, and that the kit or the simulated board can be
    used instead."""


@dataclasses.dataclass(frozen=True)
class StreamHeader:
    """What the board says about its stream (the ``#TINYMLKIT`` header line).

    Attributes:
        version: protocol version (1).
        board: board profile id (``tinymlkit/data/boards.toml``) or ``"simulated"``.
        sensor: ``"imu"`` or ``"mic"``.
        rate_hz: samples per second, in Hz.
        channels: channel names in column order, e.g. ``("ax", "ay", "az", "wx", "wy", "wz")``.
        units: one unit per channel, e.g. ``("g", "g", "g", "rad/s", "rad/s", "rad/s")``.
        extra: any other ``key=value`` pairs, kept as text.
    """

    version: int
    board: str
    sensor: str
    rate_hz: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able dict of every field."""
        return {**dataclasses.asdict(self), "channels": list(self.channels), "units": list(self.units)}


@dataclasses.dataclass(frozen=True)
class Line:
    """One parsed line from the board.

    Attributes:
        kind: ``"header"``, ``"start"``, ``"stop"``, ``"sample"``, ``"result"``, ``"ok"``,
            ``"err"``, ``"log"`` or ``"bad"``.
        raw: the line as received, without the line ending.
        counter: sample counter (``sample``, ``result``) or count (``stop``), else None.
        values: ``(n_channels,)`` float64 for ``sample``, else None.
        text: message of ``ok``/``err``/``log``, the reason for ``bad``.
        label, logits, micros: fields of a ``result`` line.
    """

    kind: str
    raw: str
    counter: int | None = None
    values: np.ndarray | None = None
    text: str = ""
    label: str | None = None
    logits: tuple[float, ...] | None = None
    micros: int | None = None


def _fields(text: str) -> dict[str, str]:
    out = {}
    for token in text.split():
        if "=" in token:
            key, value = token.split("=", 1)
            out[key] = value
    return out


def parse_header(line: str) -> StreamHeader:
    """Parse a ``#TINYMLKIT v=1 board=… sensor=… rate_hz=… channels=… units=…`` line.

    Args:
        line: one line, with or without its line ending.

    Returns:
        A :class:`StreamHeader`.

    Raises:
        ProtocolError: not a header, a key is missing, the version is not
            :data:`PROTOCOL_VERSION`, the rate is not a positive number, or channels and units
            differ in count.
    """
    line = line.strip()
    if not line.startswith(_HEADER_TAG + " ") and line != _HEADER_TAG:
        raise ProtocolError(f"not a {_HEADER_TAG} header line: {line[:80]!r}")
    f = _fields(line[len(_HEADER_TAG):])
    missing = [k for k in ("v", "board", "sensor", "rate_hz", "channels", "units") if k not in f]
    if missing:
        raise ProtocolError(f"header {line[:120]!r} lacks {', '.join(missing)} (hardware/PROTOCOL.md)")
    if f["v"] != str(PROTOCOL_VERSION):
        raise ProtocolError(f"the board speaks protocol v={f['v']}, this tinymlkit speaks "
                            f"v={PROTOCOL_VERSION}: upload the sketch from this repository")
    try:
        rate_hz = float(f["rate_hz"])
    except ValueError:
        rate_hz = -1.0
    if not rate_hz > 0:
        raise ProtocolError(f"header rate_hz={f['rate_hz']!r} is not a positive number")
    channels, units = tuple(f["channels"].split(",")), tuple(f["units"].split(","))
    if len(channels) != len(units):
        raise ProtocolError(f"header names {len(channels)} channels but {len(units)} units")
    extra = {k: v for k, v in f.items() if k not in ("v", "board", "sensor", "rate_hz", "channels", "units")}
    return StreamHeader(PROTOCOL_VERSION, f["board"], f["sensor"], rate_hz, channels, units, extra)


def parse_line(line: str, n_channels: int) -> Line:
    """Classify and parse one line of the stream (never raises: a broken line is ``"bad"``).

    Args:
        line: one line, with or without ``\\r\\n``.
        n_channels: channels per sample (from the header).

    Returns:
        A :class:`Line`; for ``"bad"``, ``text`` says what is wrong.
    """
    raw = line.rstrip("\r\n")
    s = raw.strip()
    if s.startswith("#"):
        word, _, rest = s.partition(" ")
        if word == _HEADER_TAG:
            try:
                parse_header(s)
            except ProtocolError as exc:
                return Line("bad", raw, text=str(exc))
            return Line("header", raw)
        if word == "#START":
            return Line("start", raw)
        if word == "#STOP":
            n = _fields(rest).get("n", "")
            return Line("stop", raw, counter=int(n)) if n.isdigit() else Line("bad", raw, text="#STOP without n=<count>")
        if word == "#RESULT":
            f = _fields(rest)
            try:
                logits = tuple(float(v) for v in f["logits"].split(","))
                return Line("result", raw, counter=int(f["n"]), label=f["label"], logits=logits,
                            micros=int(f["us"]) if "us" in f else None)
            except (KeyError, ValueError):
                return Line("bad", raw, text="#RESULT needs n=<int> label=<name> logits=<floats>")
        if word == "#OK":
            return Line("ok", raw, text=rest)
        if word == "#ERR":
            return Line("err", raw, text=rest)
        return Line("log", raw, text=s[1:].strip())
    parts = s.split(",")
    if len(parts) != n_channels + 1:
        return Line("bad", raw, text=f"{len(parts)} fields, expected {n_channels + 1} (counter + "
                                     f"{n_channels} channels)")
    if not parts[0].isdigit():
        return Line("bad", raw, text=f"counter {parts[0]!r} is not a whole number")
    if not all(_NUMBER.match(p.strip()) for p in parts[1:]):
        return Line("bad", raw, text="a value is not a number")
    return Line("sample", raw, counter=int(parts[0]), values=np.array(parts[1:], dtype=np.float64))


def format_header(h: StreamHeader) -> str:
    """The header line for ``h`` (no line ending); inverse of :func:`parse_header`."""
    extra = "".join(f" {k}={v}" for k, v in h.extra.items())
    return (f"{_HEADER_TAG} v={h.version} board={h.board} sensor={h.sensor} rate_hz={h.rate_hz:g} "
            f"channels={','.join(h.channels)} units={','.join(h.units)}{extra}")


def format_sample(counter: int, values) -> str:
    """A sample line ``<counter>,<v1>,…`` with 6 significant digits (``%.6g``), no line ending."""
    return f"{int(counter)}," + ",".join(f"{float(v):.6g}" for v in values)


def format_result(counter: int, label: str, logits, micros: int) -> str:
    """A ``#RESULT n=… label=… logits=… us=…`` line, no line ending."""
    return (f"#RESULT n={int(counter)} label={label} logits="
            + ",".join(f"{float(v):.6g}" for v in logits) + f" us={int(micros)}")


@dataclasses.dataclass
class Take:
    """One recorded take.

    Attributes:
        values: ``(n_samples, n_channels)`` float32 in the header's units.
        counters: ``(n_samples,)`` int64 sample counters as received.
        lost_samples: samples missing from the counter sequence (0 for a clean take).
        bad_lines: lines that were neither samples nor protocol lines.
        messages: ``#`` log, ``#OK`` and ``#ERR`` lines seen during the take.
    """

    values: np.ndarray
    counters: np.ndarray
    lost_samples: int = 0
    bad_lines: int = 0
    messages: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class InferenceResult:
    """A ``#RESULT`` from the board: label, dequantized logits (label order), ``Invoke`` time in µs,
    and the counter of the window's last sample."""

    label: str
    logits: tuple[float, ...]
    micros: int | None
    counter: int


class Board:
    """A serial connection to a course sketch (or the simulated board) — use it in a ``with``.

    Args:
        port: serial port, e.g. ``/dev/ttyACM0``, ``COM5``, or the simulated board's pty path.
        baudrate: :data:`BAUD_RATE` unless you changed the sketch.
        timeout_s: silence after which the board counts as gone, in s.

    Raises:
        BoardError: the port cannot be opened, or no header arrives (wrong sketch, no board).
    """

    def __init__(self, port: str, baudrate: int = BAUD_RATE, timeout_s: float = SILENCE_TIMEOUT_S):
        import serial

        self.port, self.timeout_s = str(port), float(timeout_s)
        self.bad_lines = 0
        self.log: list[str] = []
        self._buf = b""
        try:
            self._serial = serial.Serial(self.port, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise BoardError(f"cannot open serial port '{self.port}' ({exc}). Is the board plugged "
                             "in, and is the port right (tinymlkit boards; Arduino IDE → Tools → "
                             "Port)? Close the Serial Monitor: only one program can use a port.") from exc
        self.header = self._handshake()

    # -- low level ---------------------------------------------------------------------------
    def send(self, command: str) -> None:
        """Send one command line (``INFO``, ``START``, …; see ``hardware/PROTOCOL.md``).

        Raises:
            BoardError: the board was unplugged.
        """
        import serial

        try:
            self._serial.write(command.strip().encode("ascii") + b"\n")
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise self._unplugged(exc) from exc

    def _unplugged(self, exc: Exception) -> BoardError:
        return BoardError(f"the board on '{self.port}' stopped answering: it was unplugged, reset "
                          f"or crashed ({exc}). Every sample written before this is kept; plug it "
                          "back in and record the rest.")

    def read_line(self, timeout_s: float | None = None) -> str | None:
        """The next line (without line ending), or None after ``timeout_s`` of silence.

        Raises:
            BoardError: the port reports an error (unplugged board).
        """
        import serial

        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line, self._buf = self._buf[:nl], self._buf[nl + 1:]
                return line.decode("ascii", errors="replace").rstrip("\r")
            if time.monotonic() > deadline:
                return None
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise self._unplugged(exc) from exc
            self._buf += chunk

    def _handshake(self) -> StreamHeader:
        self._serial.reset_input_buffer()
        for attempt in range(3):
            self.send("INFO")
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                line = self.read_line(timeout_s=max(0.0, deadline - time.monotonic()))
                if line is None:
                    break
                if line.startswith(_HEADER_TAG):
                    try:
                        return parse_header(line)
                    except ProtocolError as exc:
                        self.close()
                        raise BoardError(f"'{self.port}': {exc}") from exc
        self.close()
        raise BoardError(f"no {_HEADER_TAG} header from '{self.port}' in {3 * self.timeout_s:.0f} s. "
                         "Is a course sketch (imu_capture, mic_capture, motion_inference) uploaded? "
                         "Another sketch, or the wrong port, stays silent or prints other text.")

    def close(self) -> None:
        """Close the port (safe to call twice)."""
        try:
            self._serial.close()
        except Exception:  # closing an unplugged port may fail; there is nothing left to do
            pass

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- protocol ----------------------------------------------------------------------------
    def record(self, seconds: float | None = None, n_samples: int | None = None, *,
               on_progress: Callable[[int, int], None] | None = None) -> Take:
        """Record one take: ``START``, read samples, ``STOP``.

        Args:
            seconds, n_samples: length of the take (give one); ``seconds`` × ``rate_hz`` samples.
            on_progress: called as ``on_progress(samples_so_far, n_samples)`` about 10× a second.

        Returns:
            A :class:`Take` of exactly ``n_samples`` samples (``lost_samples`` > 0 if the counter
            skipped: the take has gaps and should be recorded again).

        Raises:
            BoardError: the board went silent for :attr:`timeout_s` or was unplugged.
            ValueError: neither or both lengths given, or a length below 1.
        """
        if (seconds is None) == (n_samples is None):
            raise ValueError("give the take's length as seconds or as n_samples, not both")
        n = int(round(seconds * self.header.rate_hz)) if n_samples is None else int(n_samples)
        if n < 1:
            raise ValueError(f"a take needs at least 1 sample, asked for {n}")
        width = len(self.header.channels)
        values = np.empty((n, width), dtype=np.float32)
        counters = np.empty(n, dtype=np.int64)
        got = lost = bad = 0
        messages: list[str] = []
        last_report = 0.0
        self.send("START")
        try:
            while got < n:
                raw = self.read_line()
                if raw is None:
                    raise BoardError(f"no data from '{self.port}' for {self.timeout_s:g} s during a "
                                     f"take ({got} of {n} samples received): the board stopped "
                                     "sending (unplugged, reset, or crashed?).")
                line = parse_line(raw, width)
                if line.kind == "sample":
                    if got and line.counter != counters[got - 1] + 1:
                        lost += max(0, line.counter - int(counters[got - 1]) - 1)
                    values[got], counters[got] = line.values, line.counter
                    got += 1
                elif line.kind == "bad":
                    bad += 1
                elif line.kind in ("log", "ok", "err"):
                    messages.append(line.raw)
                if on_progress and time.monotonic() - last_report > 0.1:
                    on_progress(got, n)
                    last_report = time.monotonic()
        finally:
            self._stop_stream()
        if on_progress:
            on_progress(got, n)
        self.bad_lines += bad
        self.log.extend(messages)
        return Take(values, counters, lost, bad, messages)

    def stream_windows(self, window: int, stride: int, max_windows: int | None = None):
        """Stream from the board and yield a window every ``stride`` samples (live inference).

        Args:
            window: samples per window; stride: samples between windows.
            max_windows: stop after this many windows (None: until the caller stops iterating).

        Yields:
            ``(counter, values)``: the counter of the window's last sample and a
            ``(window, n_channels)`` float32 array, oldest sample first. Lost samples are logged
            in :attr:`log` (the window then spans the gap, as on a kit).

        Raises:
            BoardError: the board went silent or was unplugged.
            ValueError: window or stride below 1.
        """
        if window < 1 or stride < 1:
            raise ValueError(f"window ({window}) and stride ({stride}) must be at least 1 sample")
        width = len(self.header.channels)
        ring = np.zeros((window, width), dtype=np.float32)
        seen, last, produced = 0, None, 0
        self.send("START")
        try:
            while max_windows is None or produced < max_windows:
                raw = self.read_line()
                if raw is None:
                    raise BoardError(f"no data from '{self.port}' for {self.timeout_s:g} s: the board "
                                     "stopped sending (unplugged, reset, or crashed?)")
                line = parse_line(raw, width)
                if line.kind == "bad":
                    self.bad_lines += 1
                if line.kind != "sample":
                    continue
                if last is not None and line.counter != last + 1:
                    self.log.append(f"lost {line.counter - last - 1} sample(s) before {line.counter}")
                last = line.counter
                ring[seen % window] = line.values
                seen += 1
                if seen >= window and (seen - window) % stride == 0:
                    produced += 1
                    yield line.counter, np.roll(ring, -(seen % window), axis=0)
        finally:
            self._stop_stream()

    def _stop_stream(self) -> None:
        try:
            self.send("STOP")
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                line = self.read_line(timeout_s=max(0.0, deadline - time.monotonic()))
                if line is None or line.startswith("#STOP"):
                    return
        except BoardError:
            pass  # already unplugged: the caller reports the original error

    def infer(self) -> InferenceResult:
        """Ask the board to classify its latest window (``INFER``).

        Returns:
            An :class:`InferenceResult`.

        Raises:
            BoardError: the board has no model (``#ERR``), is silent, or was unplugged.
        """
        line = self._reply("INFER", "result")
        if line.kind == "err":
            raise BoardError(f"the board could not classify: {line.text}")
        return InferenceResult(line.label, line.logits, line.micros, line.counter)

    def act(self, label: str) -> None:
        """Simulated board only: the simulated person now performs ``label`` (``ACT``).

        Raises:
            BoardError: a real board (or an unknown class) answered ``#ERR``.
        """
        line = self._reply(f"ACT {label}", "ok")
        if line.kind == "err":
            raise BoardError(f"'{self.port}': {line.text} (ACT works only on the simulated "
                             "board; with a real kit, you perform the movement or say the word)")

    # -- microphone (mic_capture sketch) -----------------------------------------------------
    def record_audio(self, ms: int) -> np.ndarray:
        """Record ``ms`` milliseconds of audio on a microphone board (``RECORD ms=<ms>``).

        The board records into its own RAM first (16 kHz is more than the serial link carries),
        then sends ``#START``, one ``<counter>,<int16>`` line per sample and ``#STOP n=<count>``
        (``hardware/PROTOCOL.md``; kit side: ``libraries/TinyMLKit/src/tmk_mic_app.cpp``).

        Args:
            ms: length of the take in ms (the Nano 33 BLE Sense holds at most 1000 ms, the XIAO
                ESP32S3 Sense 10000 ms; the board refuses more with ``#ERR``).

        Returns:
            ``(ms × rate_hz / 1000,)`` int16 samples, full scale ±32768 (16,000 per second at the
            sketches' 16 kHz).

        Raises:
            ValueError: ``ms`` is not a whole number of at least 1.
            BoardError: the board is not a microphone board (its header says another sensor),
                answers ``#ERR`` (no microphone, take too long for its RAM, …), goes silent, or is
                unplugged.
            LostSamplesError: samples were lost or garbled on the way (counter gaps, bad lines, or
                fewer samples than ``#STOP n=`` announces); the take is not returned.
        """
        h = self.header
        if h.sensor != "mic" or len(h.channels) != 1:
            raise BoardError(f"the board on '{self.port}' sends {h.sensor} data ({', '.join(h.channels)}), "
                             "not audio: upload the mic_capture sketch (hardware/README.md), or start "
                             "the simulated board with --sensor mic")
        if isinstance(ms, bool) or not isinstance(ms, (int, np.integer)) or ms < 1:
            raise ValueError(f"ms={ms!r}: give the take's length as a whole number of milliseconds, "
                             "at least 1")
        ms = int(ms)
        expected = int(round(ms * h.rate_hz / 1000))
        self.send(f"RECORD ms={ms}")
        wait_s = ms / 1000 + self.timeout_s  # the board records first, then answers
        try:
            deadline = time.monotonic() + wait_s
            while True:
                raw = self.read_line(timeout_s=max(0.0, deadline - time.monotonic()))
                if raw is None:
                    raise BoardError(f"no answer to RECORD ms={ms} from '{self.port}' in {wait_s:g} s: "
                                     "the board stopped sending (unplugged, reset, or crashed?)")
                line = parse_line(raw, 1)
                if line.kind == "start":
                    break
                if line.kind == "err":
                    raise BoardError(f"the board on '{self.port}' could not record: {line.text}")
                if line.kind == "log":
                    self.log.append(line.raw)
                elif line.kind == "bad":
                    self.bad_lines += 1
            return self._audio_take(ms, expected)
        except KeyboardInterrupt:
            # Ctrl-C: the board still records and sends this take; read it to its #STOP and drop
            # it, so the next take does not receive it
            self._finish_take(wait_s)
            raise

    def _audio_take(self, ms: int, expected: int) -> np.ndarray:
        """Read the sample lines after ``#START`` up to ``#STOP`` in bulk (16,000 lines a second
        would be slow one :meth:`read_line` at a time) and check them."""
        import serial

        counters: list[int] = []
        values: list[int] = []
        bad = 0
        stop_count = None
        last_data = time.monotonic()
        while stop_count is None:
            if b"\n" not in self._buf:
                if time.monotonic() - last_data > self.timeout_s:
                    raise BoardError(f"no data from '{self.port}' for {self.timeout_s:g} s during an audio "
                                     f"take ({len(values)} of {expected} samples received): the board "
                                     "stopped sending (unplugged, reset, or crashed?)")
                try:
                    chunk = self._serial.read(max(1, self._serial.in_waiting))
                except (serial.SerialException, OSError) as exc:
                    raise self._unplugged(exc) from exc
                if chunk:
                    self._buf += chunk
                    last_data = time.monotonic()
                continue
            lines = self._buf.split(b"\n")
            self._buf = lines.pop()  # the unfinished tail
            for i, raw in enumerate(lines):
                m = _AUDIO_SAMPLE.fullmatch(raw)
                if m:
                    value = int(m[2])
                    if -32768 <= value <= 32767:
                        counters.append(int(m[1]))
                        values.append(value)
                    else:
                        bad += 1
                    continue
                line = parse_line(raw.decode("ascii", errors="replace"), 1)
                if line.kind == "stop":
                    stop_count = line.counter
                    self._buf = b"\n".join(lines[i + 1:] + [self._buf])  # put the rest back
                    break
                if line.kind == "err":
                    self._buf = b"\n".join(lines[i + 1:] + [self._buf])
                    self._finish_take()
                    raise BoardError(f"the board on '{self.port}' failed during the take: {line.text}")
                if line.kind == "log":
                    self.log.append(line.raw)
                elif line.kind in ("bad", "sample"):  # "sample": a line of a different width
                    bad += 1
        self.bad_lines += bad
        ok_counters = np.array_equal(np.asarray(counters, dtype=np.int64), np.arange(expected))
        if stop_count != expected or len(values) != expected or not ok_counters or bad:
            lost = max(0, max(stop_count, expected) - len(values))
            raise LostSamplesError(
                f"'{self.port}': the {ms} ms take should have {expected} samples; the board announced "
                f"{stop_count} (#STOP n=) and {len(values)} arrived intact ({lost} lost, {bad} garbled "
                "line(s)). The take is not kept: record it again (use a shorter or better USB cable, "
                "and close other programs that use the port).")
        return np.asarray(values, dtype=np.int16)

    def _finish_take(self, timeout_s: float | None = None) -> None:
        """Read and drop lines up to the take's ``#STOP`` (or ``timeout_s`` of silence, default
        :attr:`timeout_s`), ignoring a gone board."""
        try:
            while True:
                line = self.read_line(timeout_s)
                if line is None or line.startswith("#STOP"):
                    return
        except BoardError:
            pass

    def _reply(self, command: str, kind: str) -> Line:
        """Send ``command``; return the first line of ``kind`` or ``"err"`` (others are skipped)."""
        self.send(command)
        while True:
            raw = self.read_line()
            if raw is None:
                raise BoardError(f"no answer to {command.split()[0]} from '{self.port}' in "
                                 f"{self.timeout_s:g} s")
            line = parse_line(raw, len(self.header.channels))
            if line.kind in (kind, "err"):
                return line


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
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


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
        label: class name (letters, digits, ``_``, ``-``), e.g. ``"WAVE"``.
        n_samples: takes to record.
        seconds: length of each take, in s.
        out_dir: session folder (created); more sessions can go into the same folder.
        person: who performs (letters, digits, ``_``, ``-``; use a code, not a name).
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

    for name, value in (("label", label), ("person", person)):
        if not _SAFE.match(value):
            raise ValueError(f"{name} {value!r}: use letters, digits, '_' or '-' only")
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


# -- spoken keywords: the kit's microphone, the laptop's, and the clips on disk ----------------
# KEYWORD_CLIP_MS, SILENCE_LABEL, UNKNOWN_LABEL and the label and speaker-id rules live in _pool
# (imported above): pooling a class's recordings applies the same ones.
_INSTEAD = ("Without a laptop microphone, record with the kit's microphone (the mic_capture sketch, "
            "Board.record_audio) or the simulated board (tinymlkit simulate-board --sensor mic).")


def _sounddevice():
    """Import ``sounddevice`` (which loads PortAudio), or say in plain words what is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when the PortAudio library is not found
        raise MicrophoneError(
            f"PortAudio, the sound library the laptop microphone needs, is not installed ({exc}). "
            "Install it: Debian/Ubuntu `sudo apt-get install libportaudio2`, Fedora `sudo dnf install "
            "portaudio`, conda `conda install -c conda-forge portaudio` (the macOS and Windows wheels "
            f"of sounddevice bring their own). {_INSTEAD}") from exc
    except ImportError as exc:
        raise MicrophoneError(f"the Python package sounddevice is not installed ({exc}): "
                              f"`pip install sounddevice` (it is in the course requirements). {_INSTEAD}") from exc
    return sounddevice


def list_microphones(refresh: bool = False) -> list[dict]:
    """The audio inputs PortAudio sees (through ``sounddevice``).

    Args:
        refresh: re-scan the devices first (PortAudio lists them once, when it starts; re-starting
            it with ``sounddevice._terminate()``/``_initialize()`` is the rescan sounddevice's
            maintainer recommends, python-sounddevice issue #125). Use it after plugging in a
            headset; it stops any stream that is running.

    Returns:
        One dict per input device, in PortAudio order: ``index`` (int, pass it as ``device``),
        ``name`` (str), ``host_api`` (str, e.g. ``"ALSA"``, ``"Core Audio"``, ``"MME"``),
        ``max_input_channels`` (int), ``default_sample_rate_hz`` (float, Hz) and ``default``
        (bool: the system's default input). Empty when there is no microphone.

    Raises:
        MicrophoneError: PortAudio or sounddevice is not installed (the message says how to
            install it).
    """
    sd = _sounddevice()
    if refresh:
        sd._terminate()
        sd._initialize()
    try:
        default = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError):
        default = -1
    apis = sd.query_hostapis()
    return [{"index": int(d["index"]), "name": d["name"], "host_api": apis[d["hostapi"]]["name"],
             "max_input_channels": int(d["max_input_channels"]),
             "default_sample_rate_hz": float(d["default_samplerate"]), "default": d["index"] == default}
            for d in sd.query_devices() if d["max_input_channels"] > 0]


def record_microphone(duration_ms: int, *, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ,
                      device: int | str | None = None) -> np.ndarray:
    """Record from the laptop's microphone (PortAudio through ``sounddevice``); blocks until done.

    Args:
        duration_ms: length in ms (at least 1).
        sample_rate_hz: sample rate in Hz (16 kHz, the keyword clips' rate; PortAudio or the
            system's sound server converts if the device runs at another rate).
        device: an ``index`` or a part of a ``name`` from :func:`list_microphones`; None: the
            system's default input.

    Returns:
        ``(duration_ms × sample_rate_hz / 1000,)`` int16 mono samples (the first channel),
        full scale ±32768.

    Raises:
        ValueError: ``duration_ms`` or ``sample_rate_hz`` is not a positive whole number.
        MicrophoneError: PortAudio is missing, there is no microphone (or none called
            ``device``), it cannot record 16-bit mono at ``sample_rate_hz``, or recording failed
            (another program holds it, it was unplugged); the message says what to do.
        KeyboardInterrupt: Ctrl-C; the recording is stopped and dropped.
    """
    for name, value in (("duration_ms", duration_ms), ("sample_rate_hz", sample_rate_hz)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: give a whole number, at least 1")
    sd = _sounddevice()
    try:
        info = sd.query_devices(device, "input")
    except (sd.PortAudioError, ValueError) as exc:
        if device is None:
            raise MicrophoneError(
                f"no microphone found: PortAudio sees no audio input on this computer ({exc}). Plug "
                "in a microphone or headset and call list_microphones(refresh=True); check that the "
                f"system's sound settings enable it (and allow this program to use it). {_INSTEAD}") from exc
        names = ", ".join(f"{d['index']}: {d['name']}" for d in list_microphones()) or "none"
        raise MicrophoneError(f"no microphone {device!r} ({exc}); the inputs are: {names}. {_INSTEAD}") from exc
    name = info["name"]
    n = int(round(int(duration_ms) * int(sample_rate_hz) / 1000))
    try:
        sd.check_input_settings(device=info["index"], channels=1, dtype="int16", samplerate=sample_rate_hz)
        audio = sd.rec(n, samplerate=sample_rate_hz, channels=1, dtype="int16", device=info["index"],
                       blocking=True)
    except KeyboardInterrupt:
        sd.stop()
        raise
    except (sd.PortAudioError, ValueError) as exc:
        raise MicrophoneError(f"recording {sample_rate_hz} Hz 16-bit mono from the microphone '{name}' "
                              f"failed ({exc}): another program may be using it, or it was unplugged; "
                              f"list_microphones() shows the inputs. {_INSTEAD}") from exc
    return np.ascontiguousarray(audio[:, 0])


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

    label, speaker_id = check_label(label), check_speaker_id(speaker_id)
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
    if label in (UNKNOWN_LABEL, "unknown"):
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
        check_label(label)
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
