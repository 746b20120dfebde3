"""Stage 3 — models: small CNN builders that fit a microcontroller.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "A small model"). Uses Keras 3 (TensorFlow
2.21 backend); only operators that TFLM implements for int8 (EXPAND_DIMS, CONV_2D,
DEPTHWISE_CONV_2D, RESHAPE, MEAN, FULLY_CONNECTED) end up in the converted model.

* :func:`build_cnn1d` — motion windows ``(window, channels)``.
* :func:`build_ds_cnn` — keyword spotting on audio features ``(49 frames, 40 channels)``: a
  depthwise-separable CNN after Zhang et al. 2017, "Hello Edge: Keyword Spotting on
  Microcontrollers" (arXiv:1711.07128), sized like TFLM's micro_speech example.
* :func:`build_image_cnn` — small grayscale images ``(32, 32, 1)``: three convolution and
  max-pooling blocks and a dense classifier (the vision track, issue #15).
* :func:`build_autoencoder` — a dense autoencoder over feature vectors, for anomaly detection
  (issue #17): only FULLY_CONNECTED ops on the device.
"""

from __future__ import annotations

import keras

__all__ = ["MICRO_SPEECH_TINY_CONV_BYTES", "ChannelAxis", "build_autoencoder", "build_cnn1d", "build_ds_cnn", "build_image_cnn",
           "count_parameters"]

#: Size in bytes of micro_speech's int8 ``tiny_conv`` model (``micro_speech_quantized.tflite`` in
#: tflite-micro's tensorflow/lite/micro/examples/micro_speech/models/): the flash budget
#: :func:`build_ds_cnn`'s default configuration stays under.
MICRO_SPEECH_TINY_CONV_BYTES = 18712


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


@keras.saving.register_keras_serializable(package="tinymlkit")
class ChannelAxis(keras.layers.Layer):
    """Adds a trailing channel axis: ``(batch, frames, bins)`` → ``(batch, frames, bins, 1)``.

    It converts to one int8 ``EXPAND_DIMS`` op. (``keras.layers.Reshape`` would compute the batch
    size at run time and add SHAPE, STRIDED_SLICE and PACK ops to the ``.tflite``.)
    """

    def call(self, inputs):
        """``inputs`` ``(batch, frames, bins)`` float32 → ``(batch, frames, bins, 1)``."""
        return keras.ops.expand_dims(inputs, -1)

    def compute_output_shape(self, input_shape):
        """``input_shape`` with a trailing 1."""
        return (*input_shape, 1)


@keras.saving.register_keras_serializable(package="tinymlkit")
class FlattenFeatures(keras.layers.Layer):
    """Flattens ``(batch, h, w, c)`` → ``(batch, h*w*c)`` as one int8 ``RESHAPE`` op.

    ``keras.layers.Flatten`` and ``keras.layers.Reshape`` compute the batch size at run time and
    add SHAPE, STRIDED_SLICE and PACK ops to the ``.tflite`` (three more ops in every kit's op
    resolver); a reshape to ``(-1, h*w*c)`` has a constant shape.
    """

    def call(self, inputs):
        """``inputs`` ``(batch, h, w, c)`` float32 → ``(batch, h*w*c)``."""
        n = 1
        for d in inputs.shape[1:]:
            n *= int(d)
        return keras.ops.reshape(inputs, (-1, n))

    def compute_output_shape(self, input_shape):
        """``(batch, product of the other dimensions)``."""
        n = 1
        for d in input_shape[1:]:
            n *= int(d)
        return (input_shape[0], n)


