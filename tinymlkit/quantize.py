"""Stage 5 — quantize: full-integer int8 post-training quantization (PTQ) and int8 I/O helpers.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "int8"). The converter is TensorFlow's
``tf.lite.TFLiteConverter``; the reference runtime is LiteRT (``ai-edge-litert``) with its
reference kernels, the closest desktop match to TFLM's kernels.

Quantization follows the TFLite int8 spec (https://ai.google.dev/edge/litert/models/quantization_spec):
``real = scale * (q - zero_point)``, ``q`` in [-128, 127].
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import warnings

import numpy as np

from .native import captured_fd2

__all__ = [
    "QuantParams",
    "ModelIO",
    "check_model_input",
    "dequantize",
    "litert_predict",
    "model_io",
    "quantize",
    "quantize_int8",
    "representative_dataset",
    "convert_full_int8",
    "litert_interpreter",
]


@dataclasses.dataclass(frozen=True)
class QuantParams:
    """Per-tensor affine quantization: ``real = scale * (q - zero_point)``.

    Attributes:
        scale: float, real units per integer step (> 0).
        zero_point: int, the integer that stands for real 0.
    """

    scale: float
    zero_point: int


@dataclasses.dataclass(frozen=True)
class ModelIO:
    """Shapes, dtypes and quantization of a ``.tflite`` model's (single) input and output.

    Attributes:
        input_shape, output_shape: e.g. ``(1, 100, 6)`` and ``(1, 7)``.
        input_dtype, output_dtype: numpy dtypes (``np.int8`` for a full-integer model).
        input_quant, output_quant: :class:`QuantParams` (scale 0 means not quantized).
    """

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_dtype: type
    output_dtype: type
    input_quant: QuantParams
    output_quant: QuantParams


def representative_dataset(x: np.ndarray, n_samples: int = 300, seed: int = 0):
    """A representative-dataset generator for the TFLite converter.

    The converter runs these inputs through the float model to choose each tensor's scale and
    zero point, so they must look like real (normalised) inputs: draw them from training data.

    Args:
        x: ``(n_windows, window, n_channels)`` float32 training windows, normalised.
        n_samples: how many windows to draw (without replacement; all if fewer).
        seed: for the draw.

    Returns:
        A zero-argument callable yielding ``[window[None]]`` lists, as the converter expects.
    """
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(n_samples, len(x)), replace=False)

    def gen():
        for i in pick:
            yield [x[i:i + 1]]

    return gen


def quantize_int8(model, representative_windows: np.ndarray, *, n_samples: int = 300,
                  seed: int = 0) -> bytes:
    """Convert a float Keras model to a full-integer int8 ``.tflite`` (int8 input and output).

    Args:
        model: a trained ``keras.Model``.
        representative_windows: ``(n, window, n_channels)`` float32 training windows, normalised.
        n_samples, seed: see :func:`representative_dataset`.

    Returns:
        The ``.tflite`` flatbuffer as bytes.

    Raises:
        RuntimeError: the converter failed (the message says which op or layer it rejected).
    """
    return convert_full_int8(model, representative_windows, n_samples, seed,
                              what="int8 conversion",
                              hint="Every layer must have an int8 TFLite kernel (Conv1D, Dense, "
                                   "ReLU, pooling, softmax do). ")



def convert_full_int8(model, representative_windows: np.ndarray, n_samples: int = 300,
                       seed: int = 0, *, what: str, hint: str = "") -> bytes:
    """Full-integer int8 conversion (int8 input and output) of a Keras 3 or tf_keras model, with
    the converter's chatter captured and shown only when it fails (``quantize_int8`` and
    :mod:`tinymlkit.optimize`'s QAT share it).

    Raises:
        RuntimeError: ``"<what> failed: <reason>. <hint>Converter log: ..."``.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(representative_windows,
                                                               n_samples, seed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    log = None
    tf_logger = logging.getLogger("tensorflow")  # "Assets written to ..." at INFO level
    tf_level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        # Keras prints the SavedModel path; the converter's C++ logs to fd 2: keep both for errors.
        with contextlib.redirect_stdout(io.StringIO()), captured_fd2() as log, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises several internal types
        detail = (log.text.strip()[-2000:] if log else "") or "no converter log"
        raise RuntimeError(f"{what} failed: {exc}. {hint}Converter log:\n{detail}") from exc
    finally:
        tf_logger.setLevel(tf_level)


def litert_interpreter(model_bytes: bytes):
    """A LiteRT interpreter for a ``.tflite`` model, with the reference kernels (``BUILTIN_REF``:
    the integer arithmetic that TFLM's reference kernels share, not XNNPACK's); tensors not
    allocated yet.

    Raises:
        ValueError: the bytes are not a ``.tflite`` model (LiteRT's message).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_content=model_bytes,
                       experimental_op_resolver_type=OpResolverType.BUILTIN_REF)


def model_io(model_bytes: bytes) -> ModelIO:
    """Read input/output shape, dtype, scale and zero point of a ``.tflite`` model.

    Raises:
        ValueError: the bytes are not a valid ``.tflite`` model, or it has more than one input
            or output.
    """
    try:
        interp = litert_interpreter(model_bytes)
    except Exception as exc:
        raise ValueError(f"not a valid .tflite model ({exc})") from exc
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(f"expected one input and one output, got {len(ins)} and {len(outs)}")

    def qp(d):
        s, z = d["quantization"]
        return QuantParams(float(s), int(z))

    return ModelIO(tuple(int(v) for v in ins[0]["shape"]), tuple(int(v) for v in outs[0]["shape"]),
                   ins[0]["dtype"], outs[0]["dtype"], qp(ins[0]), qp(outs[0]))


def quantize(x: np.ndarray, qp: QuantParams) -> np.ndarray:
    """Float → int8 with ``q = clip(round(x / scale) + zero_point, -128, 127)``.

    Args:
        x: float array of any shape (normalised model input).
        qp: the input tensor's :class:`QuantParams`.

    Returns:
        int8 array of the same shape.
    """
    q = np.round(np.asarray(x, dtype=np.float32) / qp.scale) + qp.zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, qp: QuantParams) -> np.ndarray:
    """int8 → float32 with ``real = scale * (q - zero_point)``; same shape."""
    return (qp.scale * (np.asarray(q, dtype=np.int32) - qp.zero_point)).astype(np.float32)


def check_model_input(io_: ModelIO, x: np.ndarray) -> np.ndarray:
    """Check that a batch of windows fits a model's input; returns it as an array.

    Args:
        io_: the model's :class:`ModelIO`.
        x: ``(n_windows, *input_shape[1:])`` in the input's dtype.

    Raises:
        ValueError: wrong dtype or shape (the message says what the model expects).
    """
    x = np.asarray(x)
    if x.dtype != io_.input_dtype or x.shape[1:] != io_.input_shape[1:]:
        raise ValueError(f"windows are {x.dtype} {x.shape}, the model expects "
                         f"{np.dtype(io_.input_dtype)} (n, {', '.join(map(str, io_.input_shape[1:]))})")
    return x


def litert_predict(model_bytes: bytes, x_int8: np.ndarray) -> np.ndarray:
    """Run an int8 model on a batch of int8 windows in LiteRT with its reference kernels.

    Args:
        model_bytes: a full-integer ``.tflite`` model.
        x_int8: ``(n_windows, *input_shape[1:])`` int8, already quantized with the input
            tensor's scale and zero point.

    Returns:
        ``(n_windows, n_classes)`` int8 raw outputs (dequantize with the output's params).

    Raises:
        ValueError: the windows do not match the model's input shape or dtype.
    """
    io_ = model_io(model_bytes)
    x_int8 = check_model_input(io_, x_int8)
    interp = litert_interpreter(model_bytes)
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    interp.allocate_tensors()
    outputs = np.empty((len(x_int8), io_.output_shape[-1]), dtype=io_.output_dtype)
    for i, window in enumerate(x_int8):
        interp.set_tensor(inp, window[None])
        interp.invoke()
        outputs[i] = interp.get_tensor(out)[0]
    return outputs
