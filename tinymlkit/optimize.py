"""Stage 5b — optimize: quantization-aware training (QAT), magnitude pruning and knowledge
distillation for the course's small CNNs.

Taught in ``modules/06_model_optimization.ipynb``. Imports only earlier stages (models, train,
quantize).

**Why two Keras versions.** The course builds Keras 3 models (:mod:`tinymlkit.models`).
TensorFlow Model Optimization (``tensorflow-model-optimization``, tfmot 0.8) wraps only
``tf_keras`` (Keras 2) layers, and its default 8-bit QAT registry has no ``Conv1D`` (it is
commented out in ``default_8bit_quantize_registry.py``; ``Conv2D`` + batch-norm folding is
supported). So QAT and pruning work on a ``tf_keras`` *copy* of a :func:`tinymlkit.models.build_cnn1d`
model in which every ``Conv1D(k, stride s)`` becomes the equivalent ``Conv2D((k, 1), stride (s, 1))``
on a ``(window, 1, channels)`` view of the input; the trained weights are copied across
(a Conv1D kernel ``(k, c_in, c_out)`` is the Conv2D kernel ``(k, 1, c_in, c_out)``), and pruned
weights are copied back into a Keras 3 model. Knowledge distillation needs no tfmot and runs on
Keras 3 directly.

tfmot guides: https://www.tensorflow.org/model_optimization/guide/quantization/training and
https://www.tensorflow.org/model_optimization/guide/pruning/pruning_with_keras.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
import zlib

import keras
import numpy as np

from .quantize import convert_full_int8
from .train import set_seed

__all__ = ["QATResult", "PruneResult", "quantization_aware_training", "prune_magnitude",
           "distill", "distillation_loss", "sparsity", "compressed_bytes", "to_tf_keras"]

#: Layers :func:`to_tf_keras` can copy (the layers of :func:`tinymlkit.models.build_cnn1d`).
_SUPPORTED = ("InputLayer", "Conv1D", "BatchNormalization", "ReLU", "GlobalAveragePooling1D",
              "Dropout", "Dense")


def _tfmot():
    """Import tfmot and tf_keras, with a plain-words error when they are missing."""
    try:
        import tensorflow_model_optimization as tfmot
        import tf_keras
    except ImportError as exc:
        raise ImportError(f"QAT and pruning need tensorflow-model-optimization and tf-keras "
                          f"({exc}). Reinstall the course environment with 'make setup'.") from exc
    return tfmot, tf_keras


def _chain(model: keras.Model) -> list:
    """The layers of a single-chain Keras 3 model, checked against :data:`_SUPPORTED`."""
    bad = [f"{layer.name} ({type(layer).__name__})" for layer in model.layers
           if type(layer).__name__ not in _SUPPORTED]
    if bad:
        raise ValueError(f"tinymlkit.optimize copies only build_cnn1d-style models "
                         f"({', '.join(_SUPPORTED)}); model '{model.name}' has {bad}")
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def to_tf_keras(model: keras.Model):
    """A ``tf_keras`` (Keras 2) copy of a :func:`tinymlkit.models.build_cnn1d` model, with its
    weights, in the Conv2D form tfmot can quantize (see the module docstring).

    Args:
        model: a Keras 3 model made of ``Conv1D``, ``BatchNormalization``, ``ReLU``,
            ``GlobalAveragePooling1D``, ``Dropout`` and ``Dense`` layers in one chain; input
            ``(None, window, n_channels)`` float32.

    Returns:
        A ``tf_keras.Model``: input ``(None, window, n_channels)`` float32 → ``Reshape`` to
        ``(window, 1, n_channels)`` → the same layers in 2-D form → ``(None, n_classes)`` logits.
        Layers keep their names, so ``logits`` is still ``logits``.

    Raises:
        ValueError: the model has a layer not listed above.
        ImportError: tf_keras or tfmot is not installed.
    """
    _, tfk = _tfmot()
    L = tfk.layers
    window, n_channels = (int(v) for v in model.input_shape[1:])
    inputs = tfk.Input((window, n_channels), name="window")
    x = L.Reshape((window, 1, n_channels), name="as_image")(inputs)
    for layer in _chain(model):
        kind, cfg = type(layer).__name__, layer.get_config()
        if kind == "Conv1D":
            new = L.Conv2D(cfg["filters"], (cfg["kernel_size"][0], 1),
                           strides=(cfg["strides"][0], 1), padding=cfg["padding"],
                           use_bias=cfg["use_bias"], name=layer.name)
            x = new(x)
            w = layer.get_weights()
            new.set_weights([w[0][:, None]] + w[1:])
            continue
        if kind == "BatchNormalization":
            new = L.BatchNormalization(momentum=cfg["momentum"], epsilon=cfg["epsilon"],
                                       name=layer.name)
        elif kind == "ReLU":
            new = L.ReLU(name=layer.name)
        elif kind == "GlobalAveragePooling1D":
            new = L.GlobalAveragePooling2D(name=layer.name)
        elif kind == "Dropout":
            new = L.Dropout(cfg["rate"], seed=cfg.get("seed"), name=layer.name)
        else:  # Dense
            new = L.Dense(cfg["units"], use_bias=cfg["use_bias"], name=layer.name)
        x = new(x)
        new.set_weights(layer.get_weights())
    return tfk.Model(inputs, x, name=f"{model.name}_tf_keras")


def _copy_back(tfk_model, model: keras.Model) -> keras.Model:
    """A Keras 3 clone of ``model`` holding the weights of its tf_keras copy ``tfk_model``."""
    clone = keras.models.clone_model(model)
    for layer in _chain(clone):
        w = tfk_model.get_layer(layer.name).get_weights()
        if type(layer).__name__ == "Conv1D":
            w = [w[0][:, 0]] + w[1:]
        layer.set_weights(w)
    return clone


def _fit_tf_keras(tfk, tfk_model, x, y, *, epochs, batch_size, learning_rate, callbacks=(),
                  steps_per_execution=16):
    """Adam + softmax cross-entropy on logits, cosine-decayed, in tf_keras; returns history.

    ``steps_per_execution`` > 1 cuts Keras' per-step overhead; pruning uses 1, because its
    ``UpdatePruningStep`` callback runs per batch and its wrappers make a multi-step loop slower
    to trace (measured: 4.3 s instead of 6.1 s for 2 epochs of 6,000 windows).
    """
    steps = epochs * int(np.ceil(len(x) / batch_size))
    schedule = tfk.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    tfk_model.compile(optimizer=tfk.optimizers.Adam(schedule),
                      loss=tfk.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], steps_per_execution=steps_per_execution)
    hist = tfk_model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
                         callbacks=list(callbacks))
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def _check_xy(x, y, n_classes: int):
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} windows but y has {len(y)} labels")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    return x, y


@dataclasses.dataclass
class QATResult:
    """What :func:`quantization_aware_training` produced.

    Attributes:
        tflite: the full-integer int8 ``.tflite`` (int8 input and output) as bytes.
        qat_model: the tf_keras model with fake-quant ops (float in, float logits out) that
            simulates int8 during training; its predictions are what the int8 model should give.
        history: per-epoch ``loss`` and ``accuracy`` of the QAT fine-tuning.
        seconds: wall time of the fine-tuning and conversion, in s.
    """

    tflite: bytes
    qat_model: object
    history: dict[str, list[float]]
    seconds: float


def _convert_int8(tfk_model, representative_windows) -> bytes:
    """Full-integer int8 conversion of a tf_keras model (int8 input and output)."""
    return convert_full_int8(tfk_model, representative_windows,
                              what="int8 conversion of the QAT model")


def quantization_aware_training(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, *,
                                epochs: int = 3, batch_size: int = 64,
                                learning_rate: float = 5e-4, seed: int = 0) -> QATResult:
    """Fine-tune a trained float model with simulated int8 (QAT), then convert it to int8.

    tfmot's ``quantize_model`` (default 8-bit scheme: per-channel symmetric int8 weights,
    per-tensor asymmetric int8 activations, batch norm folded into the convolution — the TFLite
    int8 spec, https://ai.google.dev/edge/litert/models/quantization_spec) inserts fake-quant ops
    that round weights and activations during training, so the network learns weights that
    survive rounding (Jacob et al. 2018, arXiv:1712.05877). It runs on the tf_keras copy made by
    :func:`to_tf_keras`; the converter then reads the learned ranges.

    Start from a trained model: QAT is a short fine-tuning (a few epochs at a small learning rate
    on a cosine schedule), not training from scratch.

    Args:
        model: a trained Keras 3 :func:`tinymlkit.models.build_cnn1d` model (logits out).
        x_train: ``(n_windows, window, n_channels)`` float32, normalised.
        y_train: ``(n_windows,)`` int class indices.
        epochs, batch_size, learning_rate: the fine-tuning (initial Adam step).
        seed: passed to :func:`tinymlkit.train.set_seed` first.

    Returns:
        A :class:`QATResult`; ``tflite`` runs in :mod:`tinymlkit.tflm`.

    Raises:
        ValueError: lengths differ, labels out of range, or an unsupported layer.
        ImportError: tfmot or tf_keras is missing.
        RuntimeError: the converter failed.
    """
    tfmot, tfk = _tfmot()
    x_train, y_train = _check_xy(x_train, y_train, int(model.output_shape[-1]))
    set_seed(seed)
    tfk.utils.set_random_seed(seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = tfmot.quantization.keras.quantize_model(to_tf_keras(model))
    history = _fit_tf_keras(tfk, qat, x_train, y_train, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate)
    tflite = _convert_int8(qat, x_train)
    return QATResult(tflite=tflite, qat_model=qat, history=history,
                     seconds=time.perf_counter() - start)


@dataclasses.dataclass
class PruneResult:
    """What :func:`prune_magnitude` produced.

    Attributes:
        model: a Keras 3 model (same architecture as the input) whose pruned weights are exact
            zeros; give it to :func:`tinymlkit.quantize.quantize_int8`.
        sparsity: fraction of zero weights in its Conv1D and Dense kernels (see :func:`sparsity`).
        history: per-epoch ``loss`` and ``accuracy`` of the pruning fine-tuning.
        seconds: wall time of the fine-tuning, in s.
    """

    model: keras.Model
    sparsity: float
    history: dict[str, list[float]]
    seconds: float


def prune_magnitude(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, *,
                    target_sparsity: float = 0.5, epochs: int = 4, batch_size: int = 64,
                    learning_rate: float = 5e-4, seed: int = 0) -> PruneResult:
    """Magnitude pruning: fine-tune while zeroing the smallest weights, up to a target sparsity.

    tfmot's ``prune_low_magnitude`` with a ``PolynomialDecay`` schedule (Zhu & Gupta 2017,
    "To prune, or not to prune", arXiv:1710.01878): sparsity rises from 0 to ``target_sparsity``
    over the first two thirds of the steps (cubic), then the mask stays fixed while the remaining
    weights recover. Every Conv and Dense kernel is pruned to the target; biases and batch norm
    are not. The result is copied back into a Keras 3 model.

    **TFLM does not skip zeros**: a pruned int8 model has the same ``.tflite`` size, tensor arena
    and run time as the dense one. Pruning pays off only where the model is stored *compressed*
    (:func:`compressed_bytes`, e.g. an over-the-air update) or with a sparse kernel library.

    Args:
        model: a trained Keras 3 :func:`tinymlkit.models.build_cnn1d` model.
        x_train, y_train: normalised training windows ``(n, window, channels)`` float32 and their
            ``(n,)`` int labels.
        target_sparsity: fraction of each kernel's weights to zero, in [0, 1).
        epochs, batch_size, learning_rate: the fine-tuning (initial Adam step, cosine decay).
        seed: passed to :func:`tinymlkit.train.set_seed` first.

    Returns:
        A :class:`PruneResult`.

    Raises:
        ValueError: ``target_sparsity`` outside [0, 1), lengths differ, labels out of range,
            or an unsupported layer.
        ImportError: tfmot or tf_keras is missing.
    """
    if not 0.0 <= target_sparsity < 1.0:
        raise ValueError(f"target_sparsity must be in [0, 1), got {target_sparsity}")
    tfmot, tfk = _tfmot()
    x_train, y_train = _check_xy(x_train, y_train, int(model.output_shape[-1]))
    set_seed(seed)
    tfk.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=float(target_sparsity), begin_step=0,
        end_step=max(1, (2 * steps) // 3), frequency=max(1, steps // 30))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruned = tfmot.sparsity.keras.prune_low_magnitude(to_tf_keras(model),
                                                          pruning_schedule=schedule)
    history = _fit_tf_keras(tfk, pruned, x_train, y_train, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate,
                            callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
                            steps_per_execution=1)
    result = _copy_back(tfmot.sparsity.keras.strip_pruning(pruned), model)
    return PruneResult(model=result, sparsity=sparsity(result), history=history,
                       seconds=time.perf_counter() - start)


def sparsity(model: keras.Model) -> float:
    """Fraction (0..1) of exactly-zero weights in a Keras 3 model's Conv and Dense kernels.

    Biases and batch-norm parameters are left out: pruning does not touch them.

    Raises:
        ValueError: the model has no Conv or Dense kernel.
    """
    kernels = [layer.kernel.numpy() for layer in model.layers
               if type(layer).__name__.startswith(("Conv", "Dense")) and hasattr(layer, "kernel")]
    if not kernels:
        raise ValueError(f"model '{model.name}' has no Conv or Dense kernel")
    return float(sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels))


def compressed_bytes(model_bytes: bytes, level: int = 9) -> int:
    """Size in bytes of a ``.tflite`` (or any bytes) after zlib/DEFLATE compression (RFC 1950).

    The same algorithm as gzip, without its header: a fair measure of what a pruned model saves
    in storage or over the air. It does not change flash use on the kit, where TFLM reads the
    uncompressed flatbuffer.

    Args:
        model_bytes: the file's bytes.
        level: zlib compression level 0..9.
    """
    return len(zlib.compress(bytes(model_bytes), level))


def distillation_loss(temperature: float = 4.0, alpha: float = 0.1):
    """The knowledge-distillation loss of Hinton, Vinyals & Dean 2015, "Distilling the Knowledge
    in a Neural Network" (arXiv:1503.02531), as a Keras 3 loss function.

    ``loss = alpha * CE(y, softmax(s)) + (1 - alpha) * T² * KL(softmax(t / T) || softmax(s / T))``
    where ``s`` are the student's logits, ``t`` the teacher's and ``T`` the temperature. The
    ``T²`` keeps the soft term's gradients on the same scale when ``T`` changes (paper, sec. 2).

    Args:
        temperature: ``T`` > 0; higher spreads the teacher's probabilities over more classes.
        alpha: weight of the hard-label cross-entropy, in [0, 1].

    Returns:
        ``loss(y_true, y_pred)``: ``y_true`` is ``(batch, 1 + n_classes)`` float32, the label
        index followed by the teacher's logits; ``y_pred`` the student's ``(batch, n_classes)``
        logits. Returns ``(batch,)`` float32 losses.

    Raises:
        ValueError: ``temperature`` ≤ 0 or ``alpha`` outside [0, 1].
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    ops = keras.ops

    def loss(y_true, y_pred):
        labels = ops.cast(y_true[:, 0], "int32")
        teacher = y_true[:, 1:]
        hard = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
        p_teacher = ops.softmax(teacher / temperature, axis=-1)
        log_p_teacher = ops.log_softmax(teacher / temperature, axis=-1)
        log_p_student = ops.log_softmax(y_pred / temperature, axis=-1)
        soft = ops.sum(p_teacher * (log_p_teacher - log_p_student), axis=-1)
        return alpha * hard + (1.0 - alpha) * temperature ** 2 * soft

    return loss


