"""Stage 12 — simboard: a simulated kit on a pseudo-terminal, for when the box of kits ran out.

Taught in ``solutions/lab04_collect_your_data``. ``tinymlkit simulate-board`` opens a
pseudo-terminal (pty) and speaks ``hardware/PROTOCOL.md`` on it exactly as the ``imu_capture`` and
``motion_inference`` sketches do, so :class:`tinymlkit.board_link.Board` (pyserial) cannot tell it
from a kit. Its "sensor" is a simulated person wearing the board: it plays back **real recordings**
of one subject of the course dataset, of the exercise it was told to perform (``ACT <class>``), or
``REST`` — keeping still in changing postures (gravity from a random direction plus sensor
noise; synthesised, see :func:`_rest`) — until told otherwise. With ``--model`` it
answers ``INFER`` by running the exported int8 model in the TFLM interpreter on its latest window.

With an anomaly detector's export (``tinymlkit anomaly``) as ``--model`` it is a kit running
``anomaly_inference``: ``INFER`` answers ``#RESULT … label=normal|anomaly logits=<autoencoder
score>,<K-means score>``, computed as the kit does (:func:`tinymlkit.anomaly.score_windows`), and
``FAULT <kind>`` breaks its sensor the way :func:`tinymlkit.datasets.inject_window_fault` does
(``stuck_axis``, ``saturation``, ``dropped_samples``, ``loose_strap``, ``unit_error``; ``FAULT
none`` mends it), so the person can play normal and abnormal motion.

With ``sensor="mic"`` (``--sensor mic``) it is a kit running ``mic_capture`` instead: a 16 kHz
microphone that answers ``RECORD ms=<n>`` (and refuses ``START``, as the kit does). Its simulated
person is one speaker of a keyword folder (the shipped synthetic set by default): ``ACT <word>``
makes them say that word in the next take, at a random moment, over room noise; ``ACT _silence_``
leaves only the room.

With ``sensor="camera"`` (``--sensor camera``) it is a kit running ``image_capture``: ``SNAP``
sends one 160×120 grayscale frame as a binary ``#FRAME`` with its CRC-32; ``ACT <scene>`` puts a
Fashion-MNIST item or one of the person-detection example's photos in front of it.

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
import zlib
from collections import deque
from typing import Callable

import numpy as np

from .keywords import KEYWORD_SAMPLE_RATE_HZ, manifest_rows
from .labels import SILENCE_LABEL
from .protocol import (FRAME_END_TAG, FrameHeader, StreamHeader, format_frame_header, format_header,
                       format_result, format_sample, frame_crc32)
from .images import FASHION_MNIST_CLASSES, load_fashion_mnist, load_person_detect_examples
from .anomaly import score_windows
from .datasets import (WINDOW_FAULT_KINDS, MotionDataset, background_noise, inject_window_fault, load_motion,
                       synthetic_keywords_path)
from .model_settings import AnomalyModelSettings
from .export import load_model_files
from .quantize import dequantize, quantize
from .tflm import predict_int8

__all__ = ["REST", "SILENCE_LABEL", "SimulationConfig", "SimulatedBoard", "serve"]

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
        seed: noise and start offsets (IMU); word, offset, loudness, SNR and noise (microphone).
        sensor: ``"imu"`` (the ``imu_capture``/``motion_inference`` sketches; the fields above)
            or ``"mic"`` (the ``mic_capture`` sketch; always 16 kHz, ``rate_hz`` is not used) or
            ``"camera"`` (the ``image_capture`` sketch: ``SNAP`` sends a 160×120 grayscale frame;
            ``ACT <scene>`` picks what is in front of it, :data:`CAMERA_SCENES`; ``drop_every``
            and ``garble_every`` then lose or change bytes of every N-th frame).
        speaker: microphone: the speaker id whose clips it says (default: the first in the
            folder's manifest).
        clips_dir: microphone: a keyword folder in the ``load_keyword_clips`` layout
            (``manifest.csv`` + 16 kHz mono clips; default: the shipped synthetic set,
            ``tinymlkit.datasets.synthetic_keywords_path()``, speaker ids such as
            ``espeak-sw-f5-p37-s139``).
        snr_db: microphone: each take's signal-to-noise ratio is drawn uniformly from this range,
            in dB (speech power over the word / room-noise power; 20-30 dB is a quiet room). The
            noise is ``tinymlkit.datasets.background_noise``: pink, brown, fan or mains hum.
        mic_max_ms: microphone: longest ``RECORD`` in ms; longer ones get ``#ERR … does not fit in
            RAM`` (1000 ms: the Nano 33 BLE Sense's ``mic_capture`` holds 1 s, 32 KB).
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
    sensor: str = "imu"
    speaker: str | None = None
    clips_dir: str | None = None
    snr_db: tuple[float, float] = (20.0, 30.0)
    mic_max_ms: int = 1000


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
        self.fault: str | None = None
        self._faulty: dict[str, np.ndarray] = {}

    def set_fault(self, kind: str) -> bool:
        """Break the sensor with ``kind`` (:data:`tinymlkit.datasets.WINDOW_FAULT_KINDS`), or mend
        it with ``"none"``; False if ``kind`` is unknown. The fault is made by
        :func:`tinymlkit.datasets.inject_window_fault` on every 2 s of each activity's signal."""
        if kind == "none":
            self.fault = None
            return True
        if kind not in WINDOW_FAULT_KINDS:
            return False
        self.fault, self._faulty = kind, {}
        return True

    def _signal(self) -> np.ndarray:
        x = self.signals[self.activity]
        if self.fault is None:
            return x
        if self.activity not in self._faulty:
            chunk = 100
            n = len(x) // chunk * chunk
            faulty = x.copy()
            if n:
                faulty[:n] = inject_window_fault(x[:n].reshape(-1, chunk, x.shape[1]), self.fault,
                                                 seed=int(self.rng.integers(1 << 30))).reshape(n, -1)
            self._faulty[self.activity] = faulty
        return self._faulty[self.activity]

    def act(self, name: str) -> bool:
        """Start performing ``name`` from a random point of its recordings; False if unknown."""
        if name not in self.signals:
            return False
        self.activity = name
        self.pos = int(self.rng.integers(len(self.signals[name])))
        return True

    def next(self) -> np.ndarray:
        """The next ``(6,)`` float32 sample of the current activity (looping), with the fault."""
        x = self._signal()
        sample = x[self.pos % len(x)]
        self.pos += 1
        return sample