def build_ds_cnn(n_classes: int, *, input_shape: tuple[int, int] = (49, 40),
                 first_filters: int = 8, first_kernel: tuple[int, int] = (10, 4),
                 first_strides: tuple[int, int] = (2, 2), filters: int = 32,
                 n_ds_blocks: int = 3, n_strided_blocks: int = 2, dropout: float = 0.2,
                 batch_norm: bool = True, seed: int | None = 0,
                 name: str = "kws_ds_cnn") -> keras.Model:
    """A small depthwise-separable CNN (DS-CNN) for keyword spotting on audio features.

    After the DS-CNN of Zhang et al. 2017, "Hello Edge: Keyword Spotting on Microcontrollers"
    (arXiv:1711.07128): a first ordinary convolution, then blocks of
    ``DepthwiseConv2D 3×3 → BN → ReLU → Conv2D 1×1 (pointwise) → BN → ReLU``, global average
    pooling and a dense layer. Sized for the kits rather than for the paper's accuracy: the input
    is downsampled early (first convolution 10×4 with stride 2×2 and ``valid`` padding, then the
    first ``n_strided_blocks`` depthwise convolutions with stride 2), so the largest activation is
    small and the tensor arena stays near TFLM's micro_speech example (10 KB).

    With the defaults and 6 classes, trained (int8 PTQ with :func:`tinymlkit.quantize.quantize_int8`,
    arena from :func:`tinymlkit.tflm.measure_arena` on a 64-bit host): 4,174 parameters (352 of
    them batch-norm statistics that fold away), a 16,008-byte ``.tflite`` (micro_speech's
    ``tiny_conv`` is 18,712 B, :data:`MICRO_SPEECH_TINY_CONV_BYTES`; an untrained model converts
    to 13.5 KB because identical constant buffers, such as all-zero biases, are stored once), a
    9,472-byte tensor arena and about 220,000 multiply-accumulates per inference; int8 ops
    EXPAND_DIMS, CONV_2D, DEPTHWISE_CONV_2D, MEAN, FULLY_CONNECTED. Shapes: (49, 40) → conv1
    (20, 19, 8) → (10, 10, 32) → (5, 5, 32) → (5, 5, 32) → pool 32 → n_classes.
    ``tests/test_kws_model.py`` checks the budgets (≤ 18 KB model, ≤ 10 KB arena).

    There is no softmax layer (as :func:`build_cnn1d`): the outputs are logits; the class is their
    argmax, and the keyword detector turns them into scores (see
    :func:`tinymlkit.kws_runtime.logits_to_scores`).

    Args:
        n_classes: output classes (keywords plus e.g. ``_silence_`` and ``_unknown_``).
        input_shape: ``(n_frames, n_channels)`` of the features: 49 frames × 40 filterbank
            channels for 1 s of 16 kHz audio with micro_speech's frontend (30 ms window, 20 ms
            stride).
        first_filters: filters of the first convolution.
        first_kernel: its kernel ``(frames, channels)``; Hello Edge uses 10×4.
        first_strides: its strides ``(frames, channels)``.
        filters: filters of every pointwise convolution.
        n_ds_blocks: depthwise-separable blocks.
        n_strided_blocks: how many of the first blocks have a stride-2 depthwise convolution.
        dropout: dropout rate before the classifier (training only).
        batch_norm: batch normalisation after each convolution (folded into it when converting).
            Its moving statistics (Keras momentum 0.99) need a few hundred training steps to
            settle; a shorter training evaluates far worse than its training accuracy says.
        seed: seeds every initializer and the dropout layer; ``None`` draws from Keras' global
            generator.
        name: Keras model name.

    Returns:
        An uncompiled ``keras.Model``: input ``(None, n_frames, n_channels)`` float32 features,
        output ``(None, n_classes)`` float32 logits.

    Raises:
        ValueError: a size argument is not positive, ``n_strided_blocks`` exceeds
            ``n_ds_blocks``, or the input is too small for the first kernel and the strides.
    """
    n_frames, n_channels = (int(v) for v in input_shape)
    for arg, value in (("n_classes", n_classes), ("n_frames", n_frames),
                       ("n_channels", n_channels), ("first_filters", first_filters),
                       ("filters", filters), ("n_ds_blocks", n_ds_blocks),
                       *((f"first_kernel[{i}]", k) for i, k in enumerate(first_kernel)),
                       *((f"first_strides[{i}]", k) for i, k in enumerate(first_strides))):
        if int(value) <= 0:
            raise ValueError(f"{arg} must be positive, got {value}")
    if not 0 <= n_strided_blocks <= n_ds_blocks:
        raise ValueError(f"n_strided_blocks must be in 0..n_ds_blocks ({n_ds_blocks}), "
                         f"got {n_strided_blocks}")
    if n_frames < first_kernel[0] or n_channels < first_kernel[1]:
        raise ValueError(f"input {input_shape} is smaller than the first kernel {first_kernel}")
    layers = keras.layers

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + k)

    def bn_relu(x, tag: str):
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn_{tag}")(x)
        return layers.ReLU(name=f"relu_{tag}")(x)

    inputs = keras.Input((n_frames, n_channels), name="features")
    x = ChannelAxis(name="channel_axis")(inputs)
    x = layers.Conv2D(first_filters, tuple(first_kernel), strides=tuple(first_strides),
                      padding="valid", use_bias=not batch_norm, kernel_initializer=init(0),
                      name="conv1")(x)
    x = bn_relu(x, "conv1")
    for b in range(n_ds_blocks):
        stride = 2 if b < n_strided_blocks else 1
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=not batch_norm,
                                   depthwise_initializer=init(2 * b + 1), name=f"dw{b + 1}")(x)
        x = bn_relu(x, f"dw{b + 1}")
        x = layers.Conv2D(filters, 1, use_bias=not batch_norm, kernel_initializer=init(2 * b + 2),
                          name=f"pw{b + 1}")(x)
        x = bn_relu(x, f"pw{b + 1}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(n_classes, kernel_initializer=init(2 * n_ds_blocks + 1),
                           name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_image_cnn(n_classes: int, *, input_shape: tuple[int, int] = (32, 32),
                    filters: tuple[int, ...] = (16, 32, 32), dropout: float = 0.0,
                    seed: int | None = 0, name: str = "image_cnn") -> keras.Model:
    """A small CNN for grayscale images that fits a kit: ``Conv2D 3×3 → ReLU → MaxPool 2×2`` per
    entry of ``filters``, then flatten and one dense layer (logits, no softmax).

    With the defaults (32×32 input, 10 classes) it has 19,178 parameters; int8 PTQ gives a
    26.6 KB ``.tflite`` and TFLM needs a 24 KB tensor arena (measured on a 64-bit host), the
    largest activation being the first convolution's 32×32×16 int8 output (16 KB). On
    Fashion-MNIST (padded to 32×32), 3 epochs of the full training set (about 60 s on 2 cores)
    reach 0.899 float and 0.900 int8 test accuracy in TFLM (``make vision`` prints the figures
    of your run). About
    2.5 million multiply-accumulates per image. int8 ops: CONV_2D, MAX_POOL_2D, RESHAPE,
    FULLY_CONNECTED (what ``hardware/libraries/TinyMLKit/src/tmk_image_runtime.h`` registers).

    Args:
        n_classes: output classes.
        input_shape: ``(height, width)`` in pixels; each must be divisible by
            ``2 ** len(filters)`` (every block halves it).
        filters: filters of each convolution block.
        dropout: dropout rate before the dense layer (training only).
        seed: seeds every initializer and the dropout layer; ``None`` draws from Keras' global
            generator.
        name: Keras model name.

    Returns:
        An uncompiled ``keras.Model``: input ``(None, height, width, 1)`` float32 pixels
        normalised as :func:`tinymlkit.image_features.normalize_pixels` does, output
        ``(None, n_classes)`` float32 logits.

    Raises:
        ValueError: a size is not positive, or the input does not halve ``len(filters)`` times.
    """
    height, width = (int(v) for v in input_shape)
    if n_classes <= 0 or not filters or min(filters) <= 0 or height <= 0 or width <= 0:
        raise ValueError(f"n_classes, filters and input_shape must be positive, got {n_classes}, "
                         f"{filters}, {input_shape}")
    step = 2 ** len(filters)
    if height % step or width % step:
        raise ValueError(f"input {height}×{width}: each side must be divisible by {step} "
                         f"({len(filters)} max-pooling blocks halve it)")
    layers = keras.layers

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + k)

    inputs = keras.Input((height, width, 1), name="pixels")
    x = inputs
    for k, f in enumerate(filters):
        x = layers.Conv2D(int(f), 3, padding="same", activation="relu", kernel_initializer=init(k),
                          name=f"conv{k + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{k + 1}")(x)
    x = FlattenFeatures(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(n_classes, kernel_initializer=init(len(filters)), name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_autoencoder(n_features: int, *, hidden: tuple[int, ...] = (16, 6), seed: int | None = 0,
                      name: str = "autoencoder") -> keras.Model:
    """A dense autoencoder: squeeze a feature vector through a bottleneck and rebuild it.

    ``Dense(h1, relu) → … → Dense(bottleneck, relu) → … → Dense(h1, relu) → Dense(n_features)``:
    the decoder mirrors the encoder. Trained on normal data only, it rebuilds normal inputs well
    and unusual ones badly; the reconstruction error is the anomaly score (the MLPerf Tiny anomaly
    benchmark's method, Banbury et al. 2021, arXiv:2106.07597, on smaller inputs).

    Args:
        n_features: length of the input vector (e.g. 30 window statistics).
        hidden: widths of the encoder's layers; the last is the bottleneck.
        seed: seeds every initializer; ``None`` draws from Keras' global generator.
        name: Keras model name.

    Returns:
        An uncompiled ``keras.Model``: input ``(None, n_features)`` float32, output the same
        shape (linear: a standardised feature can be any real number).

    Raises:
        ValueError: ``n_features`` or a width is not positive, or ``hidden`` is empty.
    """
    if int(n_features) <= 0 or not hidden or min(int(h) for h in hidden) <= 0:
        raise ValueError(f"n_features {n_features} and hidden {hidden} must be positive (and hidden "
                         "not empty)")
    layers = keras.layers

    def init(k: int):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + k)

    inputs = keras.Input((int(n_features),), name="features")
    x = inputs
    widths = [*hidden, *reversed(hidden[:-1])]
    for k, width in enumerate(widths):
        role = "bottleneck" if k == len(hidden) - 1 else ("encoder" if k < len(hidden) else "decoder")
        x = layers.Dense(int(width), activation="relu", kernel_initializer=init(k),
                         name=f"{role}{k + 1}")(x)
    outputs = layers.Dense(int(n_features), kernel_initializer=init(len(widths)), name="reconstruction")(x)
    return keras.Model(inputs, outputs, name=name)


def count_parameters(model: keras.Model) -> int:
    """Number of weights in ``model`` (trainable and not), an int."""
    return int(model.count_params())
