"""Person detection in TFLM on the laptop (vision track, issue #15).

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
from .tflm import tflm_model_io, tflm_predict

__all__ = ["PERSON_DETECT_SIZE", "PERSON_INDEX", "PERSON_DETECT_EXAMPLE_ARENA_BYTES",
           "PersonDetections", "person_detect_model", "detect_person"]

#: Input side of the person-detection model, pixels (96×96×1).
PERSON_DETECT_SIZE = 96
#: Output index of "person" (0 is "no person"; the example's kPersonIndex).
PERSON_INDEX = 1
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