class _Classifier:
    def __init__(self, model: str):

        self.model_bytes, self.settings = load_model_files(model)
        if not isinstance(self.settings, AnomalyModelSettings):
            self.model_bytes, self.settings = load_model_files(model, kind="motion")
        # one warm-up run: the interpreter's import and first set-up are not part of Invoke time
        self(np.zeros((self.settings.window_samples, len(self.settings.channel_names)), dtype=np.float32), "left")

    def __call__(self, window: np.ndarray, side: str) -> tuple[str, np.ndarray, int]:

        s = self.settings
        if isinstance(s, AnomalyModelSettings):  # anomaly_inference: both scores, as the kit
            t0 = time.perf_counter()
            ae, km = score_windows(window[None], s, self.model_bytes, right_wrist=side == "right")
            micros = int(1e6 * (time.perf_counter() - t0))
            label = "anomaly" if ae[0] > s.autoencoder_threshold else "normal"
            return label, np.array([ae[0], km[0]], dtype=np.float32), micros
        # kChannelSign is the right-wrist mirror (model_settings.h); a left-wrist board skips it
        signs = np.asarray(s.channel_signs if s.channel_signs and side == "right"
                           else (1,) * len(s.channel_names), dtype=np.float32)
        x = quantize(s.normalization.apply(window * signs)[None], s.input_quant)
        t0 = time.perf_counter()
        out, _ = predict_int8(self.model_bytes, x)
        micros = int(1e6 * (time.perf_counter() - t0))
        logits = dequantize(out[0], s.output_quant)
        return s.labels[int(np.argmax(out[0]))], logits, micros


