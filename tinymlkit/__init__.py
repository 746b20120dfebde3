"""TinyML Lab Kit: the course's helper package, one module per pipeline stage.

    errors, files, i18n, labels, native (bottom) → keywords → audio_sources → datasets → images →
    audio_features → kit_audio → features → models → train → quantize → image_features →
    optimize → tflm → model_settings → op_resolver → export → vision → anomaly → toolchain → boards → report → kws_runtime →
    class_pool → protocol → board_link → microphone → capture → eim_runner → edgeimpulse →
    simboard → plots → widgets → pipeline → doctor → translations → cli

A module imports only modules before it in this order (tests/test_conventions.py checks it). Notebooks start with::

    import tinymlkit as tk
    tk.setup(seed=0)

and then call ``tk.datasets.load_motion()``, ``tk.features.sliding_windows(...)``, and so on.
Submodules load on first use, so ``import tinymlkit`` is fast and does not start TensorFlow.
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

_SUBMODULES = ("errors", "files", "i18n", "labels", "native", "keywords", "audio_sources", "datasets", "images",
               "audio_features", "kit_audio", "features", "models", "train", "quantize", "image_features",
               "optimize", "tflm", "model_settings", "op_resolver", "export", "vision", "anomaly", "toolchain", "boards", "report",
               "kws_runtime", "class_pool", "protocol", "board_link", "microphone", "capture",
               "eim_runner", "edgeimpulse", "simboard", "plots", "widgets", "pipeline", "doctor", "translations", "cli")
__all__ = ["setup", "import_tensorflow_quietly", "quiet_tensorflow", "__version__", *_SUBMODULES]


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ logs (set before TensorFlow is imported).

    Level 3 also hides C++ "errors" such as tf.data's harmless op-version notes; real failures
    still raise Python exceptions with their message.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow without its start-up lines on stderr (absl prints them before any log
    level applies).

    Raises:
        ImportError: TensorFlow is missing or broken; the message includes what it printed.
    """
    quiet_tensorflow()
    from .native import captured_fd2

    failure = None
    with captured_fd2() as native:
        try:
            import tensorflow  # noqa: F401
        except Exception as exc:  # report below, with what the native code printed
            failure = exc
    if failure is not None:
        raise ImportError(f"TensorFlow could not be imported ({failure}). Reinstall the course "
                          f"environment with 'make setup'. It printed:\n{native.text[-2000:]}") from failure


def _show_figures_inline() -> None:
    """In a Jupyter kernel, display returned Matplotlib figures as PNG (tinymlkit.plots returns
    plain ``Figure`` objects, which Jupyter only renders once this formatter is registered)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def setup(seed: int = 0) -> None:
    """Prepare a notebook or script: quiet TensorFlow logs, show figures inline in Jupyter, seed
    every random generator and make TensorFlow deterministic (see :func:`tinymlkit.train.set_seed`).

    Call it once, explicitly, at the top of every notebook; importing tinymlkit seeds nothing.

    Args:
        seed: the seed for Python, NumPy and TensorFlow.
    """
    import_tensorflow_quietly()
    _show_figures_inline()
    from .train import set_seed

    set_seed(seed)


def __getattr__(name: str):
    if name in _SUBMODULES:
        quiet_tensorflow()
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinymlkit' has no attribute {name!r}")
