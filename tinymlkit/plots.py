"""Pictures for the labs: signals, windows, training curves, confusion matrices, int8 vs float,
tensor arena and kit fit; for keyword spotting, waveforms, spectrograms, microfrontend features,
false-accept / false-reject curves and accuracy per speaker group; for vision, a grid of images;
for anomaly detection, scores over time with the threshold, score histograms and ROC curves.

Every function returns a ``matplotlib.figure.Figure`` (no pyplot state): a notebook shows it when
it is the cell's last expression; ``fig.savefig(path)`` writes it. Used from
``modules/01_pipeline_tour.ipynb`` onwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

if TYPE_CHECKING:
    from .features import FrontendSettings

__all__ = [
    "plot_anomaly_scores",
    "plot_roc",
    "plot_score_histogram",
    "plot_images",
    "plot_accuracy_by_group",
    "plot_arena",
    "plot_fa_fr_curve",
    "plot_keyword_features",
    "plot_spectrogram",
    "plot_waveform",
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
    """Loss and accuracy per epoch (training, and validation if present); loss alone when the
    history has no accuracy (an autoencoder's, :func:`tinymlkit.train.train_autoencoder`)."""
    keys = [k for k in ("loss", "accuracy") if k in history]
    fig = Figure(figsize=(10 if len(keys) > 1 else 5.5, 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for key, ax in zip(keys, axes):
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


# ---------------------------------------------------------------------------------------------
# Keyword spotting
# ---------------------------------------------------------------------------------------------


def _one_clip(audio: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or len(audio) == 0:
        raise ValueError(f"audio has shape {audio.shape}; expected one clip (n_samples,)")
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}")
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32)


def plot_waveform(audio: np.ndarray, sample_rate_hz: float, *, title: str = "") -> Figure:
    """One clip's samples over time, in full-scale units (1.0 = int16 full scale).

    Args:
        audio: ``(n_samples,)`` float in [-1, 1], or int16 (divided by 32768).
        sample_rate_hz: samples per second, Hz, for the time axis in s.
        title: figure title (default: duration, rate and peak in dBFS).

    Raises:
        ValueError: ``audio`` is not one non-empty clip, or the rate is not positive.
    """
    audio = _one_clip(audio, sample_rate_hz)
    t = np.arange(len(audio)) / sample_rate_hz
    fig = Figure(figsize=(9, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(t, audio, color="black", lw=0.6)
    ax.set_xlim(0, len(audio) / sample_rate_hz)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale)")
    ax.grid(alpha=0.3)
    peak = float(np.max(np.abs(audio)))
    peak_text = f"peak {20 * np.log10(peak):.1f} dBFS" if peak > 0 else "silent"
    ax.set_title(title or f"{1000 * len(audio) / sample_rate_hz:.0f} ms at {sample_rate_hz:g} Hz, "
                          f"{peak_text}")
    return fig


def plot_spectrogram(audio: np.ndarray, sample_rate_hz: float, *, title: str = "") -> Figure:
    """Power spectral density over time, dB, from :func:`scipy.signal.spectrogram`.

    Hann windows of 30 ms with a 10 ms hop (the microfrontend's window length; a finer hop than
    its 20 ms for a smoother picture). dB are relative to 1 (full scale)² per Hz.

    Args:
        audio: ``(n_samples,)`` float in [-1, 1], or int16 (divided by 32768).
        sample_rate_hz: samples per second, Hz.
        title: figure title.

    Raises:
        ValueError: ``audio`` is not one non-empty clip, or the rate is not positive.
    """
    from scipy.signal import spectrogram

    audio = _one_clip(audio, sample_rate_hz)
    nperseg = min(len(audio), max(8, int(round(0.030 * sample_rate_hz))))
    hop = max(1, int(round(0.010 * sample_rate_hz)))
    freqs, times, power = spectrogram(audio, fs=sample_rate_hz, window="hann", nperseg=nperseg,
                                      noverlap=max(0, nperseg - hop), scaling="density",
                                      mode="psd")
    db = 10 * np.log10(power + 1e-12)  # 1e-12: -120 dB floor for digital silence
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.subplots()
    vmax = float(db.max())
    mesh = ax.pcolormesh(times, freqs, db, shading="auto", cmap="magma", vmin=vmax - 90, vmax=vmax)
    fig.colorbar(mesh, ax=ax, label="power spectral density (dB re 1/Hz)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(title or f"spectrogram, {sample_rate_hz:g} Hz (30 ms Hann windows)")
    return fig


def plot_keyword_features(features: np.ndarray, labels: Sequence[str] | None = None, *,
                          settings: FrontendSettings | None = None, stride_ms: float = 20.0,
                          max_clips: int = 8, title: str = "") -> Figure:
    """Microfrontend features of several clips side by side, as images: time (ms) across,
    filterbank channel (low to high frequency) up, one colour scale for all.

    Args:
        features: ``(n_frames, n_channels)`` or ``(n_clips, n_frames, n_channels)``, e.g. from
            :func:`tinymlkit.features.keyword_features` (49, 40).
        labels: one title per clip (e.g. the word), optional.
        settings: the :class:`tinymlkit.features.FrontendSettings` used; its ``stride_ms`` sets
            the time axis and its band the channel-axis label. Without it, ``stride_ms`` is used.
        stride_ms: hop between frames, ms, when ``settings`` is not given.
        max_clips: draw at most this many (the first ones).
        title: figure title.

    Raises:
        ValueError: ``features`` is not 2-D or 3-D, ``labels`` has a different length, or the
            stride is not positive.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim == 2:
        features = features[None]
    if features.ndim != 3 or features.shape[0] == 0:
        raise ValueError(f"features have shape {features.shape}; expected (n_frames, n_channels) "
                         f"or (n_clips, n_frames, n_channels)")
    if labels is not None and len(labels) != len(features):
        raise ValueError(f"{len(labels)} labels for {len(features)} clips")
    stride = settings.stride_ms if settings is not None else stride_ms
    if not stride > 0:
        raise ValueError(f"stride_ms must be > 0, got {stride!r}")
    shown = features[:max(1, int(max_clips))]
    n_clips, n_frames, n_channels = shown.shape
    fig = Figure(figsize=(max(6.0, 1.4 + 2.4 * n_clips), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_clips, sharey=True, squeeze=False)[0])
    vmax = float(shown.max()) or 1.0
    for k, ax in enumerate(axes):
        image = ax.imshow(shown[k].T, origin="lower", aspect="auto", cmap="viridis", vmin=0,
                          vmax=vmax, interpolation="nearest",
                          extent=(0, n_frames * stride, -0.5, n_channels - 0.5))
        ax.set_xlabel("time (ms)")
        if labels is not None:
            ax.set_title(str(labels[k]))
    axes[0].set_ylabel("filterbank channel")
    fig.colorbar(image, ax=list(axes), label="feature value")
    band = (f", {settings.lower_band_hz:g}-{settings.upper_band_hz:g} Hz mel-spaced"
            if settings is not None else "")
    more = f", first {n_clips} of {len(features)} clips" if len(features) > n_clips else ""
    fig.suptitle(title or f"microfrontend features: {n_frames} frames × {n_channels} channels"
                          f"{band}{more}")
    return fig


def _equal_error_rate(thresholds: np.ndarray, fa: np.ndarray, fr: np.ndarray) -> tuple[float, float]:
    """(threshold, rate) where FA and FR cross, by linear interpolation between the two points
    around the first sign change of FA - FR (sorted by threshold); if they never cross, the point
    where they are closest, with the mean of the two rates."""
    diff = fa - fr
    crossing = np.flatnonzero(np.diff(np.sign(diff)) != 0)
    if len(crossing) == 0 or diff[crossing[0]] == diff[crossing[0] + 1]:
        i = int(np.argmin(np.abs(diff)))
        return float(thresholds[i]), float((fa[i] + fr[i]) / 2)
    i = int(crossing[0])
    w = diff[i] / (diff[i] - diff[i + 1])
    return (float(thresholds[i] + w * (thresholds[i + 1] - thresholds[i])),
            float(fa[i] + w * (fa[i + 1] - fa[i])))


def plot_fa_fr_curve(thresholds: np.ndarray, false_accept_rate: np.ndarray,
                     false_reject_rate: np.ndarray, *, chosen_threshold: float | None = None,
                     title: str = "") -> Figure:
    """Keyword-spotting error trade-off: false-accept and false-reject rates (%) against the
    detection threshold (left), and false rejects against false accepts (right), with the equal
    error rate (where the two rates are equal) marked.

    Args:
        thresholds: ``(n,)`` detection thresholds (e.g. scores 0-1), any order.
        false_accept_rate: ``(n,)`` share of non-keyword clips accepted at each threshold, a
            fraction in [0, 1] (drawn in %).
        false_reject_rate: ``(n,)`` share of keyword clips rejected, a fraction in [0, 1].
        chosen_threshold: the threshold in use, drawn with its rates (interpolated).
        title: figure title.

    Raises:
        ValueError: the arrays are not 1-D of one length >= 2, contain NaN, or a rate is outside
            [0, 1] (percentages must be divided by 100).
    """
    thr = np.asarray(thresholds, dtype=np.float64)
    fa = np.asarray(false_accept_rate, dtype=np.float64)
    fr = np.asarray(false_reject_rate, dtype=np.float64)
    if not (thr.ndim == fa.ndim == fr.ndim == 1 and len(thr) == len(fa) == len(fr) >= 2):
        raise ValueError(f"thresholds, false_accept_rate and false_reject_rate must be 1-D of one "
                         f"length >= 2, got shapes {thr.shape}, {fa.shape}, {fr.shape}")
    if not (np.all(np.isfinite(thr)) and np.all(np.isfinite(fa)) and np.all(np.isfinite(fr))):
        raise ValueError("thresholds and rates must be finite numbers (no NaN)")
    for name, rate in (("false_accept_rate", fa), ("false_reject_rate", fr)):
        if rate.min() < 0 or rate.max() > 1:
            raise ValueError(f"{name} ranges {rate.min():g}-{rate.max():g}; rates are fractions "
                             f"in [0, 1] (divide percentages by 100)")
    order = np.argsort(thr, kind="stable")
    thr, fa, fr = thr[order], fa[order], fr[order]
    eer_thr, eer = _equal_error_rate(thr, fa, fr)
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax, ax_trade = fig.subplots(1, 2, width_ratios=(1.6, 1))
    ax.plot(thr, 100 * fa, color="tab:red", label="false accepts")
    ax.plot(thr, 100 * fr, color="tab:blue", label="false rejects")
    ax.plot([eer_thr], [100 * eer], "ko", label=f"equal error rate {100 * eer:.1f} % at {eer_thr:.3g}")
    ax_trade.plot(100 * fa, 100 * fr, color="black")
    ax_trade.plot([100 * eer], [100 * eer], "ko", label=f"EER {100 * eer:.1f} %")
    if chosen_threshold is not None:
        c_fa = float(np.interp(chosen_threshold, thr, fa))
        c_fr = float(np.interp(chosen_threshold, thr, fr))
        ax.axvline(chosen_threshold, color="tab:green", ls="--",
                   label=f"chosen {chosen_threshold:.3g}: FA {100 * c_fa:.1f} %, FR {100 * c_fr:.1f} %")
        ax_trade.plot([100 * c_fa], [100 * c_fr], "s", color="tab:green", label="chosen threshold")
    ax.set_xlabel("detection threshold")
    ax.set_ylabel("rate (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title(title or "false accepts and false rejects against the threshold")
    lim = max(100 * fa.max(), 100 * fr.max(), 1.0) * 1.05
    ax_trade.plot([0, lim], [0, lim], color="grey", lw=0.8, ls=":", label="FA = FR")
    ax_trade.set_xlim(0, lim)
    ax_trade.set_ylim(0, lim)
    ax_trade.set_aspect("equal")
    ax_trade.set_xlabel("false accept rate (%)")
    ax_trade.set_ylabel("false reject rate (%)")
    ax_trade.grid(alpha=0.3)
    ax_trade.legend(fontsize=8)
    ax_trade.set_title("trade-off")
    return fig


def plot_accuracy_by_group(accuracy: Mapping[str, float], counts: Mapping[str, int] | None = None,
                           *, title: str = "") -> Figure:
    """Accuracy per group (e.g. per speaker or per accent) as horizontal bars, worst at the top,
    with the overall accuracy as a line (weighted by ``counts`` when given).

    Args:
        accuracy: group name → accuracy as a fraction in [0, 1] (drawn in %).
        counts: group name → number of test clips, written next to each bar; must cover every
            group of ``accuracy``.
        title: figure title.

    Raises:
        ValueError: ``accuracy`` is empty, a value is outside [0, 1], or ``counts`` misses a group
            or has a negative count.
    """
    if not accuracy:
        raise ValueError("accuracy is empty; give at least one group")
    values = {str(k): float(v) for k, v in accuracy.items()}
    bad = {k: v for k, v in values.items() if not 0.0 <= v <= 1.0}
    if bad:
        raise ValueError(f"accuracies must be fractions in [0, 1] (divide percentages by 100); "
                         f"got {bad}")
    if counts is not None:
        missing = sorted(set(accuracy) - set(counts))
        if missing:
            raise ValueError(f"counts has no entry for group(s) {missing}")
        if any(counts[k] < 0 for k in accuracy):
            raise ValueError("counts must be >= 0")
    names = sorted(values, key=lambda k: (values[k], k))  # worst first
    acc = np.array([values[k] for k in names])
    fig = Figure(figsize=(8, 0.9 + 0.32 * len(names)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y, 100 * acc, color="tab:blue")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    for yi, name, a in zip(y, names, acc):
        note = f"{100 * a:.0f} %" + (f" (n={counts[name]})" if counts is not None else "")
        ax.text(min(100 * a + 1, 101), yi, note, va="center", fontsize=8)
    if counts is not None and sum(counts[k] for k in names) > 0:
        weights = np.array([counts[k] for k in names], dtype=np.float64)
        overall, what = float(np.sum(acc * weights) / weights.sum()), "overall"
    else:
        overall, what = float(acc.mean()), "mean of groups"
    ax.axvline(100 * overall, color="tab:red", ls="--", label=f"{what}: {100 * overall:.1f} %")
    ax.set_xlim(0, 115)
    ax.set_xlabel("accuracy (%)")
    fig.legend(loc="outside lower right", fontsize=8)
    ax.set_title(title or f"accuracy per group ({len(names)} groups)")
    return fig


def plot_tradeoff(names: Sequence[str], model_bytes: Sequence[int], accuracy: Sequence[float],
                  arena_bytes: Sequence[int], *,
                  compressed_bytes: Mapping[str, int] | None = None, title: str = "") -> Figure:
    """Size vs accuracy of several versions of a model, the tensor arena as marker area.

    Used in ``modules/06_model_optimization.ipynb``. Each model is one labelled point at
    (``.tflite`` kB, accuracy %); a marker's area grows with its arena. Where
    ``compressed_bytes`` gives a model's zlib-compressed size, a hollow marker joined by a dotted
    line shows it too (storage or download size; the kit still needs the uncompressed bytes).

    Args:
        names: one label per model.
        model_bytes: ``.tflite`` size per model, bytes (> 0).
        accuracy: accuracy per model as a fraction in [0, 1] (drawn in %).
        arena_bytes: TFLM tensor arena per model, bytes (> 0).
        compressed_bytes: optional model name → compressed size in bytes.
        title: figure title.

    Raises:
        ValueError: the sequences differ in length or are empty, a size is not positive, an
            accuracy is outside [0, 1], or ``compressed_bytes`` names an unknown model.
    """
    names = [str(n) for n in names]
    size = np.asarray(model_bytes, dtype=np.float64)
    acc = np.asarray(accuracy, dtype=np.float64)
    arena = np.asarray(arena_bytes, dtype=np.float64)
    if not names or not len(names) == len(size) == len(acc) == len(arena):
        raise ValueError(f"give one value per model: {len(names)} names, {len(size)} sizes, "
                         f"{len(acc)} accuracies, {len(arena)} arenas")
    if np.any(size <= 0) or np.any(arena <= 0):
        raise ValueError("model_bytes and arena_bytes must be positive byte counts")
    if np.any((acc < 0) | (acc > 1)):
        raise ValueError(f"accuracies must be fractions in [0, 1] (divide percentages by 100); "
                         f"got {acc.tolist()}")
    unknown = sorted(set(compressed_bytes or {}) - set(names))
    if unknown:
        raise ValueError(f"compressed_bytes names model(s) {unknown} that are not in names")
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    area = 400 * arena / arena.max()
    colors = [f"C{i % 10}" for i in range(len(names))]
    for i, name in enumerate(names):
        ax.scatter(size[i] / 1000, 100 * acc[i], s=area[i], color=colors[i], alpha=0.7,
                   edgecolor="black", label=f"{name} (arena {arena[i] / 1000:.1f} kB)")
        ax.annotate(name, (size[i] / 1000, 100 * acc[i]), textcoords="offset points",
                    xytext=(8, 6), fontsize=8)
        if compressed_bytes and name in compressed_bytes:
            small = compressed_bytes[name] / 1000
            ax.scatter(small, 100 * acc[i], s=area[i], facecolor="none", edgecolor=colors[i])
            ax.plot([small, size[i] / 1000], [100 * acc[i]] * 2, ls=":", color=colors[i])
    ax.set_xlabel(".tflite size (kB; hollow = zlib-compressed)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", markerscale=0.5)
    ax.set_title(title or "size vs accuracy (marker area = tensor arena)")
    return fig


__all__.append("plot_tradeoff")  # appended with the function (module 06), not edited above


def plot_images(images: np.ndarray, titles: Sequence[str] | None = None, *, columns: int = 6,
                title: str = "", size_in: float = 1.6) -> Figure:
    """Grayscale images in a grid, each with an optional caption (label, score, prediction).

    Args:
        images: ``(n, height, width)`` uint8 pixels (0 black, 255 white) or float (shown from its
            own minimum to maximum, e.g. a convolution's output).
        titles: one caption per image, or None.
        columns: images per row.
        title: the figure's title.
        size_in: width of one image, inches.

    Returns:
        A Figure.

    Raises:
        ValueError: not ``(n, height, width)``, no image, or a caption count that differs.
    """
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images: expected (n, height, width), got shape {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    columns = max(1, min(int(columns), len(images)))
    rows = -(-len(images) // columns)
    aspect = images.shape[1] / images.shape[2]
    fig = Figure(figsize=(size_in * columns, size_in * aspect * rows + (0.5 if title else 0.2) + 0.25 * rows),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k >= len(images):
            continue
        image = images[k]
        if image.dtype == np.uint8:
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(image, cmap="gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_anomaly_scores(scores: np.ndarray, threshold: float, *, anomalous: np.ndarray | None = None,
                        time_s: np.ndarray | None = None, kinds: np.ndarray | None = None,
                        title: str = "", ylabel: str = "anomaly score") -> Figure:
    """Anomaly scores over time with the alarm threshold: what a person watching the kit sees.

    Args:
        scores: ``(n,)`` scores in time order (or example order).
        threshold: the alarm threshold (a dashed line; points above it are alarms).
        anomalous: optional ``(n,)`` bool truth; anomalous examples are drawn in red.
        time_s: optional ``(n,)`` times in s for the x axis (default: example index).
        kinds: optional ``(n,)`` kind of each example (``"normal"``, ``"fault:stuck_axis"`` ...):
            each kind gets its own colour and legend entry (instead of ``anomalous``).
        title, ylabel: labels.

    Raises:
        ValueError: the arrays differ in length or a score is not finite.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    x = np.arange(len(s)) if time_s is None else np.asarray(time_s, dtype=np.float64).ravel()
    for name, arr in (("time_s", time_s), ("anomalous", anomalous), ("kinds", kinds)):
        if arr is not None and len(np.ravel(arr)) != len(s):
            raise ValueError(f"{name} has {len(np.ravel(arr))} values for {len(s)} scores")
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax = fig.subplots()
    if kinds is not None:
        kinds = np.asarray(kinds)
        for k, kind in enumerate(dict.fromkeys(kinds.tolist())):
            pick = kinds == kind
            ax.plot(x[pick], s[pick], ".", ms=4, color="tab:blue" if kind == "normal" else f"C{k + 1}",
                    label=f"{kind} ({int(pick.sum())})")
    elif anomalous is not None:
        a = np.asarray(anomalous, dtype=bool).ravel()
        ax.plot(x, s, "-", color="grey", lw=0.6)
        ax.plot(x[~a], s[~a], ".", color="tab:blue", label="normal")
        ax.plot(x[a], s[a], "o", color="tab:red", label="anomalous (labelled)")
    else:
        ax.plot(x, s, ".-", color="tab:blue", lw=0.6)
    alarms = int((s > threshold).sum())
    ax.axhline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.3g} ({alarms} alarms)")
    if s.min() > 0 and s.max() / max(s.min(), 1e-12) > 100:
        ax.set_yscale("log")
    ax.set_xlabel("example" if time_s is None else "time (s)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", ncols=2)
    ax.set_title(title or "anomaly score over time")
    return fig


def plot_score_histogram(normal_scores: np.ndarray, anomalous_scores: np.ndarray, threshold: float, *,
                         title: str = "") -> Figure:
    """Histograms of normal and anomalous scores with the threshold: how much they overlap.

    Args:
        normal_scores, anomalous_scores: 1-D scores.
        threshold: the alarm threshold.
        title: figure title.

    Raises:
        ValueError: either set is empty.
    """
    a, b = np.asarray(normal_scores, float).ravel(), np.asarray(anomalous_scores, float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("need at least one normal and one anomalous score")
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    log = lo > 0 and hi / lo > 100
    bins = np.geomspace(lo, hi, 40) if log else np.linspace(lo, hi, 40)
    ax.hist(a, bins=bins, alpha=0.6, color="tab:blue", label=f"normal ({a.size})")
    ax.hist(b, bins=bins, alpha=0.6, color="tab:red", label=f"anomalous ({b.size})")
    ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.3g}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("examples")
    ax.legend(fontsize=8)
    ax.set_title(title or "normal and anomalous scores")
    return fig


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], *,
             marks: Mapping[str, tuple[float, float]] | None = None, title: str = "") -> Figure:
    """ROC curves of one or more detectors: detection rate against false-alarm rate.

    Args:
        curves: ``{name: (fpr, tpr, auc)}``, e.g. from :class:`tinymlkit.anomaly.ScoreReport`
            (``report.fpr, report.tpr, report.auc``); rates are fractions in [0, 1].
        marks: optional ``{name: (false_alarm_rate, detection_rate)}`` operating points (the
            chosen thresholds), drawn as squares.
        title: figure title.

    Raises:
        ValueError: no curve, or a curve's arrays differ in length or leave [0, 1].
    """
    if not curves:
        raise ValueError("give at least one curve")
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.subplots()
    for k, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        fpr, tpr = np.asarray(fpr, float), np.asarray(tpr, float)
        if fpr.shape != tpr.shape or fpr.min() < 0 or tpr.max() > 1 or fpr.max() > 1 or tpr.min() < 0:
            raise ValueError(f"curve {name!r}: fpr and tpr must be equal-length fractions in [0, 1]")
        ax.plot(fpr, tpr, color=f"C{k}", label=f"{name} (AUC {auc:.3f})")
        if marks and name in marks:
            ax.plot([marks[name][0]], [marks[name][1]], "s", color=f"C{k}")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="guessing (AUC 0.5)")
    ax.set_xlabel("false-alarm rate (normal examples flagged)")
    ax.set_ylabel("detection rate (anomalies flagged)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "ROC curve")
    return fig