# Room noise of the simulated microphone: each take draws one of these kinds of
# tinymlkit.datasets.background_noise (generated, see its docstring). Babble is left out: a
# crowd of voices is not the quiet room the SNR range describes.
_ROOM_NOISES = ("pink", "brown", "fan", "hum")
# How loud the speaker arrives: the word's peak is drawn from this range (full scale 1.0), like
# someone 20-100 cm from the board (the shipped clips are normalised to peak 0.5). For
# _silence_, the speech level the noise is set against is peak / 4 (speech's crest factor is
# about 12 dB).
_SPEECH_PEAK = (0.1, 0.6)
_SPEECH_CREST = 4.0
# A clip's word is where |x| exceeds this share of its peak (-26 dB), plus this margin in samples
# (10 ms at 16 kHz) on each side.
_VOICED_SHARE, _VOICED_MARGIN = 0.05, 160


def _voiced(audio: np.ndarray, path: pathlib.Path) -> np.ndarray:
    """The part of a 1 s clip where the word is (see ``_VOICED_SHARE``), float32."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak == 0.0:
        raise ValueError(f"'{path}': the clip is silent; the simulated speaker needs a spoken word")
    loud = np.flatnonzero(np.abs(audio) > _VOICED_SHARE * peak)
    lo, hi = max(0, loud[0] - _VOICED_MARGIN), min(len(audio), loud[-1] + 1 + _VOICED_MARGIN)
    return np.asarray(audio[lo:hi], dtype=np.float32)


class _Voice:
    """The simulated person in front of the microphone: one speaker of a keyword folder."""

    def __init__(self, cfg: SimulationConfig):
        import soundfile as sf

        for kind in _ROOM_NOISES:  # imports scipy now: the first take must not wait for it
            background_noise(kind, 0.01)

        folder = pathlib.Path(cfg.clips_dir) if cfg.clips_dir else synthetic_keywords_path()
        manifest, rows = manifest_rows(
            folder, "not found. The simulated microphone speaks from a keyword folder (manifest.csv "
                    "+ 16 kHz clips, the load_keyword_clips layout): give one with --clips-dir")
        speakers = list(dict.fromkeys(r["speaker_id"] for r in rows))
        self.speaker = cfg.speaker or speakers[0]
        mine = [r for r in rows if r["speaker_id"] == self.speaker]
        if not mine:
            raise ValueError(f"speaker {self.speaker!r} is not in '{manifest}' ({len(speakers)} speakers, "
                             f"e.g. {', '.join(speakers[:5])})")
        lo, hi = (float(v) for v in cfg.snr_db)
        if not lo <= hi:
            raise ValueError(f"snr_db {cfg.snr_db}: give (low, high) with low <= high, in dB")
        self.snr_db = (lo, hi)
        self.words: dict[str, list[np.ndarray]] = {}
        for r in mine:
            path = folder / r["path"]
            try:
                audio, rate = sf.read(path, dtype="float32", always_2d=True)
            except (OSError, RuntimeError) as exc:
                raise ValueError(f"'{path}': cannot be read as audio ({exc})") from exc
            if rate != KEYWORD_SAMPLE_RATE_HZ or audio.shape[1] != 1:
                raise ValueError(f"'{path}': {rate} Hz, {audio.shape[1]} channel(s); expected "
                                 f"{KEYWORD_SAMPLE_RATE_HZ} Hz mono")
            self.words.setdefault(r["label"], []).append(_voiced(audio[:, 0], path))
        # each speaker speaks their own way, the same way every run with the same seed
        self.rng = np.random.default_rng([cfg.seed, zlib.crc32(self.speaker.encode())])
        self.word = SILENCE_LABEL

    def act(self, name: str) -> bool:
        """Say ``name`` in the coming takes (``_silence_``: say nothing); False if unknown."""
        if name != SILENCE_LABEL and name not in self.words:
            return False
        self.word = name
        return True

    def _noise(self, n: int) -> np.ndarray:
        """``(n,)`` float64 room noise of unit RMS, of a random kind of ``_ROOM_NOISES``."""
        kind = _ROOM_NOISES[int(self.rng.integers(len(_ROOM_NOISES)))]
        noise = background_noise(kind, n / KEYWORD_SAMPLE_RATE_HZ, seed=int(self.rng.integers(2**31)),
                                 mains_hz=50.0 if self.rng.random() < 0.5 else 60.0).astype(np.float64)
        return noise / max(float(noise.std()), 1e-12)

    def take(self, n: int) -> np.ndarray:
        """``(n,)`` int16: the current word at a random moment and loudness, over room noise at a
        random SNR in ``snr_db`` (only the noise for ``_silence_``)."""
        rng = self.rng
        snr_db = rng.uniform(*self.snr_db)
        peak = rng.uniform(*_SPEECH_PEAK)
        x = np.zeros(n, dtype=np.float64)
        if self.word == SILENCE_LABEL:
            speech_rms = peak / _SPEECH_CREST
        else:
            clips = self.words[self.word]
            word = clips[int(rng.integers(len(clips)))].astype(np.float64)
            word *= peak / np.abs(word).max()
            speech_rms = float(np.sqrt(np.mean(word ** 2)))
            if len(word) >= n:  # a take shorter than the word: its middle
                cut = (len(word) - n) // 2
                x[:] = word[cut:cut + n]
            else:
                offset = int(rng.integers(0, n - len(word) + 1))
                x[offset:offset + len(word)] = word
        x += self._noise(n) * speech_rms / 10 ** (snr_db / 20)
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _record_ms(arg: str) -> int | str:
    """The ms of ``RECORD ms=<n>`` or the kit's complaint (``parse_command`` in tmk_protocol.cpp)."""
    if not arg.upper().startswith("MS="):
        return "needs ms=<duration in ms>, e.g. RECORD ms=1000"
    digits = arg[3:]
    if not digits.isdigit() or not digits.isascii():
        return "needs ms=<duration in ms>, e.g. RECORD ms=1000"
    if int(digits) > 600_000:
        return "ms= is too long (at most 600000 ms)"
    if int(digits) == 0:
        return "ms= must be at least 1"
    return int(digits)


