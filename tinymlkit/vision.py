"""Person detection in TFLM on the laptop, and transfer of the course's image CNN to a student's
own objects (vision track, issue #15).

The shipped model is the TFLM ``person_detection`` example's int8 MobileNet
(``tinymlkit/data/models/person_detect/``, its model card gives the source, licence and limits).
:func:`detect_person` feeds it 96×96 grayscale frames exactly as the kits do (``pixel - 128``,
:func:`tinymlkit.image_features.pixels_to_int8`) and runs it in the real TFLM interpreter
(``tflite-micro``), the only Python interpreter that loads it (LiteRT's refuses its per-channel
quantization on dimension 3).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .image_features import check_pixel_quant, pixels_to_int8
from .images import person_detect_dir
from .quantize import dequantize
from .export import ImageModelSettings, write_model_files
from .tflm import measure_arena, tflm_model_io, tflm_predict

__all__ = ["PERSON_DETECT_SIZE", "PERSON_INDEX", "PERSON_DETECT_EXAMPLE_ARENA_BYTES",
           "PersonDetections", "person_detect_model", "detect_person", "every_nth_take", "fine_tune_head",
           "PERSON_DETECT_LABELS", "export_person_detection"]

#: Input side of the person-detection model, pixels (96×96×1).
PERSON_DETECT_SIZE = 96
#: Output index of "person" (0 is "no person"; the example's kPersonIndex).
PERSON_INDEX = 1
#: The model's outputs as the kits name them in ``#RESULT`` lines (index 0, 1).
PERSON_DETECT_LABELS = ("no_person", "person")
#: The tensor arena the TFLM example reserves for this model, bytes (``kTensorArenaSize = 136 *
#: 1024`` in tflite-micro's tensorflow/lite/micro/examples/person_detection/main_functions.cc).
PERSON_DETECT_EXAMPLE_ARENA_BYTES = 136 * 1024


@dataclasses.dataclass(frozen=True)
class PersonDetections:
    """What the model said about each frame.

    Attributes:
        outputs: ``(n, 2)`` int8 raw outputs ``[no person, person]``.
        scores: ``(n, 2)`` float32 dequantized outputs (each in [0, 1): scale 1/256, zero point
            -128, so they read as probabilities that sum to about 1).
        is_person: ``(n,)`` bool: the person output is the larger.
    """

    outputs: np.ndarray
    scores: np.ndarray
    is_person: np.ndarray


def person_detect_model() -> bytes:
    """The shipped person-detection model, 300,568 bytes of ``.tflite`` flatbuffer."""
    return (person_detect_dir() / "person_detect.tflite").read_bytes()


def detect_person(frames: np.ndarray, model_bytes: bytes | None = None) -> PersonDetections:
    """Run person detection on 96×96 grayscale frames in TFLM, one invoke per frame.

    Args:
        frames: ``(n, 96, 96)`` or ``(96, 96)`` uint8 pixels (crop and shrink a camera frame
            with :func:`tinymlkit.image_features.center_crop` and
            :func:`~tinymlkit.image_features.box_downsample` first).
        model_bytes: the model; default :func:`person_detect_model`.

    Returns:
        :class:`PersonDetections`.

    Raises:
        ValueError: the frames are not 96×96 uint8, or the model's input is not 96×96×1 int8
            meaning ``pixel - 128``.
        ImportError: ``tflite-micro`` is not installed (Linux x86-64 only; the model cannot run in
            LiteRT's Python interpreter).
    """
    model_bytes = person_detect_model() if model_bytes is None else model_bytes
    x = pixels_to_int8(frames)
    io_ = tflm_model_io(model_bytes)
    if tuple(io_.input_shape[1:]) != x.shape[1:]:
        raise ValueError(f"the model takes {io_.input_shape[1:]} inputs; the frames are {x.shape[1:3]} "
                         "pixels: crop and shrink them to the model's size first")
    check_pixel_quant(io_.input_quant)
    outputs = tflm_predict(model_bytes, x)
    scores = dequantize(outputs, io_.output_quant).astype(np.float32)
    return PersonDetections(outputs, scores, outputs[:, PERSON_INDEX] > outputs[:, 1 - PERSON_INDEX])


def every_nth_take(labels: np.ndarray, every: int = 5) -> np.ndarray:
    """Which takes to hold back for testing: every ``every``-th take of each class, in recording
    order (takes 5, 10, … with ``every=5``), so the test takes were photographed in the same
    sessions but never trained on.

    Args:
        labels: ``(n,)`` int class of each take, in the order they were taken.
        every: hold back one take in this many (at least 2).

    Returns:
        ``(n,)`` bool: True for a test take.

    Raises:
        ValueError: ``every`` below 2.
    """
    if int(every) < 2:
        raise ValueError(f"every={every}: hold back one take in at least 2")
    labels = np.asarray(labels)
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test[idx[int(every) - 1::int(every)]] = True
    return test


def fine_tune_head(base_model, x: np.ndarray, y: np.ndarray, n_classes: int, *, epochs: int = 40,
                   learning_rate: float = 3e-3, seed: int = 0, progress: bool = False):
    """Transfer learning: keep a trained image CNN's convolution blocks, frozen, and train a new
    dense head for ``n_classes`` on a few of the student's own pictures.

    The convolutions learnt edges and textures on thousands of images; a few dozen takes per
    object are enough to learn which of those features tell the new objects apart, where training
    the whole network on them would over-fit.

    Args:
        base_model: a trained :func:`tinymlkit.models.build_image_cnn` model (its ``flatten`` layer
            is kept).
        x: ``(n, side, side, 1)`` float32 pixels normalised like the base model's
            (:func:`tinymlkit.image_features.normalize_pixels`).
        y: ``(n,)`` int classes 0..``n_classes``-1.
        n_classes: classes of the new head.
        epochs, learning_rate, seed, progress: see :func:`tinymlkit.train.train_classifier`.

    Returns:
        A new ``keras.Model`` (frozen base, trained head) with logits for the new classes; the
        base model is not changed.

    Raises:
        ValueError: the base model has no ``flatten`` layer, or ``x``/``y`` do not fit it.
    """
    # Keras (and train, which imports it) load here, not at import: detect_person needs only TFLM.
    import keras

    from .train import train_classifier

    try:
        features = base_model.get_layer("flatten").output
    except ValueError:
        raise ValueError("the base model has no 'flatten' layer: use a tinymlkit.models.build_image_cnn model") from None
    trunk = keras.Model(base_model.input, features, name="frozen_trunk")
    trunk.trainable = False
    inputs = keras.Input(base_model.input_shape[1:], name="pixels")
    head = keras.layers.Dense(int(n_classes), name="new_logits",
                              kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
    model = keras.Model(inputs, head(trunk(inputs, training=False)), name="fine_tuned")
    train_classifier(model, x, y, epochs=epochs, batch_size=16, learning_rate=learning_rate, seed=seed,
                     progress=progress)
    return model


def export_person_detection(out_dir) -> dict:
    """Write the person-detection model as C files for the kits' ``image_inference`` sketches:
    ``model_data.cc``/``.h``, ``model_settings.h`` (96×96 input, the frame's centre 96×96 not
    shrunk, labels :data:`PERSON_DETECT_LABELS`) and ``model_settings.json``, with the tensor arena
    measured in TFLM.

    Args:
        out_dir: folder (created).

    Returns:
        The paths written (:func:`tinymlkit.export.write_model_files`).

    Raises:
        ImportError: ``tflite-micro`` is not installed (the arena and the input's quantization are
            read through TFLM).
    """
    model_bytes = person_detect_model()
    io_ = tflm_model_io(model_bytes)
    arena = measure_arena(model_bytes)
    settings = ImageModelSettings(labels=PERSON_DETECT_LABELS, height=PERSON_DETECT_SIZE, width=PERSON_DETECT_SIZE,
                                  input_quant=io_.input_quant, output_quant=io_.output_quant,
                                  arena_bytes=arena.arena_bytes, arena_method=arena.method,
                                  crop_size=PERSON_DETECT_SIZE, downsample=1)
    return write_model_files(out_dir, model_bytes, settings)
