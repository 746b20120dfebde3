"""Stage 9 — report: does a model fit each kit? Flash and RAM, in bytes and in plain words.
And how well does a keyword spotter work: accuracy per speaker or accent, false accepts and false
rejects, and the detections the kit's streaming post-processing makes.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Does it fit?"). A model that does not fit
is a result to report ("needs 300 KB RAM, board has 256 KB"), never a crash.

Keyword spotting: :func:`accuracy_by_group`, :func:`fa_fr_curve` (false-accept / false-reject
rates over thresholds, equal error rate), :func:`logits_to_scores` and :class:`KeywordDetector` /
:func:`detect_keywords` — the Python reference of ``tmk::LogitsToScores`` and
``tmk::KeywordRecognizer`` (hardware/libraries/TinyMLKit/src/tmk_kws.h), which
``tests/test_kws_native.py`` checks give exactly the same integers.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from .boards import BoardProfile, load_boards
from .export import MAX_KEYWORD_CLASSES, MAX_KEYWORD_RESULTS, frontend_to_int8, score_exp_table
from .quantize import QuantParams
from .toolchain import CrossCompileError, compile_for_cortex_m4, cortex_m4_command
from .features import microfrontend
from .tflm import predict_int8

__all__ = ["Detection", "FaFrCurve", "FitResult", "GroupAccuracies", "KeywordDecision",
           "KeywordDetector", "ModelFlash", "TFLITE_BYTES_METHOD", "accuracy_by_group",
           "detect_keywords", "fa_fr_curve", "fit_check", "fit_report", "format_fit_table",
           "logits_to_scores", "measure_model_flash", "probabilities_to_scores"]

#: ``ModelFlash.method`` when the size is the ``.tflite`` file's (no cross compiler).
TFLITE_BYTES_METHOD = "tflite-bytes"


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The fit of one model on one board.

    Attributes:
        board_id, board_name: which board.
        fits: True when both flash and RAM suffice.
        flash_bytes: flash the deployed program needs (runtime + model), bytes.
        ram_bytes: RAM it needs (runtime + tensor arena + the sketch's sample buffer), bytes.
        flash_available_bytes, ram_available_bytes: what the board has, bytes.
        message: one sentence for a student.
    """

    board_id: str
    board_name: str
    fits: bool
    flash_bytes: int
    ram_bytes: int
    flash_available_bytes: int
    ram_available_bytes: int
    message: str


def _kb(n: int) -> str:
    """Bytes as KB below 1 MB, MB below 1 GB, else GB (1 KB = 1024 B)."""
    if n < 1024 ** 2:
        return f"{n / 1024:,.0f} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:,.0f} MB"
    return f"{n / 1024 ** 3:,.1f} GB"


def fit_check(board: BoardProfile, model_bytes: int, arena_bytes: int, buffer_bytes: int = 0) -> FitResult:
    """Check one model against one board's budget.

    Args:
        board: a :class:`~tinymlkit.boards.BoardProfile`.
        model_bytes: flash the model takes, bytes: the ``.tflite`` flatbuffer's size, or the
            compiled ``model_data.cc`` from :func:`measure_model_flash`.
        arena_bytes: the tensor arena the sketch allocates, bytes
            (:func:`tinymlkit.export.sketch_arena_bytes` of the measured one, as the pipelines pass).
        buffer_bytes: other RAM the sketch needs for this model, e.g. the float window buffer
            ``window * channels * 4``, bytes.

    Returns:
        A :class:`FitResult` (``fits`` False with a message when it does not fit).

    Raises:
        ValueError: a size is negative.
    """
    if min(model_bytes, arena_bytes, buffer_bytes) < 0:
        raise ValueError("sizes must not be negative")
    flash = board.runtime_flash_bytes + int(model_bytes)
    ram = board.runtime_ram_bytes + int(arena_bytes) + int(buffer_bytes)
    problems = []
    if flash > board.flash_bytes:
        problems.append(f"needs {_kb(flash)} flash, board has {_kb(board.flash_bytes)}")
    if ram > board.ram_bytes:
        problems.append(f"needs {_kb(ram)} RAM, board has {_kb(board.ram_bytes)}")
    if problems:
        message = f"does not fit: {'; '.join(problems)}"
    else:
        message = (f"fits: {_kb(flash)} of {_kb(board.flash_bytes)} flash "
                   f"({100 * flash / board.flash_bytes:.0f}%), {_kb(ram)} of "
                   f"{_kb(board.ram_bytes)} RAM ({100 * ram / board.ram_bytes:.0f}%)")
    return FitResult(board.board_id, board.name, not problems, flash, ram, board.flash_bytes,
                     board.ram_bytes, message)


