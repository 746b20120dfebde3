"""Keyword-spotting features and audio augmentation (re-exported by :mod:`tinymlkit.features`).
Keyword-spotting track, issue #5.

Features come from TensorFlow Lite Micro's audio *microfrontend* — the same C library
(``tensorflow/lite/experimental/microfrontend/lib``) that the micro_speech example runs on the
microcontroller — called through the TensorFlow op that TensorFlow ships
(``tensorflow/lite/experimental/microfrontend/python/ops/audio_microfrontend_op.py``). Training
and the device therefore compute the same numbers from the same int16 samples.

Augmentation is plain NumPy / :mod:`scipy.signal` on float32 audio in [-1, 1] (full scale = 1.0),
seeded by an ``np.random.Generator`` or a ``seed``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from .keywords import KEYWORD_SAMPLE_RATE_HZ

__all__ = [
    "ms_to_samples",
    "FEATURE_SCALE",
    "AugmentConfig",
    "FrontendSettings",
    "apply_gain",
    "augment_clips",
    "band_limit",
    "change_speed",
    "keyword_features",
    "microfrontend",
    "mix_noise",
    "spec_augment",
    "streamed_keyword_features",
    "time_shift",
]

#: Factor from the microfrontend's integer output to the float features micro_speech trains on:
#: tensorflow/tensorflow ``tensorflow/examples/speech_commands/input_data.py`` (preprocess
#: ``"micro"``) multiplies the op's output by ``10.0 / 256.0``; on the device, tflite-micro's
#: ``micro_speech/micro_features/micro_features_generator.cc`` folds the same division by 25.6
#: into its int8 input quantization. 10/256 = 0.0390625 is exact in binary floating point.
FEATURE_SCALE = 10.0 / 256.0

#: int16 full scale: float audio in [-1, 1] is multiplied by this before rounding to int16, as
#: ``input_data.py`` does (``tf.multiply(background_clamp, 32768)``).
_INT16_FULL_SCALE = 32768
#: Clips are processed this many at a time in one traced graph: TensorFlow's executor then runs
#: the independent per-clip ops on all CPU cores. 64 was the fastest of 32/64/128 measured on a
#: 2-core machine (about 4,700 clips/s; one eager call per clip: about 3,200 clips/s).
_CHUNK = 64
#: Frame length for the speech-power estimate of :func:`mix_noise`, in ms (10 ms: the hop of
#: common speech front ends, short enough to resolve a word's onset and end).
_POWER_FRAME_MS = 10
#: Frames more than this many dB below a clip's loudest frame do not count as speech when the SNR
#: is computed (course choice; the same idea as ``librosa.effects.split``'s ``top_db``, which is
#: 60 dB there). 40 dB keeps every speech sound of a word (fricatives are 20-30 dB below vowels)
#: and drops the zero padding and quiet lead-in of the course's 1 s clips.
_SPEECH_TOP_DB = 40.0
#: Audio whose peak is below one int16 step (1/32768 of full scale) is digital silence: it would
#: become all-zero int16 samples, so it has no speech power to set an SNR against.
_SILENT_PEAK = 1.0 / _INT16_FULL_SCALE


def ms_to_samples(ms: float, sample_rate_hz: float, what: str = "") -> int:
    """Convert a duration in ms to a whole number of samples at ``sample_rate_hz`` (the course's
    one conversion: windows, strides, clips, for motion and audio alike).

    Args:
        ms: duration, ms.
        sample_rate_hz: sample rate, Hz.
        what: the setting's name, for the error message (e.g. ``"window_ms"``).

    Returns:
        The number of samples.

    Raises:
        ValueError: the duration is not a whole number of samples (e.g. 30 ms at 50 Hz), or is
            not positive; the message names ``what`` and the multiples of ms that would be.
    """
    exact = ms * sample_rate_hz / 1000.0
    n = round(exact)
    if n <= 0 or abs(exact - n) > 1e-6:
        raise ValueError(f"{what + ' = ' if what else ''}{ms} ms at {sample_rate_hz:g} Hz is {exact:g} samples, "
                         f"not a positive whole number of samples; choose a multiple of "
                         f"{1000.0 / sample_rate_hz:g} ms")
    return int(n)


@dataclasses.dataclass(frozen=True)
class FrontendSettings:
    """Settings of the TFLM audio microfrontend, as micro_speech trains and runs it.

    Sources (tflite-micro repository unless noted):

    * ``sample_rate_hz``, ``window_ms``, ``stride_ms``, ``n_channels``:
      ``tensorflow/lite/micro/examples/micro_speech/micro_features/micro_model_settings.h``
      (``kAudioSampleFrequency = 16000``, ``kFeatureSliceDurationMs = 30``,
      ``kFeatureSliceStrideMs = 20``, ``kFeatureSliceSize = 40``, ``kFeatureSliceCount = 49``) and
      the training notebook ``micro_speech/train/train_micro_speech_model.ipynb``
      (``WINDOW_SIZE_MS = 30``, ``WINDOW_STRIDE = 20``, ``FEATURE_BIN_COUNT = 40``,
      ``PREPROCESS = 'micro'``).
    * ``clip_ms``: ``--clip_duration_ms=1000`` in tensorflow/tensorflow
      ``tensorflow/examples/speech_commands/train.py`` (Speech Commands clips are 1 s).
    * the other fields: the defaults of the op,
      ``tensorflow/lite/experimental/microfrontend/python/ops/audio_microfrontend_op.py``, which
      are also what micro_speech's ``micro_features/micro_features_generator.cc`` sets on the
      device (125-7500 Hz, smoothing_bits 10, even/odd smoothing 0.025/0.06,
      min_signal_remaining 0.05, PCAN strength 0.95, offset 80, gain_bits 21, log scale_shift 6).

    Attributes:
        sample_rate_hz: audio sample rate, Hz.
        window_ms: analysis window per feature frame, ms (whole samples at ``sample_rate_hz``).
        stride_ms: hop between frames, ms.
        n_channels: mel filterbank channels per frame.
        lower_band_hz, upper_band_hz: filterbank edges, Hz (``upper < sample_rate_hz / 2``).
        smoothing_bits: noise-reduction fixed-point scale, bits.
        even_smoothing, odd_smoothing: noise-estimate smoothing of even / odd channels (0-1).
        min_signal_remaining: fraction of the signal kept by noise reduction (0-1).
        enable_pcan: per-channel amplitude normalisation (automatic gain control) on/off.
        pcan_strength: PCAN gain exponent.
        pcan_offset: PCAN denominator offset.
        gain_bits: PCAN fixed-point fractional bits.
        enable_log: logarithmic output scaling on/off.
        scale_shift: log output scaled by ``2**scale_shift``.
        clip_ms: keyword clip length, ms (1000).

    Raises:
        ValueError: a duration is not a whole number of samples, a count is not positive, the band
            is empty or reaches the Nyquist frequency, or the clip is shorter than one window.
    """

    sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ
    window_ms: int = 30
    stride_ms: int = 20
    n_channels: int = 40
    lower_band_hz: float = 125.0
    upper_band_hz: float = 7500.0
    smoothing_bits: int = 10
    even_smoothing: float = 0.025
    odd_smoothing: float = 0.06
    min_signal_remaining: float = 0.05
    enable_pcan: bool = True
    pcan_strength: float = 0.95
    pcan_offset: float = 80.0
    gain_bits: int = 21
    enable_log: bool = True
    scale_shift: int = 6
    clip_ms: int = 1000

    def __post_init__(self) -> None:
        for name in ("sample_rate_hz", "window_ms", "stride_ms", "n_channels", "clip_ms"):
            value = getattr(self, name)
            if int(value) != value or value <= 0:
                raise ValueError(f"FrontendSettings.{name} must be a positive whole number "
                                 f"(the op takes integers), got {value!r}")
        ms_to_samples(self.window_ms, self.sample_rate_hz, "window_ms")
        ms_to_samples(self.stride_ms, self.sample_rate_hz, "stride_ms")
        ms_to_samples(self.clip_ms, self.sample_rate_hz, "clip_ms")
        if not 0 <= self.lower_band_hz < self.upper_band_hz < self.sample_rate_hz / 2:
            raise ValueError(f"filterbank band {self.lower_band_hz:g}-{self.upper_band_hz:g} Hz: "
                             f"needs 0 <= lower < upper < {self.sample_rate_hz / 2:g} Hz (the "
                             f"Nyquist frequency at {self.sample_rate_hz} Hz)")
        for name in ("even_smoothing", "odd_smoothing", "min_signal_remaining"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"FrontendSettings.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.clip_ms < self.window_ms:
            raise ValueError(f"clip_ms = {self.clip_ms} is shorter than one window ({self.window_ms} ms)")

    @property
    def window_samples(self) -> int:
        """Window length in samples (480 at 30 ms, 16 kHz)."""
        return self.sample_rate_hz * self.window_ms // 1000

    @property
    def stride_samples(self) -> int:
        """Hop between frames in samples (320 at 20 ms, 16 kHz)."""
        return self.sample_rate_hz * self.stride_ms // 1000

    @property
    def clip_samples(self) -> int:
        """Clip length in samples (16000 at 1000 ms, 16 kHz)."""
        return self.sample_rate_hz * self.clip_ms // 1000

    @property
    def n_frames(self) -> int:
        """Feature frames per clip: ``1 + (clip_samples - window_samples) // stride_samples``
        (the frontend emits a frame each time a full window has arrived): 49 for micro_speech."""
        return 1 + (self.clip_samples - self.window_samples) // self.stride_samples

    @property
    def feature_shape(self) -> tuple[int, int]:
        """``(n_frames, n_channels)`` of one clip's features: ``(49, 40)`` for micro_speech."""
        return (self.n_frames, self.n_channels)

    @property
    def channel_centres_hz(self) -> np.ndarray:
        """Peak frequency of each output filterbank channel, Hz: ``(n_channels,)`` float64,
        increasing (173 Hz ... 7053 Hz for micro_speech).

        The microfrontend places ``n_channels + 1`` points equally on the mel scale
        ``mel(f) = 1127 ln(1 + f / 700)`` from ``lower_band_hz`` (excluded) to ``upper_band_hz``;
        output channel ``k`` is a triangle rising from point ``k - 1`` (``lower_band_hz`` for
        ``k = 0``) to its peak at point ``k`` and falling to point ``k + 1``
        (``tensorflow/lite/experimental/microfrontend/lib/filterbank_util.c``,
        ``CalculateCenterFrequencies`` and ``FilterbankPopulateState``; ``filterbank.c``,
        ``FilterbankAccumulateChannels``).
        """
        mel_low = 1127.0 * np.log1p(self.lower_band_hz / 700.0)
        mel_high = 1127.0 * np.log1p(self.upper_band_hz / 700.0)
        spacing = (mel_high - mel_low) / (self.n_channels + 1)
        mels = mel_low + spacing * np.arange(1, self.n_channels + 1)
        return 700.0 * np.expm1(mels / 1127.0)

    def _op_kwargs(self) -> dict:
        return dict(sample_rate=int(self.sample_rate_hz), window_size=int(self.window_ms),
                    window_step=int(self.stride_ms), num_channels=int(self.n_channels),
                    upper_band_limit=float(self.upper_band_hz),
                    lower_band_limit=float(self.lower_band_hz),
                    smoothing_bits=int(self.smoothing_bits),
                    even_smoothing=float(self.even_smoothing),
                    odd_smoothing=float(self.odd_smoothing),
                    min_signal_remaining=float(self.min_signal_remaining),
                    enable_pcan=bool(self.enable_pcan), pcan_strength=float(self.pcan_strength),
                    pcan_offset=float(self.pcan_offset), gain_bits=int(self.gain_bits),
                    enable_log=bool(self.enable_log), scale_shift=int(self.scale_shift),
                    # no frame stacking: one output row per frame, as micro_speech
                    left_context=0, right_context=0, frame_stride=1, zero_padding=False,
                    out_scale=1)


