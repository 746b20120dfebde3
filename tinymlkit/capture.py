"""Stage 10 — capture: record labelled sensor data from a kit (or the simulated board) over serial.

Taught in ``solutions/lab04_collect_your_data``. The wire format is ``hardware/PROTOCOL.md``
(version 1); this module parses it, talks to the board with pyserial, and writes every completed
take atomically, so an interrupted session keeps all the samples it finished.

A recording session on disk (``out_dir``)::

    capture.json                     # manifest: the board's header, one entry per saved sample
    <label>/<label>.<person>.<NNN>.csv   # one sample (take): timestamp [ms] + one column per channel

The CSV layout (``timestamp`` in ms, then channels) is also what the Edge Impulse CSV uploader reads.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import re
import time
from typing import Callable

import numpy as np

from .datasets import DatasetError, MotionDataset
from .export import write_atomic

__all__ = [
    "PROTOCOL_VERSION", "BAUD_RATE", "SILENCE_TIMEOUT_S",
    "ProtocolError", "BoardError", "StreamHeader", "Line", "Take", "InferenceResult",
    "CaptureSummary", "Board", "parse_header", "parse_line", "format_header", "format_sample",
    "format_result", "record_samples", "load_captures",
]

#: Protocol version this module speaks (``hardware/PROTOCOL.md``).
PROTOCOL_VERSION = 1
#: Serial speed of every course sketch, in baud (``hardware/PROTOCOL.md``, "The link").
BAUD_RATE = 115200
#: A take fails when no line arrives for this long, in seconds (``hardware/PROTOCOL.md``).
SILENCE_TIMEOUT_S = 2.0

_HEADER_TAG = "#TINYMLKIT"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ProtocolError(ValueError):
    """A line that should follow ``hardware/PROTOCOL.md`` does not; the message quotes it."""


class BoardError(RuntimeError):
    """The board did not answer, went silent, or was unplugged; the message says what to check."""


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
                             "board; with a real kit, you perform the movement)")

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