def fit_report(model_bytes: int, arena_bytes: int, buffer_bytes: int = 0,
               boards: dict[str, BoardProfile] | None = None) -> dict[str, FitResult]:
    """:func:`fit_check` on every board (default: all of ``boards.toml``); ``{board_id: FitResult}``."""
    boards = boards if boards is not None else load_boards()
    return {bid: fit_check(b, model_bytes, arena_bytes, buffer_bytes) for bid, b in boards.items()}


def format_fit_table(results: dict[str, FitResult]) -> str:
    """A plain-text table, one board per line, for terminals and notebooks."""
    width = max(len(r.board_name) for r in results.values())
    return "\n".join(f"  {'✔' if r.fits else '✘'} {r.board_name:<{width}}  {r.message}"
                     for r in results.values())


@dataclasses.dataclass(frozen=True)
class ModelFlash:
    """How much flash the model array takes on a kit, and how that was found.

    Attributes:
        flash_bytes: bytes of flash (text + data) of the compiled ``model_data.cc``, or the
            ``.tflite`` size when it could not be compiled.
        method: the compile command (``"arm-none-eabi-g++ -mcpu=cortex-m4 ..."``) or
            ``"tflite-bytes"``.
        note: why the fallback was used ("" when compiled).
    """

    flash_bytes: int
    method: str
    note: str = ""


def measure_model_flash(model_source: str | pathlib.Path, tflite_bytes: int) -> ModelFlash:
    """Flash of the exported model array, compiled for the Cortex-M4F when the toolchain exists.

    Compiles ``model_data.cc`` with :func:`tinymlkit.toolchain.compile_for_cortex_m4` (the array, its
    16-byte alignment and its size constant, as the sketch links them); without
    ``arm-none-eabi-g++``, or if the compile fails, falls back to the ``.tflite`` size, which is
    what the array holds.

    Args:
        model_source: the exported ``model_data.cc`` (its ``model_data.h`` beside it).
        tflite_bytes: size of the ``.tflite`` flatbuffer, bytes (the fallback).

    Returns:
        A :class:`ModelFlash`.
    """
    try:
        sizes = compile_for_cortex_m4([model_source])
    except CrossCompileError as exc:
        return ModelFlash(int(tflite_bytes), TFLITE_BYTES_METHOD, str(exc).splitlines()[0])
    return ModelFlash(sizes.flash_bytes, cortex_m4_command())



# --- keyword spotting: accuracy per group ----------------------------------------------------

class GroupAccuracies(dict):
    """``{group: accuracy}`` — a ``dict[str, float]`` in sorted group order — plus the counts.

    Attributes:
        counts: ``{group: number of clips}``.
        correct: ``{group: number of correctly classified clips}``.
    """

    def __init__(self, accuracies: dict[str, float], counts: dict[str, int], correct: dict[str, int]):
        """Build from the three dicts (same keys)."""
        super().__init__(accuracies)
        self.counts = dict(counts)
        self.correct = dict(correct)

    def worst(self) -> tuple[str, float]:
        """The group with the lowest accuracy (the first in sorted order on a tie) and that
        accuracy.

        Raises:
            ValueError: there are no groups.
        """
        if not self:
            raise ValueError("no groups")
        key = min(self, key=lambda k: (self[k], k))
        return key, self[key]


