"""Stage 10b — board link: the serial connection to a course sketch or the simulated board.

:class:`Board` opens the port with pyserial, waits for the ``#TINYMLKIT`` header, and records
motion takes, audio takes and on-device inference results in the wire format of
:mod:`tinymlkit.protocol` (``hardware/PROTOCOL.md``). Recording sessions that save takes to disk
are :mod:`tinymlkit.capture`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from .protocol import (AUDIO_SAMPLE_LINE, BAUD_RATE, FRAME_END_TAG, FRAME_TAG, HEADER_TAG, SILENCE_TIMEOUT_S,
                       Line, ProtocolError, StreamHeader, frame_crc32, parse_frame_header, parse_header,
                       parse_line)

__all__ = ["BoardError", "LostSamplesError", "CorruptFrameError", "Take", "InferenceResult", "Board"]


class BoardError(RuntimeError):
    """The board did not answer, went silent, or was unplugged; the message says what to check."""


class LostSamplesError(BoardError):
    """An audio take arrived with samples missing or garbled on the way; record it again."""


class CorruptFrameError(BoardError):
    """A camera frame arrived with bytes missing or changed on the way (its length, CRC-32 or end
    line is wrong); take it again."""



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
                if line.startswith(HEADER_TAG):
                    try:
                        return parse_header(line)
                    except ProtocolError as exc:
                        self.close()
                        raise BoardError(f"'{self.port}': {exc}") from exc
        self.close()
        raise BoardError(f"no {HEADER_TAG} header from '{self.port}' in {3 * self.timeout_s:.0f} s. "
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
            BoardError: the board refused the take or its sensor failed before the first sample
                (``#ERR``, quoted), went silent for :attr:`timeout_s`, or was unplugged.
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
                elif line.kind == "err" and got == 0:  # refused, or the sensor failed at once
                    raise BoardError(f"the board on '{self.port}' could not record: {line.text}")
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

    def fault(self, kind: str) -> None:
        """Simulated board only: break its sensor with ``kind`` (``stuck_axis``, ``saturation``,
        ``dropped_samples``, ``loose_strap``, ``unit_error``) or mend it with ``"none"``
        (``FAULT``), to test an anomaly detector on faults nobody recorded.

        Raises:
            BoardError: a real board (or an unknown fault) answered ``#ERR``.
        """
        line = self._reply(f"FAULT {kind}", "ok")
        if line.kind == "err":
            raise BoardError(f"'{self.port}': {line.text} (FAULT works only on the simulated board; "
                             "on a real kit, loosen the strap or hold the board still to make a fault)")

    def _read_bytes(self, n: int, timeout_s: float) -> bytes | None:
        """Exactly ``n`` bytes from the link (binary, after a ``#FRAME`` line), or None when it
        goes silent for ``timeout_s`` first (the bytes received so far are dropped)."""
        import serial

        last_data = time.monotonic()
        while len(self._buf) < n:
            if time.monotonic() - last_data > timeout_s:
                self._buf = b""
                return None
            try:
                chunk = self._serial.read(max(1, min(self._serial.in_waiting, n - len(self._buf))))
            except (serial.SerialException, OSError) as exc:
                raise self._unplugged(exc) from exc
            if chunk:
                self._buf += chunk
                last_data = time.monotonic()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _resync_after_frame(self) -> None:
        """Skip what is left of a broken frame: lines up to its ``#ENDFRAME`` or 0.3 s of silence."""
        while True:
            line = self.read_line(timeout_s=0.3)
            if line is None or line.startswith(FRAME_END_TAG):
                return

    # -- camera (image_capture sketch, simulated camera) ----------------------------------------
    def snap(self) -> np.ndarray:
        """Take one camera frame: ``SNAP``, then a ``#FRAME`` line, the frame's bytes and
        ``#ENDFRAME`` (``hardware/PROTOCOL.md``, "Camera frames").

        Returns:
            ``(height, width)`` uint8 grayscale pixels, top row first.

        Raises:
            BoardError: the board has no camera (the message says which sketch to upload), refuses
                (``#ERR``, quoted), goes silent or is unplugged.
            CorruptFrameError: bytes were lost or changed on the way (wrong length, CRC-32 or end
                line); the link is back in step, so take the frame again.
        """
        if self.header.sensor != "camera":
            raise BoardError(f"the board on '{self.port}' sends {self.header.sensor} data, not camera "
                             "frames: upload the image_capture sketch, or start the simulated board "
                             "with --sensor camera")
        self.send("SNAP")
        while True:
            line = self.read_line()
            if line is None:
                raise BoardError(f"no frame from '{self.port}' within {self.timeout_s:g} s of SNAP: "
                                 "check the camera's cable and that image_capture is running")
            if line.startswith(FRAME_TAG + " "):
                break
            if line.startswith("#ERR"):
                raise BoardError(f"the board on '{self.port}' says: {line[4:].strip()}")
            if line.startswith("#"):
                self.log.append(line)
            else:
                self.bad_lines += 1
        try:
            frame = parse_frame_header(line)
        except ProtocolError as exc:
            self._resync_after_frame()
            raise CorruptFrameError(f"a garbled #FRAME line from '{self.port}' ({exc}); take it again") from exc
        payload = self._read_bytes(frame.n_bytes, self.timeout_s)
        if payload is None:
            raise CorruptFrameError(f"frame {frame.counter} from '{self.port}' ended early: fewer than its "
                                    f"{frame.n_bytes} bytes arrived before the link went silent; take it again")
        gap, end = self.read_line(timeout_s=self.timeout_s), None
        if gap == "":
            end = self.read_line(timeout_s=self.timeout_s)
        crc = frame_crc32(payload)
        trailer = end if gap == "" else gap
        if trailer is None or trailer.strip() != f"{FRAME_END_TAG} n={frame.counter}" or crc != frame.crc32:
            if trailer is None or not trailer.startswith(FRAME_END_TAG):
                self._resync_after_frame()
            why = (f"CRC-32 {crc:08x} instead of {frame.crc32:08x}" if crc != frame.crc32
                   else f"its end line is {trailer!r}")
            raise CorruptFrameError(f"frame {frame.counter} from '{self.port}' was damaged on the way "
                                    f"({why}): bytes were lost or changed; take it again")
        return np.frombuffer(payload, dtype=np.uint8).reshape(frame.height, frame.width).copy()

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
                m = AUDIO_SAMPLE_LINE.fullmatch(raw)
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
