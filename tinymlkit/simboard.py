"""Stage 12 — simboard: a simulated kit on a pseudo-terminal, for when the box of kits ran out.

Taught in ``solutions/lab04_collect_your_data``. ``tinymlkit simulate-board`` opens a
pseudo-terminal (pty) and speaks ``hardware/PROTOCOL.md`` on it exactly as the ``imu_capture`` and
``motion_inference`` sketches do, so :class:`tinymlkit.capture.Board` (pyserial) cannot tell it
from a kit. Its "sensor" is a simulated person wearing the board: it plays back **real recordings**
of one subject of the course dataset, of the exercise it was told to perform (``ACT <class>``), or
``REST`` — keeping still in changing postures (gravity from a random direction plus sensor
noise; synthesised, see :func:`_rest`) — until told otherwise. With ``--model`` it
answers ``INFER`` by running the exported int8 model in the TFLM interpreter on its latest window.

Faults for practice and tests: lose a sample every N (``drop_every``), garble a line every N
(``garble_every``), and pull the plug after some seconds (``unplug_after_s``).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import pathlib
import select
import signal
import subprocess
import sys
import time
import tty
from collections import deque

import numpy as np

from .capture import StreamHeader, format_header, format_result, format_sample
from .datasets import MotionDataset, load_motion

__all__ = ["REST", "SimulationConfig", "SimulatedBoard", "serve"]

#: The class name of standing still (not in the course dataset: synthesised, see :func:`_rest`).
REST = "REST"
# Accelerometer and gyroscope noise of the resting signal: BMI270 datasheet (BST-BMI270-DS000)
# output noise ≈ 160 µg/√Hz and 0.008 °/s/√Hz; at 50 Hz bandwidth about 0.0011 g and 0.001 rad/s.
# We use a few times more (a person is never perfectly still).
_REST_NOISE_G, _REST_NOISE_RAD_S = 0.005, 0.005


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """How the simulated board behaves.

    Attributes:
        subject: the course-dataset subject whose recordings it plays (default 9: a test subject,
            never in the default training split).
        side: ``"left"`` or ``"right"`` wrist of that subject's recordings.
        rate_hz: output rate in Hz; recordings (50 Hz) are resampled (``scipy.signal.resample_poly``).
        speed: time runs this many times faster than real time (1 = real time).
        model: exported model folder (``model_settings.json`` + ``model_int8.tflite``) for ``INFER``.
        drop_every: fault: lose every N-th sample of a take (0 = never).
        garble_every: fault: tear every N-th sample line sent, counted across takes (0 = never).
        unplug_after_s: stop dead (as if unplugged) after this many seconds (0 = never).
        seed: noise and start offsets.
    """

    subject: int = 9
    side: str = "left"
    rate_hz: float = 50.0
    speed: float = 1.0
    model: str | None = None
    drop_every: int = 0
    garble_every: int = 0
    unplug_after_s: float = 0.0
    seed: int = 0


def _rest(rng: np.random.Generator, n: int, rate_hz: float, segment_s: float = 4.0) -> np.ndarray:
    """``n`` samples of a person at rest: every ``segment_s`` the arm settles in a new random
    posture (gravity from a random direction, uniform on the sphere), plus sensor noise."""
    out = np.empty((n, 6), dtype=np.float32)
    seg = max(1, int(segment_s * rate_hz))
    for start in range(0, n, seg):
        g = rng.normal(size=3)
        out[start:start + seg, :3] = g / np.linalg.norm(g)
    out[:, :3] += rng.normal(0, _REST_NOISE_G, (n, 3))
    out[:, 3:] = rng.normal(0, _REST_NOISE_RAD_S, (n, 3))
    return out


class _Person:
    """Plays one subject's recordings of the current activity, sample by sample, in a loop."""

    def __init__(self, ds: MotionDataset, cfg: SimulationConfig):
        from scipy.signal import resample_poly
        from fractions import Fraction

        side = 1 if cfg.side == "right" else 0
        if cfg.subject not in set(ds.subject_ids.tolist()):
            raise ValueError(f"subject {cfg.subject} is not in the dataset "
                             f"({sorted(set(ds.subject_ids.tolist()))})")
        ratio = Fraction(cfg.rate_hz / ds.sample_rate_hz).limit_denominator(100)
        self.signals: dict[str, np.ndarray] = {}
        for k, name in enumerate(ds.class_names):
            idx = np.flatnonzero((ds.subject_ids == cfg.subject) & (ds.sides == side) & (ds.labels == k))
            x = np.concatenate([ds.recordings[i] for i in idx])
            if ratio != 1:
                x = resample_poly(x, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
            self.signals[name] = x
        self.rng = np.random.default_rng([cfg.seed, cfg.subject])  # each person rests their own way
        self.signals[REST] = _rest(self.rng, int(120 * cfg.rate_hz), cfg.rate_hz)
        self.activity, self.pos = REST, 0

    def act(self, name: str) -> bool:
        """Start performing ``name`` from a random point of its recordings; False if unknown."""
        if name not in self.signals:
            return False
        self.activity = name
        self.pos = int(self.rng.integers(len(self.signals[name])))
        return True

    def next(self) -> np.ndarray:
        """The next ``(6,)`` float32 sample of the current activity (looping)."""
        x = self.signals[self.activity]
        sample = x[self.pos % len(x)]
        self.pos += 1
        return sample


class _Classifier:
    def __init__(self, model: str):
        from .export import load_model_files

        self.model_bytes, self.settings = load_model_files(model)
        # one warm-up run: the interpreter's import and first set-up are not part of Invoke time
        self(np.zeros(self.settings.input_shape, dtype=np.float32), "left")

    def __call__(self, window: np.ndarray, side: str) -> tuple[str, np.ndarray, int]:
        from .quantize import dequantize, quantize
        from .tflm import predict_int8

        s = self.settings
        # kChannelSign is the right-wrist mirror (model_settings.h); a left-wrist board skips it
        signs = np.asarray(s.channel_signs if s.channel_signs and side == "right"
                           else (1,) * len(s.channel_names), dtype=np.float32)
        x = quantize(s.normalization.apply(window * signs)[None], s.input_quant)
        t0 = time.perf_counter()
        out, _ = predict_int8(self.model_bytes, x)
        micros = int(1e6 * (time.perf_counter() - t0))
        logits = dequantize(out[0], s.output_quant)
        return s.labels[int(np.argmax(out[0]))], logits, micros


def serve(fd: int, cfg: SimulationConfig, ds: MotionDataset | None = None) -> int:
    """Run the board on the master side ``fd`` of a pty until the host hangs up or a signal.

    Args:
        fd: master file descriptor of the pseudo-terminal.
        cfg: a :class:`SimulationConfig`.
        ds: dataset to play from (default: the shipped motion dataset).

    Returns:
        Exit status: 0 after SIGINT/SIGTERM, 3 after a simulated unplug.

    Raises:
        ValueError: the subject is not in the dataset, or the model's rate differs from ``rate_hz``.
    """
    ds = ds if ds is not None else load_motion()
    person = _Person(ds, cfg)
    clf = _Classifier(cfg.model) if cfg.model else None
    if clf and abs(clf.settings.sample_rate_hz - cfg.rate_hz) > 1e-6:
        raise ValueError(f"the model expects {clf.settings.sample_rate_hz:g} Hz; simulate the "
                         f"board at that rate, not {cfg.rate_hz:g} Hz")
    window = deque(maxlen=clf.settings.window_samples if clf else 1)
    header = StreamHeader(1, "simulated", "imu", cfg.rate_hz, tuple(ds.channel_names),
                          ("g", "g", "g", "rad/s", "rad/s", "rad/s"),
                          {"subject": str(cfg.subject), "model": "yes" if clf else "no"})
    out = bytearray()
    streaming, counter, sensor_count, ticks = False, 0, 0, 0
    period = 1.0 / (cfg.rate_hz * cfg.speed)
    start = next_tick = time.monotonic()
    inbuf = b""

    def emit(line: str) -> None:
        out.extend(line.encode("ascii") + b"\n")

    lines_sent = 0

    def sample_line(n: int, values) -> str:
        nonlocal lines_sent
        lines_sent += 1
        if cfg.garble_every and lines_sent % cfg.garble_every == 0:
            return format_sample(n, values)[: 7] + "\x00?#"  # a torn line, as after a reset
        return format_sample(n, values)

    def command(text: str) -> None:
        nonlocal streaming, counter
        word, _, arg = text.strip().partition(" ")
        word = word.upper()
        if word == "INFO":
            emit(format_header(header))
        elif word == "START":
            streaming, counter = True, 0
            person.act(person.activity)  # a take starts at a seeded point: same commands, same data
            emit("#START")
        elif word == "STOP":
            if streaming:
                streaming = False
            emit(f"#STOP n={counter}")
        elif word == "RECORD":
            try:
                ms = float(arg.split("=", 1)[1])
            except (IndexError, ValueError):
                emit("#ERR RECORD needs ms=<duration>")
                return
            emit("#START")
            person.act(person.activity)
            n = int(round(ms * cfg.rate_hz / 1000))
            for k in range(n):
                emit(sample_line(k, person.next()))
            emit(f"#STOP n={n}")
        elif word == "INFER":
            if clf is None:
                emit("#ERR no model (start the simulated board with --model)")
            elif len(window) < window.maxlen:
                emit(f"#ERR window not full yet ({len(window)} of {window.maxlen} samples)")
            else:
                label, logits, micros = clf(np.asarray(window, dtype=np.float32), cfg.side)
                emit(format_result(sensor_count - 1, label, logits, micros))
        elif word == "ACT":
            name = arg.strip()
            if person.act(name):
                emit(f"#OK act={name}")
            else:
                emit(f"#ERR unknown activity {name!r}; known: {', '.join(person.signals)}")
        elif word:
            emit(f"#ERR unknown command {word}")

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emit("# tinymlkit simulated board: hardware/PROTOCOL.md; type INFO, START, STOP, INFER, ACT <class>")
    emit(format_header(header))
    while not stop["flag"]:
        now = time.monotonic()
        if cfg.unplug_after_s and now - start > cfg.unplug_after_s / cfg.speed:
            return 3
        while next_tick <= now:  # the sensor ticks at rate_hz × speed, streaming or not
            values = person.next()
            window.append(values)
            sensor_count += 1
            if streaming:
                if not (cfg.drop_every and counter % cfg.drop_every == cfg.drop_every - 1):
                    emit(sample_line(counter, values))
                counter += 1
            next_tick += period
            ticks += 1
            if ticks % 64 == 0:
                break  # let commands and output through even when far behind
        wait = max(0.0, min(next_tick - time.monotonic(), 0.05))
        r, w, _ = select.select([fd], [fd] if out else [], [], wait)
        if r:
            try:
                data = os.read(fd, 1024)
            except OSError as exc:
                if exc.errno == errno.EIO:  # no process has the port open: keep waiting
                    data = b""
                    time.sleep(0.01)
                else:
                    raise
            inbuf += data
            while b"\n" in inbuf:
                line, inbuf = inbuf.split(b"\n", 1)
                command(line.decode("ascii", errors="replace").rstrip("\r"))
        if w and out:
            try:
                n = os.write(fd, out)
                del out[:n]
            except BlockingIOError:
                pass
    return 0


class SimulatedBoard:
    """Start ``tinymlkit simulate-board`` in a child process; use it in a ``with`` block.

    Args:
        config: a :class:`SimulationConfig`.

    Attributes:
        port: the pseudo-terminal to open with :class:`tinymlkit.capture.Board`.

    Raises:
        RuntimeError: the simulator did not start (its error output is in the message).
    """

    def __init__(self, config: SimulationConfig = SimulationConfig()):
        args = [sys.executable, "-m", "tinymlkit", "simulate-board", "--subject", str(config.subject),
                "--side", config.side, "--rate-hz", f"{config.rate_hz:g}", "--speed", f"{config.speed:g}",
                "--drop-every", str(config.drop_every), "--garble-every", str(config.garble_every),
                "--unplug-after-s", f"{config.unplug_after_s:g}", "--seed", str(config.seed)]
        if config.model:
            args += ["--model", str(config.model)]
        self.config = config
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("port: "):
            self.process.kill()
            raise RuntimeError(f"the simulated board did not start: {line}{self.process.stderr.read()}")
        self.port = line.split(": ", 1)[1].strip()

    def stop(self) -> int | None:
        """Stop the simulator (SIGTERM, then kill after 5 s); returns its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
        return self.process.returncode

    def __enter__(self) -> "SimulatedBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def open_pty() -> tuple[int, int, str]:
    """Open a raw, non-blocking pseudo-terminal: ``(master_fd, slave_fd, slave_path)``.

    The slave is set raw (no echo, no line editing), as a USB serial port is; the simulator keeps
    it open so the port exists even while no program has it open.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def main(cfg: SimulationConfig, link: str | None = None) -> int:
    """Entry point of ``tinymlkit simulate-board``: open a pty, print ``port: PATH``, serve.

    Args:
        cfg: a :class:`SimulationConfig`.
        link: also make this symlink to the port (e.g. ``/tmp/tinymlkit-board``), removed at exit.

    Returns:
        The exit status of :func:`serve`.
    """
    master, slave, path = open_pty()
    if link:
        link_path = pathlib.Path(link)
        link_path.unlink(missing_ok=True)
        link_path.symlink_to(path)
    print(f"port: {path}", flush=True)
    print(f"Simulated board: subject {cfg.subject} ({cfg.side} wrist), {cfg.rate_hz:g} Hz × "
          f"{cfg.speed:g} speed, model {cfg.model or 'none'}. Ctrl-C stops it.", file=sys.stderr, flush=True)
    try:
        return serve(master, cfg)
    finally:
        if link:
            pathlib.Path(link).unlink(missing_ok=True)
        os.close(master)
        os.close(slave)
