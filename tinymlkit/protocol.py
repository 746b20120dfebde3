"""Stage 10a — protocol: the kit's serial wire format, ``hardware/PROTOCOL.md`` (version 1).

Parsing and formatting only, no I/O: the header line (:class:`StreamHeader`), sample, result and
reply lines (:func:`parse_line`), and the lines the simulated board writes
(:func:`format_header`, :func:`format_sample`, :func:`format_result`). The serial client that
speaks it is :mod:`tinymlkit.board_link`.
"""

from __future__ import annotations

import dataclasses
import re
import zlib

import numpy as np

__all__ = ["PROTOCOL_VERSION", "BAUD_RATE", "SILENCE_TIMEOUT_S", "HEADER_TAG", "AUDIO_SAMPLE_LINE",
           "ProtocolError", "StreamHeader", "Line", "parse_header", "parse_line", "format_header",
           "format_sample", "format_result", "FRAME_TAG", "FRAME_END_TAG", "FrameHeader",
           "parse_frame_header", "format_frame_header", "frame_crc32"]

#: Protocol version this package speaks (``hardware/PROTOCOL.md``).
PROTOCOL_VERSION = 1
#: Serial speed of every course sketch, in baud (``hardware/PROTOCOL.md``, "The link").
BAUD_RATE = 115200
#: A take fails when no line arrives for this long, in seconds (``hardware/PROTOCOL.md``).
SILENCE_TIMEOUT_S = 2.0

#: First word of the header line (``hardware/PROTOCOL.md``).
HEADER_TAG = "#TINYMLKIT"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: One audio sample line, "<counter>,<int16>" (format_sample_int16 in tmk_protocol.cpp), with an
#: optional \r; matched on bytes so 16,000 lines a second parse in a few ms
AUDIO_SAMPLE_LINE = re.compile(rb"(\d{1,10}),(-?\d{1,6})\r?")



class ProtocolError(ValueError):
    """A line that should follow ``hardware/PROTOCOL.md`` does not; the message quotes it."""



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
    if not line.startswith(HEADER_TAG + " ") and line != HEADER_TAG:
        raise ProtocolError(f"not a {HEADER_TAG} header line: {line[:80]!r}")
    f = _fields(line[len(HEADER_TAG):])
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
        if word == HEADER_TAG:
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
    return (f"{HEADER_TAG} v={h.version} board={h.board} sensor={h.sensor} rate_hz={h.rate_hz:g} "
            f"channels={','.join(h.channels)} units={','.join(h.units)}{extra}")


def format_sample(counter: int, values) -> str:
    """A sample line ``<counter>,<v1>,…`` with 6 significant digits (``%.6g``), no line ending."""
    return f"{int(counter)}," + ",".join(f"{float(v):.6g}" for v in values)


def format_result(counter: int, label: str, logits, micros: int) -> str:
    """A ``#RESULT n=… label=… logits=… us=…`` line, no line ending."""
    return (f"#RESULT n={int(counter)} label={label} logits="
            + ",".join(f"{float(v):.6g}" for v in logits) + f" us={int(micros)}")


# -- camera frames (sensor=camera; hardware/PROTOCOL.md, "Camera frames") -------------------------
#: First word of the line that announces a binary frame.
FRAME_TAG = "#FRAME"
#: The line that follows a frame's bytes.
FRAME_END_TAG = "#ENDFRAME"


@dataclasses.dataclass(frozen=True)
class FrameHeader:
    """A ``#FRAME n=… width=… height=… bytes=… crc32=…`` line: what binary frame follows.

    Attributes:
        counter: frame counter (0 for the first ``SNAP`` after reset, +1 per frame).
        width, height: pixels; the frame is ``height`` rows of ``width`` 8-bit grayscale pixels,
            top row first.
        n_bytes: bytes that follow the line's ``\n`` (``width * height``).
        crc32: CRC-32 of those bytes (the zlib/PNG/Ethernet CRC, :func:`frame_crc32`).
    """

    counter: int
    width: int
    height: int
    n_bytes: int
    crc32: int


def frame_crc32(payload: bytes) -> int:
    """CRC-32 of a frame's bytes, as the board computes it: the IEEE 802.3 polynomial (reflected
    0xEDB88320, initial and final XOR 0xFFFFFFFF), which is :func:`zlib.crc32`."""
    return zlib.crc32(payload) & 0xFFFFFFFF


def parse_frame_header(line: str) -> FrameHeader:
    """Parse a ``#FRAME`` line.

    Args:
        line: one line, with or without its line ending.

    Returns:
        A :class:`FrameHeader`.

    Raises:
        ProtocolError: not a ``#FRAME`` line, a key is missing or not a number, or ``bytes`` is not
            ``width * height`` (the message quotes the line).
    """
    s = line.strip()
    word, _, rest = s.partition(" ")
    if word != FRAME_TAG:
        raise ProtocolError(f"not a {FRAME_TAG} line: {s[:80]!r}")
    f = _fields(rest)
    try:
        h = FrameHeader(int(f["n"]), int(f["width"]), int(f["height"]), int(f["bytes"]), int(f["crc32"], 16))
    except (KeyError, ValueError):
        raise ProtocolError(f"{s[:120]!r}: a {FRAME_TAG} line needs n=<int> width=<px> height=<px> "
                            "bytes=<count> crc32=<8 hex digits> (hardware/PROTOCOL.md)") from None
    if min(h.counter, h.width, h.height) < 0 or h.width * h.height != h.n_bytes or h.n_bytes == 0:
        raise ProtocolError(f"{s[:120]!r}: bytes must be width × height (8-bit grayscale)")
    return h


def format_frame_header(h: FrameHeader) -> str:
    """The ``#FRAME`` line for ``h`` (no line ending); inverse of :func:`parse_frame_header`."""
    return (f"{FRAME_TAG} n={h.counter} width={h.width} height={h.height} bytes={h.n_bytes} "
            f"crc32={h.crc32:08x}")
