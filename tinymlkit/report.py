"""Stage 9 — report: does a model fit each kit? Flash and RAM, in bytes and in plain words.
And how well does a keyword spotter work: accuracy per speaker or accent, false accepts and false
rejects (the kit's own post-processing, scores and detections, is :mod:`tinymlkit.kws_runtime`).

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Does it fit?"). A model that does not fit
is a result to report ("needs 300 KB RAM, board has 256 KB"), never a crash.

Keyword spotting: :func:`accuracy_by_group`, :func:`fa_fr_curve` (false-accept / false-reject
rates over thresholds, equal error rate).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from .boards import BoardProfile, load_boards
from .toolchain import CrossCompileError, compile_for_cortex_m4, cortex_m4_command

__all__ = ["FaFrCurve", "FitResult", "GroupAccuracies", "ModelFlash", "TFLITE_BYTES_METHOD",
           "accuracy_by_group", "fa_fr_curve", "fit_check", "fit_report", "format_fit_table",
           "measure_model_flash"]

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