def accuracy_by_group(y_true, y_pred, groups) -> GroupAccuracies:
    """Accuracy of each group of clips: per speaker, or per accent — one grouping per call.

    Each clip belongs to exactly one group, so the groups' clips never mix: a speaker's accuracy
    counts only that speaker's clips. (To compare accents, call again with the accent of each
    clip; do not concatenate speaker and accent names into one array.) Uses
    ``sklearn.metrics.accuracy_score`` per group.

    Args:
        y_true: ``(n,)`` true class of each clip (int indexes or label strings).
        y_pred: ``(n,)`` predicted class, same kind as ``y_true``.
        groups: ``(n,)`` group of each clip (speaker id, accent name, ...; ints or strings, all
            of one type). Keys of the result are ``str(group)``.

    Returns:
        :class:`GroupAccuracies`: ``{group: accuracy in [0, 1]}`` sorted by group, with
        ``.counts`` and ``.correct``.

    Raises:
        ValueError: the arrays are not 1-D of the same non-zero length, or groups mix types
            (e.g. ``1`` and ``"1"``, which would fall into one key).
    """
    from sklearn.metrics import accuracy_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    groups = np.asarray(groups)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape or groups.shape != y_true.shape:
        raise ValueError(f"y_true, y_pred and groups must be 1-D of one length, got shapes "
                         f"{y_true.shape}, {y_pred.shape}, {groups.shape}")
    if len(y_true) == 0:
        raise ValueError("no clips")
    if groups.dtype == object and len({type(g) for g in groups}) > 1:
        raise ValueError(f"groups mix types {sorted({type(g).__name__ for g in groups})}: use "
                         "one kind of group id per call")
    keys = np.array([str(g) for g in groups])
    accuracies, counts, correct = {}, {}, {}
    for key in sorted(set(keys)):
        mask = keys == key
        accuracies[key] = float(accuracy_score(y_true[mask], y_pred[mask]))
        counts[key] = int(mask.sum())
        correct[key] = int(np.sum(y_true[mask] == y_pred[mask]))
    return GroupAccuracies(accuracies, counts, correct)


# --- keyword spotting: false accepts, false rejects ------------------------------------------

@dataclasses.dataclass(frozen=True)
class FaFrCurve:
    """False-accept and false-reject rates of a keyword spotter over detection thresholds.

    Definitions (clip-level, one decision per clip, as the kit decides: the top class must be a
    keyword and its probability at least the threshold ``t``):

    * a clip is **accepted as keyword k** when ``k = argmax(p)`` (the first on a tie), ``k`` is a
      keyword class and ``p[k] >= t``;
    * **false accept**: a non-keyword clip (silence, unknown words) accepted as any keyword;
      ``false_accept_rate = false accepts / non-keyword clips``;
    * **false reject**: a keyword clip not accepted as its own keyword (another class is on top,
      or its probability is below ``t``); ``false_reject_rate = false rejects / keyword clips``;
    * **wrong keyword**: a keyword clip accepted as another keyword (it is also a false reject);
      ``wrong_keyword_rate = wrong keywords / keyword clips``. With
      ``wrong_keyword_is_false_accept=True`` these also count as false accepts and
      ``false_accept_rate = (false accepts + wrong keywords) / all clips``.

    Attributes:
        thresholds: ``(m,)`` float64 probability thresholds, ascending; the last is just above
            1 (nothing accepted).
        false_accept_rate, false_reject_rate, wrong_keyword_rate: ``(m,)`` float64 in [0, 1].
        eer: equal error rate: where the FA and FR curves cross, linearly interpolated between the
            two neighbouring thresholds.
        eer_threshold: the threshold at that crossing (interpolated the same way).
        n_keyword_clips, n_non_keyword_clips: clip counts (the denominators).
        wrong_keyword_is_false_accept: which false-accept definition was used.
    """

    thresholds: np.ndarray
    false_accept_rate: np.ndarray
    false_reject_rate: np.ndarray
    wrong_keyword_rate: np.ndarray
    eer: float
    eer_threshold: float
    n_keyword_clips: int
    n_non_keyword_clips: int
    wrong_keyword_is_false_accept: bool = False

    def at(self, threshold: float) -> tuple[float, float]:
        """``(false_accept_rate, false_reject_rate)`` at the largest stored threshold
        ``<= threshold`` (the curve is a step function between stored thresholds).

        Raises:
            ValueError: ``threshold`` is below the first stored threshold.
        """
        i = int(np.searchsorted(self.thresholds, threshold, side="right")) - 1
        if i < 0:
            raise ValueError(f"threshold {threshold} is below the curve's first threshold "
                             f"{self.thresholds[0]}")
        return float(self.false_accept_rate[i]), float(self.false_reject_rate[i])


