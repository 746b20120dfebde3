"""Pictures for the labs: signals, windows, training curves, confusion matrices, int8 vs float,
tensor arena and kit fit.

Every function returns a ``matplotlib.figure.Figure`` (no pyplot state): a notebook shows it when
it is the cell's last expression; ``fig.savefig(path)`` writes it. Used from
``modules/01_pipeline_tour.ipynb`` onwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

__all__ = [
    "plot_arena",
    "plot_window_pair",
    "plot_confusion_matrix",
    "plot_fit",
    "plot_float_vs_int8",
    "plot_recordings_by_class",
    "plot_take",
    "plot_training_curves",
    "plot_windows",
]

_CHANNEL_COLORS = ("tab:red", "tab:green", "tab:blue", "tab:orange", "tab:olive", "tab:cyan")


def plot_recordings_by_class(recordings: Sequence[np.ndarray], labels: np.ndarray,
                             class_names: Sequence[str], sample_rate_hz: float, *,
                             channel_names: Sequence[str] = ("ax", "ay", "az", "wx", "wy", "wz"),
                             seconds: float = 8.0, pick: Sequence[int] | None = None) -> Figure:
    """One panel per class with the first ``seconds`` of one recording: accelerometer left,
    gyroscope right.

    Args:
        recordings: ``(n_samples_i, 6)`` arrays; ``labels`` their class indices.
        class_names: class names in index order.
        sample_rate_hz: to label the time axis in s.
        pick: which recording to show per class (default: the first of each class).
    """
    n = len(class_names)
    if pick is None:
        pick = [int(np.flatnonzero(np.asarray(labels) == c)[0]) for c in range(n)]
    fig = Figure(figsize=(11, 1.7 * n), layout="constrained")
    axes = fig.subplots(n, 2, sharex=True, squeeze=False)
    n_show = int(seconds * sample_rate_hz)
    for row, i in enumerate(pick):
        rec = recordings[i][:n_show]
        t = np.arange(len(rec)) / sample_rate_hz
        for col, chans in enumerate((range(0, 3), range(3, 6))):
            ax = axes[row, col]
            for c in chans:
                ax.plot(t, rec[:, c], color=_CHANNEL_COLORS[c], lw=0.9, label=channel_names[c])
            ax.set_ylabel(f"{class_names[labels[i]]}\n{'g' if col == 0 else 'rad/s'}")
            ax.grid(alpha=0.3)
    axes[0, 0].set_title("accelerometer")
    axes[0, 1].set_title("gyroscope")
    for col in range(2):
        axes[0, col].legend(loc="upper right", ncol=3, fontsize=8)
        axes[-1, col].set_xlabel("time (s)")
    return fig


def plot_windows(recording: np.ndarray, window: int, stride: int, sample_rate_hz: float, *,
                 channel: int = 0, n_windows: int = 4, title: str = "") -> Figure:
    """One channel of a recording with the first ``n_windows`` windows drawn as shaded spans."""
    span = window + (n_windows - 1) * stride
    sig = recording[: span + window // 2, channel]
    t = np.arange(len(sig)) / sample_rate_hz
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(t, sig, color="black", lw=1)
    lo, hi = float(np.nanmin(sig)), float(np.nanmax(sig))  # recordings may have NaN gaps
    pad = 0.08 * (hi - lo or 1)
    for k in range(n_windows):
        start = k * stride / sample_rate_hz
        ax.axvspan(start, start + window / sample_rate_hz, ymin=0.05 + 0.22 * k, ymax=0.25 + 0.22 * k,
                   color=f"C{k}", alpha=0.35, label=f"window {k}")
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("time (s)")
    ax.set_title(title or f"windows of {window} samples, stride {stride} samples")
    ax.legend(loc="upper right", fontsize=8, ncol=n_windows)
    return fig


def plot_take(values: np.ndarray, sample_rate_hz: float, *,
              channel_names: Sequence[str] = ("ax", "ay", "az", "wx", "wy", "wz"),
              units: Sequence[str] = ("g", "g", "g", "rad/s", "rad/s", "rad/s"),
              title: str = "") -> Figure:
    """One recorded take: accelerometer channels left, gyroscope channels right (or one panel
    per unit for other sensors).

    Args:
        values: ``(n_samples, n_channels)`` float, in ``units``.
        sample_rate_hz: samples per second, for the time axis in s.
        channel_names, units: one per column.
        title: figure title.

    Raises:
        ValueError: ``values`` is not 2-D with one column per channel name.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(channel_names):
        raise ValueError(f"take has shape {values.shape}, expected (n_samples, {len(channel_names)})")
    groups = list(dict.fromkeys(units))
    fig = Figure(figsize=(10, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(groups)))
    t = np.arange(len(values)) / sample_rate_hz
    for ax, unit in zip(axes, groups):
        for c, (name, u) in enumerate(zip(channel_names, units)):
            if u == unit:
                ax.plot(t, values[:, c], lw=1, label=name, color=_CHANNEL_COLORS[c % len(_CHANNEL_COLORS)])
        ax.set_xlabel("time (s)")
        ax.set_ylabel(unit)
        ax.legend(loc="upper right", fontsize=8, ncol=3)
    fig.suptitle(title or f"{len(values)} samples at {sample_rate_hz:g} Hz")
    return fig


