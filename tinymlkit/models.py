"""Stage 3 — models: small 1-D CNN builders that fit a microcontroller.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "A small model"). Uses Keras 3 (TensorFlow
2.21 backend); only operators that TFLM implements for int8 (EXPAND_DIMS, CONV_2D, RESHAPE, MEAN,
FULLY_CONNECTED) end up in the converted model.
"""

from __future__ import annotations

import keras

__all__ = ["build_cnn1d", "count_parameters"]


def build_cnn1d(window: int, n_channels: int, n_classes: int, *, filters: int = 16,
                kernel_size: int = 5, n_blocks: int = 3, dropout: float = 0.3,
                batch_norm: bool = True, seed: int | None = 0,
                name: str = "motion_cnn1d") -> keras.Model:
    """A strided 1-D CNN for windows of multichannel sensor data.

    Each block is ``Conv1D(stride 2, same padding) → [BatchNorm] → ReLU``; filters double after
    the first block. Then global average pooling, dropout and a dense layer giving one logit per
    class. Batch normalisation is folded into the convolution when converting, so it costs
    nothing on the device.

    There is no softmax layer: the class is the argmax of the logits, and an int8 softmax would
    only add an op with 1/256 resolution that magnifies rounding differences between runtimes.
    Where a probability is wanted, apply a float softmax to the dequantized logits.

    Args:
        window: input length in samples.
        n_channels: input channels (6 for an IMU: ax, ay, az, wx, wy, wz).
        n_classes: output classes.
        filters: filters of the first block (later blocks use ``2 * filters``).
        kernel_size: convolution length in samples.
        n_blocks: number of conv blocks; each halves the time axis.
        dropout: dropout rate before the classifier (training only).
        batch_norm: add batch normalisation after each convolution.
        seed: seeds every weight initializer and the dropout layer, so the same seed gives the
            same initial model whatever ran before; ``None`` draws from Keras' global generator.
        name: Keras model name.

    Returns:
        An uncompiled ``keras.Model``: input ``(None, window, n_channels)`` float32, output
        ``(None, n_classes)`` float32 logits.

    Raises:
        ValueError: a size argument is not positive.
    """
    for arg, value in (("window", window), ("n_channels", n_channels), ("n_classes", n_classes),
                       ("filters", filters), ("kernel_size", kernel_size), ("n_blocks", n_blocks)):
        if int(value) <= 0:
            raise ValueError(f"{arg} must be positive, got {value}")
    layers = keras.layers

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + k)

    inputs = keras.Input((window, n_channels), name="window")
    x = inputs
    for b in range(n_blocks):
        x = layers.Conv1D(filters if b == 0 else 2 * filters, kernel_size, strides=2,
                          padding="same", use_bias=not batch_norm, kernel_initializer=init(b),
                          name=f"conv{b + 1}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{b + 1}")(x)
        x = layers.ReLU(name=f"relu{b + 1}")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(n_classes, kernel_initializer=init(n_blocks), name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def count_parameters(model: keras.Model) -> int:
    """Number of weights in ``model`` (trainable and not), an int."""
    return int(model.count_params())