def _serve_mic(fd: int, cfg: SimulationConfig, voice: _Voice) -> int:
    """:func:`serve` for ``sensor="mic"``: the ``mic_capture`` sketch (``tmk::MicApp``)."""
    header = StreamHeader(1, "simulated", "mic", float(KEYWORD_SAMPLE_RATE_HZ), ("mic",), ("int16",),
                          {"speaker": voice.speaker})
    out = bytearray()
    state = {"last_count": 0, "lines_sent": 0}

    def emit(line: str) -> None:
        out.extend(line.encode("ascii") + b"\n")

    def record(ms: int) -> None:
        if ms > cfg.mic_max_ms:
            emit(f"#ERR RECORD ms={ms} does not fit in RAM: at most {cfg.mic_max_ms} ms")
            return
        time.sleep(ms / 1000 / cfg.speed)  # the kit records into RAM first, then sends
        n = ms * KEYWORD_SAMPLE_RATE_HZ // 1000
        audio = voice.take(n).tolist()
        emit("#START")
        if not (cfg.drop_every or cfg.garble_every):
            out.extend("".join([f"{k},{v}\n" for k, v in enumerate(audio)]).encode("ascii"))
        else:
            for k, v in enumerate(audio):
                if cfg.drop_every and k % cfg.drop_every == cfg.drop_every - 1:
                    continue
                state["lines_sent"] += 1
                line = f"{k},{v}"
                if cfg.garble_every and state["lines_sent"] % cfg.garble_every == 0:
                    line = line[:7] + "\x00?#"  # a torn line, as after a reset
                emit(line)
        emit(f"#STOP n={n}")
        state["last_count"] = n

    def command(text: str) -> None:
        word, _, arg = text.strip().partition(" ")
        word, arg = word.upper(), arg.strip()
        if word == "INFO":
            emit(format_header(header))
        elif word == "RECORD":
            ms = _record_ms(arg)
            if isinstance(ms, str):
                emit(f"#ERR RECORD: {ms}")
            else:
                record(ms)
        elif word == "START":
            emit("#ERR 16 kHz audio is faster than the serial link: use RECORD ms=<n>")
        elif word == "STOP":
            emit(f"#STOP n={state['last_count']}")
        elif word == "INFER":
            emit("#ERR no model")
        elif word == "ACT":
            if voice.act(arg):
                emit(f"#OK act={arg}")
            else:
                emit(f"#ERR unknown word {arg!r}; speaker {voice.speaker} says "
                     f"{', '.join(sorted(voice.words))} or {SILENCE_LABEL}")
        elif word:
            emit(f"#ERR unknown command {word}")

    emit("# tinymlkit simulated board (microphone): hardware/PROTOCOL.md; type INFO, RECORD ms=1000, "
         "ACT <word>")
    emit(format_header(header))
    return _run_pty(fd, cfg, out, command)