def _check_pcm(audio: np.ndarray, what: str = "audio") -> np.ndarray:
    """``audio`` as an array if it is int16, or float with every sample in [-1, 1].

    Raises:
        ValueError: another dtype, a NaN or infinite sample, or a float sample outside [-1, 1].
    """
    audio = np.asarray(audio)
    if audio.dtype == np.int16:
        return audio
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{what} has dtype {audio.dtype}; pass int16 PCM samples or float audio "
                         f"in [-1, 1]")
    peak = _peak(audio, what)
    if peak > 1.0:
        raise ValueError(f"{what} is float with peak {peak:g}, outside [-1, 1] full scale (int16 "
                         f"counts stored as float? pass them as int16 or divide by 32768)")
    return audio


def _as_int16(audio: np.ndarray) -> np.ndarray:
    """int16 PCM from checked audio: int16 unchanged, float ``round(x * 32768)`` clipped."""
    if audio.dtype == np.int16:
        return audio
    scaled = audio * audio.dtype.type(_INT16_FULL_SCALE)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def _peak(audio: np.ndarray, what: str) -> float:
    """Largest absolute sample (0 for empty audio), without a full-size temporary.

    Raises:
        ValueError: a sample is NaN or infinite.
    """
    if audio.size == 0:
        return 0.0
    lo, hi = float(np.min(audio)), float(np.max(audio))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{what} contains NaN or infinite samples")
    return max(-lo, hi)


