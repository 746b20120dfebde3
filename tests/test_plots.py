"""Every picture the labs show can be drawn, including from imperfect data."""

import io

import numpy as np

from tinymlkit import plots
from tinymlkit.report import fit_report


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_window_plot_copes_with_missing_samples():
    rec = np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32)
    rec[30:40] = np.nan
    fig = plots.plot_windows(rec, 100, 50, 50.0)
    lo, hi = fig.axes[0].get_ylim()
    assert np.isfinite(lo) and np.isfinite(hi)


def test_every_plot_draws(motion):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 200)
    logits = rng.normal(size=(200, 7))
    figs = [
        plots.plot_recordings_by_class(motion.recordings, motion.labels, motion.class_names, 50.0, seconds=2),
        plots.plot_window_pair(motion.recordings[0][:100], motion.recordings[1][:100], 50.0),
        plots.plot_training_curves({"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}),
        plots.plot_confusion_matrix(y, rng.integers(0, 7, 200), motion.class_names),
        plots.plot_float_vs_int8(logits, logits + 0.1, output_scale=0.1),
        plots.plot_arena({"TfLiteEvalTensor data": 300, "head": 1200, "tail": 900}, 2400, recorded_bytes=2100),
        plots.plot_fit(fit_report(20_000, 300 * 1024)),
    ]
    for fig in figs:
        assert _png(fig)[:4] == b"\x89PNG"