def distill(teacher: keras.Model, student: keras.Model, x_train: np.ndarray, y_train: np.ndarray,
            *, temperature: float = 4.0, alpha: float = 0.1, epochs: int = 20,
            batch_size: int = 64, learning_rate: float = 2e-3, seed: int = 0) -> keras.Model:
    """Train a small student to copy a trained teacher's softened outputs (knowledge distillation).

    The teacher's logits are computed once (inference mode, no dropout) and the student is
    trained on :func:`distillation_loss` with Adam on a cosine schedule, like
    :func:`tinymlkit.train.train_classifier`. The teacher is not changed.

    Args:
        teacher: a trained Keras 3 model, ``(None, window, channels)`` → ``(None, n_classes)``
            logits.
        student: an untrained Keras 3 model with the same input and output shapes (logits).
        x_train: ``(n_windows, window, n_channels)`` float32, normalised.
        y_train: ``(n_windows,)`` int class indices.
        temperature, alpha: see :func:`distillation_loss` (Hinton et al. use T in 2..20 and a
            small weight on the hard labels).
        epochs, batch_size, learning_rate: training length and initial Adam step.
        seed: passed to :func:`tinymlkit.train.set_seed` first.

    Returns:
        The trained ``student`` (the same object), which
        :func:`tinymlkit.quantize.quantize_int8` accepts.

    Raises:
        ValueError: teacher and student shapes differ, lengths differ, labels out of range, or
            a bad ``temperature`` / ``alpha``.
    """
    if tuple(teacher.input_shape) != tuple(student.input_shape) or \
            tuple(teacher.output_shape) != tuple(student.output_shape):
        raise ValueError(f"teacher {teacher.input_shape}→{teacher.output_shape} and student "
                         f"{student.input_shape}→{student.output_shape} must have the same "
                         "input and output shapes")
    x_train, y_train = _check_xy(x_train, y_train, int(student.output_shape[-1]))
    loss = distillation_loss(temperature, alpha)
    set_seed(seed)
    teacher_logits = teacher.predict(x_train, batch_size=256, verbose=0).astype(np.float32)
    targets = np.concatenate([y_train[:, None].astype(np.float32), teacher_logits], axis=1)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    student.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, steps_per_execution=16)
    student.fit(x_train, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return student
