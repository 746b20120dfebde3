"""Stage 4 — train: seeded, deterministic training and evaluation of Keras models.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Training"). Imports only earlier stages.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

__all__ = ["TrainResult", "set_seed", "train_classifier", "predict_classes"]


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic.

    Called explicitly (``tk.setup(seed=0)`` or by :func:`train_classifier`), never as a side
    effect of import. With the same seed, data and package versions, training on the CPU gives
    the same weights every run (``tf.config.experimental.enable_op_determinism``).
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras.utils.set_random_seed(seed)  # seeds `random`, NumPy and TensorFlow
    tf.config.experimental.enable_op_determinism()


@dataclasses.dataclass
class TrainResult:
    """What training produced.

    Attributes:
        model: the trained ``keras.Model``.
        history: per-epoch metrics, e.g. ``{"loss": [...], "accuracy": [...], "val_accuracy": [...]}``.
        seconds: wall time of ``fit`` in s.
    """

    model: keras.Model
    history: dict[str, list[float]]
    seconds: float


def train_classifier(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, *,
                     epochs: int = 30, batch_size: int = 64, learning_rate: float = 2e-3,
                     validation: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                     progress: bool = True) -> TrainResult:
    """Compile and train a classifier that outputs logits, with Adam and softmax cross-entropy.

    The learning rate decays on a cosine schedule to 0 over all epochs, so the last epoch is
    the final model (no early stopping that would need a peek at test data).

    Args:
        model: a model whose output is ``(None, n_classes)`` logits (no softmax layer).
        x_train: ``(n_windows, window, n_channels)`` float32, already normalised.
        y_train: ``(n_windows,)`` int class indices.
        epochs, batch_size: training length; ``learning_rate`` is the initial Adam step.
        validation: optional ``(x, y)`` evaluated after each epoch for the training curve only
            (it never changes training).
        seed: passed to :func:`set_seed` before training.
        progress: show a tqdm progress bar per epoch (in a notebook or a terminal).

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: ``x_train`` and ``y_train`` lengths differ, or a label is outside the model's
            classes.
    """
    import time

    x_train = np.asarray(x_train, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=np.int64)
    if len(x_train) != len(y_train):
        raise ValueError(f"x_train has {len(x_train)} windows but y_train has {len(y_train)} labels")
    n_classes = int(model.output_shape[-1])
    if y_train.min() < 0 or y_train.max() >= n_classes:
        raise ValueError(f"labels must be 0..{n_classes - 1} for this model, got "
                         f"{y_train.min()}..{y_train.max()}")
    set_seed(seed)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    # 16 steps per call cuts Keras' per-step overhead, which dominates for tiny models on a CPU.
    # (No XLA: Keras disables it under op determinism.)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=16)
    callbacks = []
    if progress:
        from tqdm.keras import TqdmCallback
        callbacks.append(TqdmCallback(verbose=0, desc="training", unit="epoch"))
    start = time.perf_counter()
    hist = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
                     validation_data=validation, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return TrainResult(model=model, history=history, seconds=seconds)


def predict_classes(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class index per window from a float Keras model (argmax of its logits).

    Args:
        x: ``(n_windows, window, n_channels)`` float32, normalised like the training data.

    Returns:
        ``(n_windows,)`` int64.
    """
    logits = model.predict(np.asarray(x, dtype=np.float32), batch_size=batch_size, verbose=0)
    return logits.argmax(axis=1).astype(np.int64)
