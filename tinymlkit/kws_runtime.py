"""Keyword runtime: what the kit does with the model's outputs, in Python — int8 logits to
scores (0..255), the streaming detector that averages them and announces a keyword, and a whole
audio stream run as the kit runs it (microfrontend → int8 → TFLM → scores → detector).

:func:`logits_to_scores` and :class:`KeywordDetector` / :func:`detect_keywords` are the Python
reference of ``tmk::LogitsToScores`` and ``tmk::KeywordRecognizer``
(hardware/libraries/TinyMLKit/src/tmk_kws.h), which ``tests/test_kws_native.py`` checks give
exactly the same integers. Taught in lab 05 (detections in a stream) and module 04.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .model_settings import MAX_KEYWORD_CLASSES, MAX_KEYWORD_RESULTS, frontend_to_int8, score_exp_table
from .features import microfrontend
from .quantize import QuantParams
from .tflm import predict_int8

__all__ = ["Detection", "KeywordDecision", "KeywordDetector", "detect_in_stream", "detect_keywords",
           "logits_to_scores", "probabilities_to_scores"]


# --- keyword spotting: scores and streaming detection, as the kit computes them -------------

def logits_to_scores(logits, output_quant: QuantParams) -> np.ndarray:
    """int8 logits → uint8 scores 0..255 (≈ softmax probability × 256) by the kit's integer
    softmax (``tmk::LogitsToScores``), bit for bit.

    With ``T = tinymlkit.export.score_exp_table(output_quant.scale)`` and, per row,
    ``e_k = T[max(q) - q_k]`` and ``S = sum_k e_k``:
    ``score_k = min(255, (256 * e_k + S // 2) // S)`` (integer arithmetic).

    Args:
        logits: ``(n_classes,)`` or ``(n, n_classes)`` int8 raw model outputs.
        output_quant: the output tensor's scale and zero point (the zero point cancels).

    Returns:
        uint8 array of the same shape.

    Raises:
        ValueError: ``logits`` is not int8.
    """
    q = np.asarray(logits)
    if q.dtype != np.int8:
        raise ValueError(f"logits must be int8 raw model outputs, got {q.dtype}")
    table = score_exp_table(output_quant.scale).astype(np.int64)
    q2 = q.reshape(-1, q.shape[-1]).astype(np.int64)
    e = table[q2.max(axis=1, keepdims=True) - q2]
    total = e.sum(axis=1, keepdims=True)
    scores = np.minimum(255, (256 * e + total // 2) // total)
    return scores.astype(np.uint8).reshape(q.shape)


def probabilities_to_scores(probabilities) -> np.ndarray:
    """Float probabilities in [0, 1] → uint8 scores ``clip(round(p * 256), 0, 255)`` (round half
    to even), the scale of an int8 softmax output (scale 1/256, zero point -128) plus 128.

    Raises:
        ValueError: a value is outside [0, 1] or not finite.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("probabilities must be in [0, 1]")
    return np.clip(np.round(p * 256), 0, 255).astype(np.uint8)


@dataclasses.dataclass(frozen=True)
class KeywordDecision:
    """What :meth:`KeywordDetector.process` (and ``tmk::KeywordRecognizer::Process``) decided.

    Attributes:
        time_ms: the time given, ms.
        ready: False while too few results are averaged (fewer than ``minimum_count``, or they
            span less than a quarter of the averaging window); then ``top_index`` is -1 and
            ``score`` 0.
        top_index: class with the highest averaged score (the first on a tie).
        score: its averaged score, 0..255.
        is_new: True when this is a detection (see :class:`KeywordDetector`).
    """

    time_ms: int
    ready: bool
    top_index: int
    score: int
    is_new: bool


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected keyword.

    Attributes:
        time_ms: when (the time of the result that triggered it), ms.
        index: class index.
        label: class name (``str(index)`` when no labels were given).
        score: averaged score 0..255 (≈ probability × 256).
    """

    time_ms: int
    index: int
    label: str
    score: int


_U32 = 0xFFFFFFFF


class KeywordDetector:
    """Streaming post-processing of a keyword spotter: the Python reference of
    ``tmk::KeywordRecognizer`` (bit-exact; ``tests/test_kws_native.py``).

    After micro_speech's RecognizeCommands (tflite-micro
    tensorflow/lite/micro/examples/micro_speech/recognize_commands.cc). Each call gives the uint8
    scores of one model run and its time; then, in integer arithmetic:

    1. Times are uint32 ms and compared modulo 2**32 (``millis()`` wraps); a time earlier than the
       previous one (a difference of 2**31 or more) is an error.
    2. The result is stored; if :data:`MAX_RESULTS` are already stored the oldest is dropped.
       Results older than ``average_window_ms`` (``now - t > average_window_ms``) are dropped.
    3. Not ready (no decision) while fewer than ``minimum_count`` results are stored or the oldest
       is less than ``average_window_ms // 4`` ms old.
    4. Average per class: ``sum of scores // number of results``; the top class is the first
       maximum.
    5. A detection (``is_new``) when the top class is a keyword (not ``silence_index`` or
       ``unknown_index``), its average is ``>= threshold`` and either it differs from the last
       detected keyword or more than ``suppression_ms`` passed since that detection.

    Differences from micro_speech, on purpose: the threshold test is ``>=`` (micro_speech: ``>``;
    its threshold 200 is this 201); silence and unknown are never detections; a full queue drops
    its oldest result (micro_speech refuses the newest).

    Args:
        n_classes: classes per score row, 1..:data:`MAX_CATEGORIES`.
        average_window_ms: averaging window, ms (> 0).
        threshold: averaged score 0..255 a keyword needs.
        suppression_ms: the same keyword is not detected again within this many ms (>= 0).
        minimum_count: fewest results to average (>= 1).
        silence_index, unknown_index: classes never detected, or None.

    Raises:
        ValueError: an argument is out of range.
    """

    #: Results kept (tmk_kws.h ``KeywordRecognizer::kMaxResults``).
    MAX_RESULTS = MAX_KEYWORD_RESULTS
    #: Classes handled (tmk_kws.h ``KeywordRecognizer::kMaxCategories``).
    MAX_CATEGORIES = MAX_KEYWORD_CLASSES

    def __init__(self, n_classes: int, *, average_window_ms: int = 1000, threshold: int = 200,
                 suppression_ms: int = 1500, minimum_count: int = 3,
                 silence_index: int | None = None, unknown_index: int | None = None):
        if not 1 <= n_classes <= self.MAX_CATEGORIES:
            raise ValueError(f"n_classes must be 1..{self.MAX_CATEGORIES}, got {n_classes}")
        if average_window_ms <= 0 or minimum_count < 1 or suppression_ms < 0:
            raise ValueError("average_window_ms must be > 0, minimum_count >= 1, suppression_ms >= 0")
        if not 0 <= threshold <= 255:
            raise ValueError(f"threshold is a score 0..255, got {threshold}")
        for name, v in (("silence_index", silence_index), ("unknown_index", unknown_index)):
            if v is not None and not 0 <= v < n_classes:
                raise ValueError(f"{name}={v} is not a class index (0..{n_classes - 1})")
        self.n_classes = int(n_classes)
        self.average_window_ms = int(average_window_ms)
        self.threshold = int(threshold)
        self.suppression_ms = int(suppression_ms)
        self.minimum_count = int(minimum_count)
        self.non_keywords = {v for v in (silence_index, unknown_index) if v is not None}
        self.reset()

    def reset(self) -> None:
        """Forget every result and the last detection."""
        self._times: list[int] = []
        self._scores: list[np.ndarray] = []
        self._last_time: int | None = None
        self._last_index = -1
        self._last_detection_ms = 0

    def process(self, scores, time_ms: int) -> KeywordDecision:
        """Add one result and decide.

        Args:
            scores: ``(n_classes,)`` uint8 scores of one model run (ints 0..255).
            time_ms: its time, ms, 0..2**32-1, not earlier than the previous call's.

        Returns:
            A :class:`KeywordDecision`.

        Raises:
            ValueError: wrong number of scores, a score outside 0..255, or a time earlier than
                the previous one.
        """
        row = np.asarray(scores, dtype=np.int64).ravel()
        if row.shape != (self.n_classes,) or row.min() < 0 or row.max() > 255:
            raise ValueError(f"scores must be {self.n_classes} values in 0..255")
        now = int(time_ms)
        if not 0 <= now <= _U32:
            raise ValueError(f"time_ms must be a uint32, got {time_ms}")
        if self._last_time is not None and ((now - self._last_time) & _U32) >= 2 ** 31:
            raise ValueError(f"time {now} ms is earlier than the previous {self._last_time} ms")
        self._last_time = now
        if len(self._times) == self.MAX_RESULTS:
            self._times.pop(0)
            self._scores.pop(0)
        self._times.append(now)
        self._scores.append(row)
        while self._times and ((now - self._times[0]) & _U32) > self.average_window_ms:
            self._times.pop(0)
            self._scores.pop(0)
        count = len(self._times)
        if count < self.minimum_count or ((now - self._times[0]) & _U32) < self.average_window_ms // 4:
            return KeywordDecision(now, False, -1, 0, False)
        average = np.sum(self._scores, axis=0) // count
        top = int(np.argmax(average))
        score = int(average[top])
        is_new = (top not in self.non_keywords and score >= self.threshold
                  and (top != self._last_index
                       or ((now - self._last_detection_ms) & _U32) > self.suppression_ms))
        if is_new:
            self._last_index, self._last_detection_ms = top, now
        return KeywordDecision(now, True, top, score, bool(is_new))


def detect_keywords(scores, step_ms: int, *, labels=None, output_quant: QuantParams | None = None,
                    average_window_ms: int = 1000, threshold: int = 200, suppression_ms: int = 1500,
                    minimum_count: int = 3, silence_index: int | None = None,
                    unknown_index: int | None = None, start_ms: int = 0) -> list[Detection]:
    """Run a stream of model outputs through :class:`KeywordDetector`, as the kit does.

    Args:
        scores: ``(n_steps, n_classes)`` model outputs, one row per model run, ``step_ms`` apart:
            uint8 scores 0..255; or int8 raw logits (``output_quant`` required: converted by
            :func:`logits_to_scores`, as the kit does); or float probabilities in [0, 1]
            (:func:`probabilities_to_scores`).
        step_ms: ms between rows (the kit: ``invoke_every_slices * stride_ms``, e.g. 40).
        labels: class names for :attr:`Detection.label` (default: the index as text).
        output_quant: the output tensor's params, for int8 logits.
        average_window_ms, threshold, suppression_ms, minimum_count, silence_index,
            unknown_index: see :class:`KeywordDetector`.
        start_ms: time of the first row, ms (the kit: the end of its first full window).

    Returns:
        The detections in time order.

    Raises:
        ValueError: ``scores`` is not 2-D, int8 without ``output_quant``, an unsupported dtype,
            ``step_ms`` is negative, or ``labels`` has the wrong length.
    """
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be (n_steps, n_classes), got shape {s.shape}")
    if s.dtype == np.int8:
        if output_quant is None:
            raise ValueError("int8 scores are raw logits: pass output_quant (the model's output "
                             "scale and zero point) to turn them into scores")
        s = logits_to_scores(s, output_quant)
    elif np.issubdtype(s.dtype, np.floating):
        s = probabilities_to_scores(s)
    elif s.dtype != np.uint8:
        raise ValueError(f"scores must be uint8, int8 or float, got {s.dtype}")
    if step_ms < 0:
        raise ValueError(f"step_ms must not be negative, got {step_ms}")
    if labels is not None and len(labels) != s.shape[1]:
        raise ValueError(f"{len(labels)} labels for {s.shape[1]} classes")
    detector = KeywordDetector(s.shape[1], average_window_ms=average_window_ms,
                               threshold=threshold, suppression_ms=suppression_ms,
                               minimum_count=minimum_count, silence_index=silence_index,
                               unknown_index=unknown_index)
    found = []
    for i, row in enumerate(s):
        d = detector.process(row, (int(start_ms) + i * int(step_ms)) & _U32)
        if d.is_new:
            name = str(labels[d.top_index]) if labels is not None else str(d.top_index)
            found.append(Detection(d.time_ms, d.top_index, name, d.score))
    return found


def detect_in_stream(model_bytes: bytes, audio: np.ndarray, settings) -> list[Detection]:
    """Run a keyword model over a long recording the way ``kws_inference`` does on the kit, on the
    laptop: one continuous microfrontend over the whole stream (its noise estimate and gain adapt
    as on the device), a new int8 feature slice every ``stride_ms``
    (:func:`tinymlkit.export.frontend_to_int8`), the model on the last ``n_frames`` slices every
    ``invoke_every_slices`` slices (in TFLM, or LiteRT where TFLM is missing), then
    :func:`detect_keywords` with the settings' threshold, averaging and suppression.

    Args:
        model_bytes: the int8 ``.tflite`` keyword model.
        audio: ``(n_samples,)`` float32 in [-1, 1] or int16, at ``settings.sample_rate_hz``
            (longer than one model window: ``n_frames * stride_ms`` ms plus a window).
        settings: the model's :class:`tinymlkit.export.KeywordModelSettings`.

    Returns:
        The detections in time order; ``Detection.time_ms`` is the end of the model window that
        triggered it, ms from the start of ``audio``.

    Raises:
        ValueError: the audio is shorter than one model window, or not valid audio (see
            :func:`tinymlkit.features.microfrontend`).
    """

    slices = frontend_to_int8(microfrontend(audio, settings.frontend),
                              settings.feature_scale,
                              settings.input_quant)
    n, every = settings.n_frames, settings.invoke_every_slices
    if len(slices) < n:
        raise ValueError(f"the stream gives {len(slices)} feature slices; the model needs {n} "
                         f"({n * settings.stride_ms} ms of audio)")
    ends = np.arange(n, len(slices) + 1, every)
    windows = np.stack([slices[e - n:e] for e in ends])
    logits, _ = predict_int8(model_bytes, windows)
    # slice k covers samples [k*stride, k*stride + window): a window of slices ending at e ends at
    start_ms = int((n - 1) * settings.stride_ms + settings.window_ms)
    return detect_keywords(logits, every * settings.stride_ms, labels=settings.labels,
                           output_quant=settings.output_quant,
                           average_window_ms=settings.average_window_ms,
                           threshold=settings.detection_threshold,
                           suppression_ms=settings.suppression_ms,
                           minimum_count=settings.minimum_count,
                           silence_index=settings.silence_index,
                           unknown_index=settings.unknown_index, start_ms=start_ms)