#: The simulated camera's frame, pixels (QQVGA 160×120, 8-bit grayscale: what the kits' image_capture
#: sketches send).
CAMERA_WIDTH, CAMERA_HEIGHT = 160, 120
#: What the simulated camera can be pointed at (``ACT <scene>``): nothing on the desk, the person
#: detection example's two photos, or a Fashion-MNIST item of a class (its label as the kit sends it).
CAMERA_SCENES = ("empty", "person", "no_person") + tuple(c.replace("/", "-").replace(" ", "_")
                                                         for c in FASHION_MNIST_CLASSES)


class _Camera:
    """The scene in front of the simulated camera: a desk (a smooth gradient with sensor noise and
    a random exposure), with a Fashion-MNIST item (shown 3× larger, 84×84) or one of the
    person-detection example's photos (96×96) in the middle, slightly shifted each frame."""

    def __init__(self, cfg: SimulationConfig):
        self.rng = np.random.default_rng(cfg.seed)
        self.scene = "empty"
        examples = load_person_detect_examples()
        self.photos = {"no_person": examples.images[0], "person": examples.images[1]}
        self.items = load_fashion_mnist("test", subset=True)

    def act(self, name: str) -> bool:
        """Point the camera at ``name`` (one of :data:`CAMERA_SCENES`); False if unknown."""
        if name not in CAMERA_SCENES:
            return False
        self.scene = name
        return True

    def frame(self) -> np.ndarray:
        """The next frame: ``(120, 160)`` uint8."""
        rng = self.rng
        y, x = np.mgrid[0:CAMERA_HEIGHT, 0:CAMERA_WIDTH]
        desk = 90 + 40 * (x / CAMERA_WIDTH) + 20 * (y / CAMERA_HEIGHT)
        if self.scene in self.photos:
            patch = self.photos[self.scene].astype(np.float64)
        elif self.scene != "empty":
            k = CAMERA_SCENES.index(self.scene) - 3
            choice = rng.choice(np.flatnonzero(self.items.labels == k))
            item = np.kron(self.items.images[choice].astype(np.float64), np.ones((3, 3)))
            patch = np.where(item > 20, item, desk[:84, :84])  # the item lies on the desk
        else:
            patch = None
        image = desk.copy()
        if patch is not None:
            h, w = patch.shape
            top = (CAMERA_HEIGHT - h) // 2 + int(rng.integers(-4, 5))
            left = (CAMERA_WIDTH - w) // 2 + int(rng.integers(-6, 7))
            image[top:top + h, left:left + w] = patch
        image = image * rng.uniform(0.8, 1.15) + rng.normal(0, 3, image.shape)
        return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _serve_camera(fd: int, cfg: SimulationConfig, camera: _Camera) -> int:
    """:func:`serve` for ``sensor="camera"``: the ``image_capture`` sketch (``SNAP``)."""
    header = StreamHeader(1, "simulated", "camera", 5.0, ("pixel",), ("uint8",),
                          {"width": str(CAMERA_WIDTH), "height": str(CAMERA_HEIGHT), "format": "gray8"})
    out = bytearray()
    state = {"frames": 0}

    def emit(line: str) -> None:
        out.extend(line.encode("ascii") + b"\n")

    def snap() -> None:
        time.sleep(0.05 / cfg.speed)  # exposure and readout
        pixels = camera.frame().tobytes()
        n = state["frames"]
        state["frames"] += 1
        crc = frame_crc32(pixels)
        payload = bytearray(pixels)
        if cfg.drop_every and n % cfg.drop_every == cfg.drop_every - 1:
            del payload[len(payload) // 2:len(payload) // 2 + 7]  # bytes lost on the way
        if cfg.garble_every and n % cfg.garble_every == cfg.garble_every - 1:
            payload[len(payload) // 3] ^= 0x5A  # a byte changed on the way
        emit(format_frame_header(FrameHeader(n, CAMERA_WIDTH, CAMERA_HEIGHT, len(pixels), crc)))
        out.extend(bytes(payload) + b"\n")
        emit(f"{FRAME_END_TAG} n={n}")

    def command(text: str) -> None:
        word, _, arg = text.strip().partition(" ")
        word, arg = word.upper(), arg.strip()
        if word == "INFO":
            emit(format_header(header))
        elif word == "SNAP":
            snap()
        elif word in ("START", "RECORD"):
            emit("#ERR a camera sends frames, not a stream: use SNAP")
        elif word == "STOP":
            emit("#STOP n=0")
        elif word == "INFER":
            emit("#ERR no model")
        elif word == "ACT":
            if camera.act(arg):
                emit(f"#OK act={arg}")
            else:
                emit(f"#ERR unknown scene {arg!r}; the simulated camera shows {', '.join(CAMERA_SCENES)}")
        elif word:
            emit(f"#ERR unknown command {word}")

    emit("# tinymlkit simulated board (camera): hardware/PROTOCOL.md; type INFO, SNAP, ACT <scene>")
    emit(format_header(header))
    return _run_pty(fd, cfg, out, command)


def serve(fd: int, cfg: SimulationConfig, ds: MotionDataset | None = None, voice=None) -> int:
    """Run the board on the master side ``fd`` of a pty until the host hangs up or a signal.

    Args:
        fd: master file descriptor of the pseudo-terminal.
        cfg: a :class:`SimulationConfig`.
        ds: IMU: dataset to play from (default: the shipped motion dataset).
        voice: microphone: the simulated speaker, already loaded (default: made from ``cfg``).

    Returns:
        Exit status: 0 after SIGINT/SIGTERM, 3 after a simulated unplug.

    Raises:
        ValueError: the subject is not in the dataset, the model's rate differs from ``rate_hz``,
            ``sensor`` is unknown, or (microphone) the keyword folder, a clip or the speaker is
            missing or malformed (the message names the file).
    """
    if cfg.sensor == "mic":
        return _serve_mic(fd, cfg, voice if voice is not None else _Voice(cfg))
    if cfg.sensor == "camera":
        return _serve_camera(fd, cfg, _Camera(cfg))
    if cfg.sensor != "imu":
        raise ValueError(f"sensor {cfg.sensor!r}: the simulated board has an 'imu', a 'mic' or a 'camera'")
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
        elif word == "FAULT":
            kind = arg.strip().lower()
            if person.set_fault(kind):
                emit(f"#OK fault={kind}")
            else:
                emit(f"#ERR unknown fault {kind!r}; known: {', '.join(WINDOW_FAULT_KINDS)}, none")
        elif word:
            emit(f"#ERR unknown command {word}")

    def tick(now: float) -> float:
        """Advance the sensor to ``now``; return the seconds until its next sample."""
        nonlocal sensor_count, counter, next_tick, ticks
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
        return max(0.0, min(next_tick - time.monotonic(), 0.05))

    emit("# tinymlkit simulated board: hardware/PROTOCOL.md; type INFO, START, STOP, INFER, ACT <class>, "
         "FAULT <kind|none>")
    emit(format_header(header))
    return _run_pty(fd, cfg, out, command, tick, start)


def _run_pty(fd: int, cfg: SimulationConfig, out: bytearray, command: Callable[[str], None],
             tick: Callable[[float], float] | None = None, start: float | None = None) -> int:
    """The board's main loop on the pty master ``fd``: pass each received line to ``command``,
    write ``out`` as fast as the pty takes it, call ``tick(now)`` (it returns the seconds until
    it needs calling again), until SIGINT/SIGTERM (returns 0) or the simulated unplug (returns 3)."""
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    start = time.monotonic() if start is None else start
    inbuf = b""
    while not stop["flag"]:
        now = time.monotonic()
        if cfg.unplug_after_s and now - start > cfg.unplug_after_s / cfg.speed:
            return 3
        wait = tick(now) if tick else 0.05
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
        port: the pseudo-terminal to open with :class:`tinymlkit.board_link.Board`.

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
        if config.sensor == "mic":
            args += ["--sensor", config.sensor, "--snr-db", *(f"{v:g}" for v in config.snr_db),
                     "--mic-max-ms", str(config.mic_max_ms)]
        elif config.sensor != "imu":
            args += ["--sensor", config.sensor]
        if config.speaker:
            args += ["--speaker", config.speaker]
        if config.clips_dir:
            args += ["--clips-dir", str(config.clips_dir)]
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

    Raises:
        ValueError: as :func:`serve`; the microphone's speaker is loaded before the port is
            printed, so a bad folder or speaker is reported instead of a port.
    """
    voice = _Voice(cfg) if cfg.sensor == "mic" else None
    master, slave, path = open_pty()
    if link:
        link_path = pathlib.Path(link)
        link_path.unlink(missing_ok=True)
        link_path.symlink_to(path)
    print(f"port: {path}", flush=True)
    if cfg.sensor == "camera":
        print(f"Simulated board: camera {CAMERA_WIDTH}×{CAMERA_HEIGHT} grayscale (ACT <scene>: "
              f"{', '.join(CAMERA_SCENES)}), {cfg.speed:g} speed. Ctrl-C stops it.", file=sys.stderr, flush=True)
    elif voice is not None:
        print(f"Simulated board: microphone at {KEYWORD_SAMPLE_RATE_HZ} Hz, speaker {voice.speaker} "
              f"({', '.join(sorted(voice.words))}), SNR {cfg.snr_db[0]:g}-{cfg.snr_db[1]:g} dB, "
              f"{cfg.speed:g} speed. Ctrl-C stops it.", file=sys.stderr, flush=True)
    else:
        print(f"Simulated board: subject {cfg.subject} ({cfg.side} wrist), {cfg.rate_hz:g} Hz × "
              f"{cfg.speed:g} speed, model {cfg.model or 'none'}. Ctrl-C stops it.", file=sys.stderr, flush=True)
    try:
        return serve(master, cfg, voice=voice)
    finally:
        if link:
            pathlib.Path(link).unlink(missing_ok=True)
        os.close(master)
        os.close(slave)