def plot_window_pair(left: np.ndarray, right: np.ndarray, sample_rate_hz: float, *,
                     titles: Sequence[str] = ("original", "turned sensor (augmented)"),
                     channel_names: Sequence[str] = ("ax", "ay", "az", "wx", "wy", "wz")) -> Figure:
    """Two IMU windows side by side (accelerometer on top, gyroscope below), e.g. a window before
    and after augmentation, or a misclassified window next to one of the class it was taken for.

    Args:
        left, right: ``(window, 6)`` arrays in sensor units.
        titles: the two panel titles.
    """
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, sharey="row")
    t = np.arange(len(left)) / sample_rate_hz
    for col, (data, title) in enumerate(zip((left, right), titles)):
        for row, chans in enumerate((range(0, 3), range(3, 6))):
            for c in chans:
                axes[row, col].plot(t, data[:, c], color=_CHANNEL_COLORS[c], lw=1, label=channel_names[c])
            axes[row, col].grid(alpha=0.3)
        axes[0, col].set_title(title)
        axes[1, col].set_xlabel("time (s)")
    axes[0, 0].set_ylabel("g")
    axes[1, 0].set_ylabel("rad/s")
    axes[0, 1].legend(loc="upper right", ncol=3, fontsize=8)
    axes[1, 1].legend(loc="upper right", ncol=3, fontsize=8)
    return fig


def plot_training_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    """Loss and accuracy per epoch (training, and validation if present)."""
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(history[key], label="training")
        if f"val_{key}" in history:
            ax.plot(history[f"val_{key}"], label="unseen subjects")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], *,
                          title: str = "") -> Figure:
    """Row-normalised confusion matrix (each row: where one true class went), with counts."""
    labels = np.arange(len(class_names))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    fig = Figure(figsize=(6.2, 5.4), layout="constrained")
    ax = fig.subplots()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    ConfusionMatrixDisplay(share, display_labels=list(class_names)).plot(
        ax=ax, values_format=".2f", cmap="Blues", colorbar=False)
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title or f"accuracy {acc:.3f} on {cm.sum()} windows")
    return fig


def plot_float_vs_int8(float_logits: np.ndarray, int8_logits: np.ndarray, *,
                       output_scale: float | None = None) -> Figure:
    """Scatter of every class logit: float model vs int8 model (dequantized).

    Args:
        float_logits, int8_logits: ``(n_windows, n_classes)`` float; points on the diagonal
            mean int8 reproduced the float model.
        output_scale: the int8 output's scale, to state the size of one int8 step.
    """
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(float_logits.ravel(), int8_logits.ravel(), s=4, alpha=0.3)
    lo = float(min(float_logits.min(), int8_logits.min()))
    hi = float(max(float_logits.max(), int8_logits.max()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--")
    ax.set_xlabel("float32 model logit")
    ax.set_ylabel("int8 model logit (dequantized)")
    agree = np.mean(float_logits.argmax(1) == int8_logits.argmax(1))
    step = f", one int8 step = {output_scale:.4f}" if output_scale else ""
    ax.set_title(f"same top class in {agree:.1%} of windows{step}")
    ax.grid(alpha=0.3)
    return fig


def plot_arena(breakdown: Mapping[str, int], arena_bytes: int, budget_bytes: int | None = None,
               recorded_bytes: int | None = None) -> Figure:
    """Bar chart of what the tensor arena holds, with the minimum that works and the kit's budget.

    Args:
        breakdown: ``ArenaReport.breakdown`` (bytes per kind, plus ``head``/``tail``).
        arena_bytes: the smallest arena that works, bytes.
        budget_bytes: optional RAM the kit leaves for the arena, bytes.
        recorded_bytes: TFLM's recorded total; the rest of ``arena_bytes`` is shown as the
            interpreter's own objects, which the recording does not count.
    """
    items = [(k, v) for k, v in breakdown.items() if k not in ("head", "tail")]
    if recorded_bytes is not None and arena_bytes > recorded_bytes:
        items.append(("interpreter objects (not recorded)", arena_bytes - recorded_bytes))
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.subplots()
    names = [k for k, _ in items] + (["activations (head)"] if "head" in breakdown else [])
    values = [v for _, v in items] + ([breakdown["head"]] if "head" in breakdown else [])
    ax.barh(names, values, color="tab:blue")
    ax.axvline(arena_bytes, color="tab:red", label=f"smallest arena that works: {arena_bytes:,} B")
    if budget_bytes:
        ax.axvline(budget_bytes, color="tab:green", ls="--", label=f"kit budget: {budget_bytes:,} B")
    ax.set_xlabel("bytes")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("tensor arena: persistent data (tail) and activations (head)")
    return fig


def plot_fit(results: Mapping[str, object]) -> Figure:
    """Share of flash and RAM a deployed model needs on each kit (red above 100 %)."""
    fig = Figure(figsize=(9, 0.6 + 0.55 * len(results)), layout="constrained")
    ax = fig.subplots()
    names = [r.board_name for r in results.values()]
    flash = [100 * r.flash_bytes / r.flash_available_bytes for r in results.values()]
    ram = [100 * r.ram_bytes / r.ram_available_bytes for r in results.values()]
    y = np.arange(len(names))
    ax.barh(y - 0.2, flash, height=0.4, label="flash", color=["tab:red" if v > 100 else "tab:blue" for v in flash])
    ax.barh(y + 0.2, ram, height=0.4, label="RAM", color=["tab:red" if v > 100 else "tab:orange" for v in ram])
    ax.axvline(100, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("% of the kit's memory used (runtime + model)")
    ax.legend(loc="lower right")
    return fig