def _import_frontend_op():
    from . import import_tensorflow_quietly

    import_tensorflow_quietly()
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op

    return audio_microfrontend_op.audio_microfrontend


def microfrontend(audio: np.ndarray, settings: FrontendSettings = FrontendSettings()) -> np.ndarray:
    """The microfrontend's raw output for one recording: what ``FrontendProcessSamples`` of the C
    library produces on the device, frame by frame, starting from a fresh frontend state.

    Runs TensorFlow's ``audio_microfrontend`` op (which wraps that C library) with
    ``out_type=uint16`` and ``out_scale=1``.

    Args:
        audio: ``(n_samples,)`` int16 PCM, or float audio in [-1, 1] (converted to int16 as
            ``round(audio * 32768)`` clipped to [-32768, 32767]), at ``settings.sample_rate_hz``.
            Usually one clip of ``settings.clip_samples``; a longer recording is processed as one
            stream (the device's continuous state).
        settings: the frontend settings (default: micro_speech's).

    Returns:
        ``(n_frames, n_channels)`` uint16, ``n_frames = 1 + (n_samples - window) // stride``
        (``settings.feature_shape``, (49, 40), for one clip).

    Raises:
        ValueError: ``audio`` is not 1-D, is shorter than one window, is float outside [-1, 1] or
            not finite, or has another dtype.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio has shape {audio.shape}; microfrontend takes one clip "
                         f"(n_samples,) — use keyword_features for a batch (n_clips, n_samples)")
    if len(audio) < settings.window_samples:
        raise ValueError(f"audio has {len(audio)} samples, shorter than one {settings.window_ms} ms "
                         f"window ({settings.window_samples} samples at {settings.sample_rate_hz} Hz)")
    pcm = _as_int16(_check_pcm(audio))
    op = _import_frontend_op()
    import tensorflow as tf

    return op(tf.constant(pcm), out_type=tf.uint16, **settings._op_kwargs()).numpy()


@functools.lru_cache(maxsize=8)
def _batch_graph(settings: FrontendSettings):
    """One traced graph computing ``_CHUNK`` clips; independent ops run in parallel."""
    op = _import_frontend_op()
    import tensorflow as tf

    kwargs = settings._op_kwargs()

    @tf.function(input_signature=[tf.TensorSpec((_CHUNK, settings.clip_samples), tf.int16)])
    def run(chunk):
        return tf.stack([op(clip, out_type=tf.uint16, **kwargs)
                         for clip in tf.unstack(chunk, num=_CHUNK)])

    return run


_COMMON_RATES_HZ = (8000, 11025, 22050, 24000, 32000, 44100, 48000)


def keyword_features(audio: np.ndarray, settings: FrontendSettings = FrontendSettings(), *,
                     progress: bool = False) -> np.ndarray:
    """micro_speech's training features for a batch of clips: microfrontend output × 10/256.

    Same numbers as ``input_data.py``'s ``"micro"`` preprocessing (op with ``out_type=float32``,
    ``out_scale=1``, times :data:`FEATURE_SCALE`), and exactly ``microfrontend(clip, settings) *
    FEATURE_SCALE`` for each clip. Every clip starts from a fresh frontend state, as in training.
    Clips run 64 at a time through one traced TensorFlow graph, whose independent per-clip ops
    TensorFlow runs in parallel on all cores (1,800-4,700 clips/s measured on 2 cores, the
    low end while other jobs ran; the first call adds a few seconds to import and trace).

    Float input is converted with ``round(x * 32768)`` clipped to the int16 range; training's
    ``tf.cast(x * 32768, tf.int16)`` truncates toward zero instead, so the two can differ by one
    int16 step (1/32768 of full scale, -90 dBFS), and a sample of exactly +1.0 (32768, one past
    the int16 range) gives 32767 here.

    Args:
        audio: ``(n_clips, n_samples)`` int16 PCM or float audio in [-1, 1], ``n_samples =
            settings.clip_samples`` (16000: 1000 ms at 16 kHz).
        settings: the frontend settings (default: micro_speech's).
        progress: show a tqdm bar of clips.

    Returns:
        ``(n_clips, n_frames, n_channels)`` float32, ``(n_clips, 49, 40)`` by default;
        non-negative multiples of 10/256: 0 for digital silence, up to about 26 for speech (the
        op's output is "roughly a 0 to 670 range", ``micro_features_generator.cc``).

    Raises:
        ValueError: ``audio`` is not 2-D, its clips are not ``settings.clip_samples`` long (the
            message suggests the sample rate it looks like), or the samples are invalid (see
            :func:`microfrontend`).
    """
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise ValueError(f"audio has shape {audio.shape}; expected a batch (n_clips, n_samples) — "
                         f"for one clip pass audio[np.newaxis]")
    n_clips, n_samples = audio.shape
    if n_samples != settings.clip_samples:
        hint = ""
        for rate in _COMMON_RATES_HZ:
            if n_samples == rate * settings.clip_ms // 1000 and rate != settings.sample_rate_hz:
                hint = (f"; that is {settings.clip_ms} ms at {rate} Hz — resample to "
                        f"{settings.sample_rate_hz} Hz (scipy.signal.resample_poly)")
        raise ValueError(f"clips have {n_samples} samples; the frontend expects "
                         f"{settings.clip_samples} ({settings.clip_ms} ms at "
                         f"{settings.sample_rate_hz} Hz){hint}")
    audio = _check_pcm(audio)
    out = np.empty((n_clips, *settings.feature_shape), dtype=np.float32)
    if n_clips == 0:
        return out
    from tqdm.auto import tqdm

    run = _batch_graph(settings)
    with tqdm(total=n_clips, desc="microfrontend", unit="clip", disable=not progress) as bar:
        for start in range(0, n_clips, _CHUNK):
            chunk = _as_int16(audio[start:start + _CHUNK])  # per chunk: stays in cache
            n = len(chunk)
            if n < _CHUNK:  # pad the last chunk with silence; its extra rows are dropped
                chunk = np.concatenate([chunk, np.zeros((_CHUNK - n, n_samples), np.int16)])
            raw = run(chunk).numpy()[:n]
            out[start:start + n] = raw.astype(np.float32) * np.float32(FEATURE_SCALE)
            bar.update(n)
    return out


def streamed_keyword_features(audio: np.ndarray, settings: FrontendSettings = FrontendSettings(), *,
                              seed: int = 0) -> np.ndarray:
    """Features of every clip as the kit computes them: the clips, in a random order, played back
    to back through ONE microfrontend that never restarts (so its noise estimate and PCAN gain
    carry over from the words before), then each clip's slices cut out of the stream.

    :func:`keyword_features` starts a fresh frontend per clip, as micro_speech's training does;
    the kit's frontend runs continuously (``tmk_kws_runtime.h``), and the two differ most for
    quiet, close recordings. Training on both serves both (``KwsConfig.stream_share``).

    Args:
        audio: ``(n_clips, settings.clip_samples)`` int16 PCM or float audio in [-1, 1].
        settings: the frontend settings; ``clip_samples`` must be a whole number of strides.
        seed: the playing order.

    Returns:
        ``(n_clips, n_frames, n_channels)`` float32 in the order of ``audio`` (same shape and
        scale as :func:`keyword_features`).

    Raises:
        ValueError: ``audio`` is not a batch of ``settings.clip_samples`` clips, the clip is not a
            whole number of strides, or the samples are invalid (see :func:`microfrontend`).
    """
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[1] != settings.clip_samples:
        raise ValueError(f"audio has shape {audio.shape}; expected (n_clips, {settings.clip_samples}) "
                         f"({settings.clip_ms} ms at {settings.sample_rate_hz} Hz)")
    per_clip, rest = divmod(settings.clip_samples, settings.stride_samples)
    if rest:
        raise ValueError(f"a {settings.clip_ms} ms clip is not a whole number of {settings.stride_ms} ms "
                         f"strides, so the clips cannot be cut back out of one stream")
    out = np.empty((len(audio), *settings.feature_shape), dtype=np.float32)
    if len(audio) == 0:
        return out
    order = np.random.default_rng(seed).permutation(len(audio))
    slices = microfrontend(np.concatenate(audio[order]), settings).astype(np.float32) * np.float32(FEATURE_SCALE)
    out[order] = np.stack([slices[k * per_clip:k * per_clip + settings.n_frames] for k in range(len(audio))])
    return out


# ---------------------------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------------------------


def _check_float_audio(audio: np.ndarray, *, batch_ok: bool = True, what: str = "audio") -> np.ndarray:
    audio = np.asarray(audio)
    allowed = (1, 2) if batch_ok else (1,)
    if audio.ndim not in allowed:
        shapes = "(n_samples,) or (n_clips, n_samples)" if batch_ok else "(n_samples,)"
        raise ValueError(f"{what} has shape {audio.shape}; expected {shapes}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"{what} has dtype {audio.dtype}; augmentation works on float audio in "
                         f"[-1, 1] (int16 PCM: divide by 32768)")
    peak = _peak(audio, what)
    if peak > 1.0:
        raise ValueError(f"{what} has peak {peak:g}, outside [-1, 1] full scale (int16 counts "
                         f"stored as float? divide by 32768)")
    return audio.astype(np.float32, copy=False)


def _check_rate(sample_rate_hz: float, what: str = "sample_rate_hz") -> int:
    if int(sample_rate_hz) != sample_rate_hz or sample_rate_hz <= 0:
        raise ValueError(f"{what} must be a positive whole number of Hz, got {sample_rate_hz!r}")
    return int(sample_rate_hz)


def _shift(audio: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Delay each row of ``audio`` (n, n_samples) by ``shifts`` samples (negative: earlier)."""
    n_samples = audio.shape[-1]
    out = np.zeros(audio.shape, dtype=np.float32)
    for row, shift in enumerate(np.clip(shifts, -n_samples, n_samples)):
        if shift >= 0:
            out[row, shift:] = audio[row, :n_samples - shift]
        else:
            out[row, :n_samples + shift] = audio[row, -shift:]
    return out


def time_shift(audio: np.ndarray, max_shift_ms: float, rng: np.random.Generator,
               sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ) -> np.ndarray:
    """Move each clip earlier or later by a random whole number of samples; the gap is filled
    with zeros and what leaves the clip is lost, as ``time_shift`` in tensorflow/tensorflow
    ``tensorflow/examples/speech_commands/input_data.py`` (pad then slice).

    The shift is drawn uniformly from ``[-max_shift, +max_shift]`` samples (both ends included;
    input_data.py's ``np.random.randint`` excludes the upper end), one per clip. Positive shifts
    delay the word.

    Args:
        audio: ``(n_samples,)`` or ``(n_clips, n_samples)`` float audio in [-1, 1].
        max_shift_ms: largest shift, ms (Speech Commands' ``--time_shift_ms`` default: 100).
        rng: the random generator.
        sample_rate_hz: sample rate of ``audio``, Hz.

    Returns:
        float32, same shape as ``audio``, a new array.

    Raises:
        ValueError: ``max_shift_ms`` is negative, ``sample_rate_hz`` is not a positive whole
            number, or ``audio`` is not float audio of a valid shape (see the message).
    """
    audio = _check_float_audio(audio)
    rate = _check_rate(sample_rate_hz)
    if not max_shift_ms >= 0:
        raise ValueError(f"max_shift_ms must be >= 0, got {max_shift_ms!r}")
    max_shift = int(round(max_shift_ms * rate / 1000.0))
    batch = np.atleast_2d(audio)
    shifts = rng.integers(-max_shift, max_shift, size=len(batch), endpoint=True)
    out = _shift(batch, shifts)
    return out if audio.ndim == 2 else out[0]


def _speech_power(batch: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Mean power (full scale² units) of each row's speech frames: 10 ms frames within
    ``_SPEECH_TOP_DB`` of the row's loudest frame. (n, n_samples) → (n,) float64; 0 if silent."""
    frame = max(1, sample_rate_hz * _POWER_FRAME_MS // 1000)
    n_frames = batch.shape[-1] // frame
    if n_frames == 0:  # shorter than one frame: the whole clip is one frame
        return np.mean(np.square(batch), axis=-1, dtype=np.float64)
    frames = batch[:, :n_frames * frame].reshape(len(batch), n_frames, frame)
    power = np.mean(np.square(frames), axis=-1, dtype=np.float64)
    loudest = power.max(axis=1, keepdims=True)
    speech = power >= loudest * 10.0 ** (-_SPEECH_TOP_DB / 10.0)
    with np.errstate(invalid="ignore"):
        mean = np.sum(power * speech, axis=1) / np.maximum(speech.sum(axis=1), 1)
    return np.where(loudest[:, 0] > 0, mean, 0.0)


def _mix_at_snr(batch: np.ndarray, segments: np.ndarray, snr_db: np.ndarray,
                sample_rate_hz: int) -> np.ndarray:
    """Add ``segments`` (n, n_samples) to ``batch`` scaled to ``snr_db`` (n,); clip to [-1, 1]."""
    speech = _speech_power(batch, sample_rate_hz)
    noise = np.mean(np.square(segments), axis=1, dtype=np.float64)
    silent = np.max(np.abs(batch), axis=1) < _SILENT_PEAK
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.sqrt(speech / (noise * 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)))
    gain = np.where(silent, 1.0, gain)
    mixed = batch + gain[:, None].astype(np.float32) * segments
    return np.clip(mixed, -1.0, 1.0, out=mixed)


def _check_noise(noise: np.ndarray, n_samples: int, what: str = "noise") -> np.ndarray:
    noise = _check_float_audio(noise, batch_ok=False, what=what)
    if len(noise) < n_samples:
        raise ValueError(f"{what} has {len(noise)} samples, shorter than the clip's {n_samples}; "
                         f"noise must be at least one clip long")
    if not np.any(np.abs(noise) >= _SILENT_PEAK):
        raise ValueError(f"{what} is silent (peak below one int16 step); it cannot be scaled to an SNR")
    return noise


def mix_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator,
              sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ) -> np.ndarray:
    """Add a random stretch of a longer noise recording at a given signal-to-noise ratio.

    A segment of ``len(audio)`` samples starts at a uniformly drawn offset in ``noise``. It is
    scaled so that ``10 log10(P_speech / P_noise) = snr_db``, where ``P_noise`` is the segment's
    mean power and ``P_speech`` the clip's *speech* power: the mean power of its 10 ms frames
    that are within 40 dB of its loudest frame, so a 1 s clip's silent padding does not lower
    it (40 dB: a course choice, see ``_SPEECH_TOP_DB`` in the source). The sum is clipped to [-1, 1] like ``input_data.py``'s
    ``background_clamp``; the SNR is that before clipping.

    A silent clip (peak below one int16 step, 1/32768: it has no speech power to set an SNR
    against — e.g. a "silence" example) gets the noise segment at its recorded level, unscaled
    (``snr_db`` is then not used).

    Args:
        audio: ``(n_samples,)`` float audio in [-1, 1], one clip.
        noise: ``(n_noise,)`` float audio in [-1, 1], ``n_noise >= n_samples``, e.g. a
            Speech Commands ``_background_noise_`` file at the same sample rate.
        snr_db: target signal-to-noise ratio, dB (may be negative).
        rng: the random generator (draws the segment start).
        sample_rate_hz: sample rate of both, Hz (sets the 10 ms frame).

    Returns:
        ``(n_samples,)`` float32 in [-1, 1].

    Raises:
        ValueError: ``audio`` or ``noise`` is not 1-D float audio in [-1, 1], the noise is shorter
            than the clip or silent, or ``snr_db`` is not finite.
    """
    audio = _check_float_audio(audio, batch_ok=False)
    rate = _check_rate(sample_rate_hz)
    noise = _check_noise(noise, len(audio))
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}")
    start = int(rng.integers(0, len(noise) - len(audio), endpoint=True))
    segment = noise[start:start + len(audio)]
    return _mix_at_snr(audio[None], segment[None], np.array([snr_db]), rate)[0]


def apply_gain(audio: np.ndarray, gain_db: float | np.ndarray) -> np.ndarray:
    """Scale by ``10 ** (gain_db / 20)`` and clip to [-1, 1] (as an ADC saturates at full scale).

    Args:
        audio: ``(n_samples,)`` or ``(n_clips, n_samples)`` float audio in [-1, 1].
        gain_db: gain in dB: a number, or ``(n_clips,)`` (one per clip) for a batch.

    Returns:
        float32, same shape as ``audio``.

    Raises:
        ValueError: ``gain_db`` is not finite or does not have one value per clip, or ``audio``
            is not float audio of a valid shape.
    """
    audio = _check_float_audio(audio)
    gain_db = np.asarray(gain_db, dtype=np.float64)
    if not np.all(np.isfinite(gain_db)):
        raise ValueError(f"gain_db must be finite, got {gain_db!r}")
    if gain_db.ndim == 1:
        if audio.ndim != 2 or len(gain_db) != len(audio):
            raise ValueError(f"gain_db has {len(gain_db)} values; give one number or one per clip "
                             f"of a batch of shape (n_clips, n_samples), audio is {audio.shape}")
        gain_db = gain_db[:, None]
    elif gain_db.ndim != 0:
        raise ValueError(f"gain_db has shape {gain_db.shape}; give a number or (n_clips,)")
    return _gain(audio, gain_db)


def _gain(audio: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    out = audio * (10.0 ** (np.asarray(gain_db) / 20.0)).astype(np.float32)
    return np.clip(out, -1.0, 1.0, out=out)


def _fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Cut or zero-pad the last axis to ``n_samples``, keeping the centre."""
    length = audio.shape[-1]
    if length > n_samples:
        start = (length - n_samples) // 2
        return audio[..., start:start + n_samples]
    if length < n_samples:
        left = (n_samples - length) // 2
        pad = [(0, 0)] * (audio.ndim - 1) + [(left, n_samples - length - left)]
        return np.pad(audio, pad)
    return audio


def band_limit(audio: np.ndarray, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ, to_rate_hz: int = 8000) -> np.ndarray:
    """Remove everything above ``to_rate_hz / 2``, as an 8 kHz (telephone) recording played back
    at 16 kHz: down-sample to ``to_rate_hz`` and back with :func:`scipy.signal.resample_poly`
    (its default Kaiser-windowed anti-aliasing FIR filter).

    The course's real-voice test set (asterisk-core-sounds, recorded at 8 kHz) has nothing above
    4 kHz; training on band-limited copies teaches the model not to depend on that band.

    Args:
        audio: ``(n_samples,)`` or ``(n_clips, n_samples)`` float audio in [-1, 1].
        sample_rate_hz: rate of ``audio``, Hz.
        to_rate_hz: the narrower rate, Hz (``< sample_rate_hz``); the band ends at half of it.

    Returns:
        float32, same shape, clipped to [-1, 1] (the filter's ripple can overshoot slightly).

    Raises:
        ValueError: a rate is not a positive whole number of Hz, ``to_rate_hz >=
            sample_rate_hz``, or ``audio`` is not float audio of a valid shape.
    """
    audio = _check_float_audio(audio)
    rate = _check_rate(sample_rate_hz)
    to_rate = _check_rate(to_rate_hz, "to_rate_hz")
    if to_rate >= rate:
        raise ValueError(f"to_rate_hz = {to_rate} Hz must be below sample_rate_hz = {rate} Hz")
    return _band_limit(audio, rate, to_rate)


def _band_limit(audio: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    ratio = Fraction(to_rate, rate)
    low = resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1)
    back = resample_poly(low, ratio.denominator, ratio.numerator, axis=-1)
    back = back[..., :audio.shape[-1]]
    if back.shape[-1] < audio.shape[-1]:
        back = np.pad(back, [(0, 0)] * (audio.ndim - 1) + [(0, audio.shape[-1] - back.shape[-1])])
    return np.clip(back, -1.0, 1.0).astype(np.float32, copy=False)


#: Speed factors are rounded to a fraction with at most this denominator, so that
#: :func:`scipy.signal.resample_poly`'s up/down factors stay small (0.01 steps are exact).
_SPEED_MAX_DENOMINATOR = 100


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Speed perturbation: play the clip ``factor`` times faster, so speed and pitch change
    together (T. Ko, V. Peddinti, D. Povey, S. Khudanpur, "Audio augmentation for speech
    recognition", Interspeech 2015, which uses factors 0.9, 1.0, 1.1).

    The clip is resampled by ``1 / factor`` with :func:`scipy.signal.resample_poly`
    (``factor`` rounded to a fraction with denominator <= 100), then cut or zero-padded back to
    its length keeping the centre (words in the course's clips are centred).

    Args:
        audio: ``(n_samples,)`` or ``(n_clips, n_samples)`` float audio in [-1, 1].
        factor: > 1 faster and higher (shorter word), < 1 slower and lower; 0.5-2.

    Returns:
        float32, same shape, clipped to [-1, 1].

    Raises:
        ValueError: ``factor`` is outside [0.5, 2] (beyond that speech stops sounding natural and
            a slowed word no longer fits its clip), or ``audio`` is not valid float audio.
    """
    audio = _check_float_audio(audio)
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"speed factor {factor!r} is outside [0.5, 2]")
    return _change_speed(audio, factor)


def _change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    from scipy.signal import resample_poly

    ratio = Fraction(float(factor)).limit_denominator(_SPEED_MAX_DENOMINATOR)
    if ratio == 1:
        return audio.astype(np.float32, copy=True)
    resampled = resample_poly(audio, ratio.denominator, ratio.numerator, axis=-1)
    return np.clip(_fit_length(resampled, audio.shape[-1]), -1.0, 1.0).astype(np.float32, copy=False)


def _band_mask(rng: np.random.Generator, n_clips: int, size: int, n_masks: int,
               max_width: int) -> np.ndarray:
    """(n_clips, size) bool: union of ``n_masks`` bands per clip, widths 1..max_width."""
    if n_masks == 0 or max_width == 0:
        return np.zeros((n_clips, size), dtype=bool)
    widths = rng.integers(1, min(max_width, size), size=(n_clips, n_masks), endpoint=True)
    starts = rng.integers(0, size - widths + 1)
    idx = np.arange(size)
    inside = (idx >= starts[..., None]) & (idx < (starts + widths)[..., None])
    return inside.any(axis=1)


def spec_augment(features: np.ndarray, rng: np.random.Generator, n_time_masks: int = 2,
                 max_time_frames: int = 5, n_freq_masks: int = 2,
                 max_freq_channels: int = 5) -> np.ndarray:
    """SpecAugment's time and frequency masking (D. S. Park et al., "SpecAugment: A Simple Data
    Augmentation Method for Automatic Speech Recognition", Interspeech 2019, arXiv:1904.08779;
    no time warping).

    Each clip gets ``n_time_masks`` bands of consecutive frames and ``n_freq_masks`` bands of
    consecutive channels set to 0. A band's width is drawn uniformly from 1 to the maximum and
    its start uniformly where it fits; bands may overlap. (The paper draws widths from 0; here
    every requested mask masks something.) 0 is the microfrontend's value for silence; the paper
    masks with the mean, which is 0 after its normalisation.

    Args:
        features: ``(n_frames, n_channels)`` or ``(n_clips, n_frames, n_channels)``, e.g. from
            :func:`keyword_features` (49, 40).
        rng: the random generator.
        n_time_masks, max_time_frames: number of time masks and the widest, in frames
            (5 frames = 100 ms at a 20 ms stride).
        n_freq_masks, max_freq_channels: number of frequency masks and the widest, in channels.

    Returns:
        float32, same shape, a new array.

    Raises:
        ValueError: ``features`` is not 2-D or 3-D, or a count or width is negative.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim not in (2, 3):
        raise ValueError(f"features have shape {features.shape}; expected (n_frames, n_channels) "
                         f"or (n_clips, n_frames, n_channels)")
    for name, value in (("n_time_masks", n_time_masks), ("max_time_frames", max_time_frames),
                        ("n_freq_masks", n_freq_masks), ("max_freq_channels", max_freq_channels)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    batch = features[None] if features.ndim == 2 else features
    n_clips, n_frames, n_channels = batch.shape
    time = _band_mask(rng, n_clips, n_frames, int(n_time_masks), int(max_time_frames))
    freq = _band_mask(rng, n_clips, n_channels, int(n_freq_masks), int(max_freq_channels))
    masked = time[:, :, None] | freq[:, None, :]
    out = np.where(masked, np.float32(0), batch).astype(np.float32)
    return out if features.ndim == 3 else out[0]


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random audio augmentation of :func:`augment_clips`.

    Attributes:
        max_shift_ms: time shift drawn from ±this, ms. Default 100: ``--time_shift_ms`` of
            tensorflow/tensorflow ``tensorflow/examples/speech_commands/train.py``.
        noise_probability: share of clips that get noise. Default 0.8: ``--background_frequency``
            of the same ``train.py``.
        snr_db: (low, high) SNR range, dB, drawn uniformly. Default (0, 15): the range of MUSAN
            noise added in D. Snyder et al., "X-vectors: robust DNN embeddings for speaker
            recognition", ICASSP 2018 (Kaldi's ``egs/voxceleb/v2`` recipe).
        gain_db: (low, high) gain range, dB, drawn uniformly. Default (-12, 6): the low end of
            audiomentations' ``Gain`` default (±12 dB,
            https://iver56.github.io/audiomentations/waveform_transforms/gain); the high end is
            6 dB because the course's synthetic clips peak at 0.5 (-6 dBFS) and more would only
            clip them.
        band_limit_probability: share of clips passed through :func:`band_limit`. Default 0.2
            (course choice: one clip in five sounds like the 8 kHz real-voice test set, the rest
            keep the full band the device's microphone hears).
        band_limit_rate_hz: the narrow rate, Hz (8000: telephone speech).
        speed: (low, high) speed factor range, drawn uniformly and rounded to 0.01. Default
            (0.9, 1.1): Ko et al., Interspeech 2015.

    Raises:
        ValueError: a range has low > high, a probability is outside [0, 1], the shift is
            negative, or a speed is outside [0.5, 2].
    """

    max_shift_ms: float = 100.0
    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (0.0, 15.0)
    gain_db: tuple[float, float] = (-12.0, 6.0)
    band_limit_probability: float = 0.2
    band_limit_rate_hz: int = 8000
    speed: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        if not self.max_shift_ms >= 0:
            raise ValueError(f"max_shift_ms must be >= 0, got {self.max_shift_ms!r}")
        for name in ("noise_probability", "band_limit_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("snr_db", "gain_db", "speed"):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
                raise ValueError(f"{name} must be a finite (low, high) range with low <= high, "
                                 f"got {getattr(self, name)!r}")
        if not 0.5 <= self.speed[0] <= self.speed[1] <= 2.0:
            raise ValueError(f"speed range {self.speed} must lie within [0.5, 2]")


def augment_clips(audio: np.ndarray,
                  noise: Sequence[np.ndarray] | Mapping[str, np.ndarray] | None,
                  config: AugmentConfig = AugmentConfig(), seed: int = 0, *,
                  sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ) -> np.ndarray:
    """Augment every clip with its own random setting, drawn from ``config``.

    Order (the path of sound from a speaker to the device):

    1. :func:`change_speed` — how fast the speaker talks (factor from ``config.speed``, 0.01 steps);
    2. time shift — where in the 1 s window the word falls (±``max_shift_ms``, zero fill);
    3. :func:`mix_noise` — room noise at the microphone, with probability ``noise_probability``:
       a noise recording chosen uniformly, a random segment of it, SNR from ``config.snr_db``
       relative to the clip's speech power (silent clips get the noise at its recorded level);
    4. :func:`apply_gain` — microphone / ADC gain on speech and noise together, clipped to [-1, 1];
    5. :func:`band_limit` to ``band_limit_rate_hz``, with probability ``band_limit_probability``.

    Every random number comes from ``np.random.default_rng(seed)``: the same call gives the same
    output.

    Args:
        audio: ``(n_clips, n_samples)`` float audio in [-1, 1] at ``sample_rate_hz``.
        noise: noise recordings, each ``(n_noise_i,)`` float in [-1, 1] and at least ``n_samples``
            long, as a list or a dict (name → array, names are not used); ``None`` or empty only
            if ``config.noise_probability == 0``.
        config: the ranges.
        seed: seed of the draws.
        sample_rate_hz: rate of ``audio`` and ``noise``, Hz.

    Returns:
        ``(n_clips, n_samples)`` float32 in [-1, 1], a new array.

    Raises:
        ValueError: ``audio`` is not a float batch in [-1, 1]; a noise recording is invalid, too
            short or silent (the message names it); or noise is needed but none was given.
    """
    audio = _check_float_audio(audio)
    if audio.ndim != 2:
        raise ValueError(f"audio has shape {audio.shape}; expected (n_clips, n_samples)")
    rate = _check_rate(sample_rate_hz)
    n_clips, n_samples = audio.shape
    items = list(noise.items()) if isinstance(noise, Mapping) else list(enumerate(noise or []))
    noises = [_check_noise(arr, n_samples, what=f"noise[{key!r}]") for key, arr in items]
    if config.noise_probability > 0 and not noises:
        raise ValueError("config.noise_probability > 0 but no noise recordings were given (pass "
                         "noise arrays, or AugmentConfig(noise_probability=0))")
    rng = np.random.default_rng(seed)
    # one setting per clip, all drawn up front
    speeds = np.round(rng.uniform(*config.speed, size=n_clips), 2)
    max_shift = int(round(config.max_shift_ms * rate / 1000.0))
    shifts = rng.integers(-max_shift, max_shift, size=n_clips, endpoint=True)
    with_noise = rng.random(n_clips) < config.noise_probability
    snrs = rng.uniform(*config.snr_db, size=n_clips)
    sources = rng.integers(0, max(len(noises), 1), size=n_clips)
    offsets = rng.random(n_clips)  # where the segment starts, as a share of the free length
    gains = rng.uniform(*config.gain_db, size=n_clips)
    narrow = rng.random(n_clips) < config.band_limit_probability

    out = audio.astype(np.float32, copy=True)
    for factor in np.unique(speeds):
        rows = np.flatnonzero(speeds == factor)
        out[rows] = _change_speed(out[rows], float(factor))
    out = _shift(out, shifts)
    rows = np.flatnonzero(with_noise)
    if len(rows):
        segments = np.empty((len(rows), n_samples), dtype=np.float32)
        for j, i in enumerate(rows):
            source = noises[sources[i]]
            start = int(offsets[i] * (len(source) - n_samples + 1))
            segments[j] = source[start:start + n_samples]
        out[rows] = _mix_at_snr(out[rows], segments, snrs[rows], rate)
    out = _gain(out, gains[:, None])
    rows = np.flatnonzero(narrow)
    if len(rows):
        out[rows] = _band_limit(out[rows], rate, _check_rate(config.band_limit_rate_hz))
    return out