def fa_fr_curve(probabilities, y_true, keyword_classes, thresholds=None, *,
                wrong_keyword_is_false_accept: bool = False) -> FaFrCurve:
    """False-accept / false-reject rates over thresholds, and the equal error rate.

    See :class:`FaFrCurve` for the exact definitions. Without ``wrong_keyword_is_false_accept``,
    ``(false_accept_rate, 1 - false_reject_rate)`` is the ROC curve of the binary problem "is this
    a correct keyword detection" (``sklearn.metrics.roc_curve`` gives the same points;
    ``tests/test_kws_model.py`` checks it).

    Args:
        probabilities: ``(n, n_classes)`` float class probabilities in [0, 1] (a float softmax
            of the dequantized logits, or ``scores / 256``).
        y_true: ``(n,)`` int true class index of each clip.
        keyword_classes: indexes of the keyword classes (the others — silence, unknown — are
            non-keywords).
        thresholds: probability thresholds to evaluate (sorted and de-duplicated); default: 0,
            every distinct probability a clip could be accepted with, and a value just above 1.

    Returns:
        A :class:`FaFrCurve`.

    Raises:
        ValueError: wrong shapes, probabilities outside [0, 1], a class index out of range, no
            keyword classes, or no keyword clip or no non-keyword clip (a rate would be 0/0).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y_true)
    if p.ndim != 2 or y.shape != (len(p),) or len(p) == 0:
        raise ValueError(f"probabilities must be (n, n_classes) and y_true (n,), got {p.shape} "
                         f"and {y.shape}")
    n_classes = p.shape[1]
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probabilities must be in [0, 1] (apply a softmax to logits first)")
    y = y.astype(np.int64)
    keywords = np.unique(np.asarray(list(keyword_classes), dtype=np.int64))
    if len(keywords) == 0:
        raise ValueError("keyword_classes is empty")
    for name, idx in (("y_true", y), ("keyword_classes", keywords)):
        if idx.min() < 0 or idx.max() >= n_classes:
            raise ValueError(f"{name} has a class index outside 0..{n_classes - 1}")
    is_kw_clip = np.isin(y, keywords)
    n_kw, n_non = int(is_kw_clip.sum()), int((~is_kw_clip).sum())
    if n_kw == 0 or n_non == 0:
        raise ValueError(f"need keyword clips and non-keyword clips, got {n_kw} and {n_non}")
    top = np.argmax(p, axis=1)
    top_p = p[np.arange(len(p)), top]
    top_is_kw = np.isin(top, keywords)
    if thresholds is None:
        t = np.unique(np.concatenate([[0.0], top_p[top_is_kw], [np.nextafter(1.0, 2.0)]]))
    else:
        t = np.unique(np.asarray(thresholds, dtype=np.float64).ravel())
        if len(t) == 0 or not np.all(np.isfinite(t)):
            raise ValueError("thresholds must be finite numbers")
    accepted = top_is_kw[:, None] & (top_p[:, None] >= t[None, :])  # (n, m)
    false_accepts = np.sum(accepted & ~is_kw_clip[:, None], axis=0)
    correct = accepted & (top == y)[:, None] & is_kw_clip[:, None]
    wrong = accepted & (top != y)[:, None] & is_kw_clip[:, None]
    fr = 1.0 - np.sum(correct, axis=0) / n_kw
    wk = np.sum(wrong, axis=0) / n_kw
    if wrong_keyword_is_false_accept:
        fa = (false_accepts + np.sum(wrong, axis=0)) / (n_kw + n_non)
    else:
        fa = false_accepts / n_non
    eer, eer_t = _equal_error_rate(t, fa, fr)
    return FaFrCurve(t, fa.astype(np.float64), fr.astype(np.float64), wk.astype(np.float64),
                     eer, eer_t, n_kw, n_non, bool(wrong_keyword_is_false_accept))


def _equal_error_rate(t: np.ndarray, fa: np.ndarray, fr: np.ndarray) -> tuple[float, float]:
    """Where FA (non-increasing in t) meets FR (non-decreasing), linearly interpolated."""
    d = fa - fr  # non-increasing
    below = np.nonzero(d <= 0)[0]
    if len(below) == 0:  # FA above FR everywhere: the closest point is the last
        return float((fa[-1] + fr[-1]) / 2), float(t[-1])
    i = int(below[0])
    if i == 0 or d[i] == 0:
        return float((fa[i] + fr[i]) / 2), float(t[i])
    a = d[i - 1] / (d[i - 1] - d[i])
    return float(fa[i - 1] + a * (fa[i] - fa[i - 1])), float(t[i - 1] + a * (t[i] - t[i - 1]))


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

    slices = frontend_to_int8(microfrontend(audio, settings.frontend_settings()),
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
