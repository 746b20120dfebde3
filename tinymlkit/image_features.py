"""Image preprocessing for the vision track (issue #15): from 8-bit grayscale pixels to a model's
input, the same integer steps the kits' sketches run (so a frame gives the same int8 input on the
laptop and on the board).

* :func:`pad_images` — centre on a black canvas (Fashion-MNIST's 28×28 → the model's 32×32).
* :func:`center_crop` and :func:`box_downsample` — a camera frame (e.g. 160×120 QQVGA) → its
  centre square → 96×96 or 32×32 by averaging whole blocks of pixels (integer arithmetic).
* :func:`normalize_pixels` — float model input ``(pixel - 128) / 128`` for training.
* :func:`pixels_to_int8` — int8 model input ``pixel - 128``: the float input quantized with
  scale 1/128 and zero point 0, which is what full-integer PTQ chooses for it
  (:func:`check_pixel_quant` checks a model's input agrees), and what the TFLM person-detection
  example feeds its model.
"""

from __future__ import annotations

import numpy as np

from .quantize import QuantParams

__all__ = ["PIXEL_OFFSET", "pad_images", "center_crop", "box_downsample", "frames_to_pixels",
           "normalize_pixels", "pixels_to_int8", "check_pixel_quant"]

#: 8-bit pixels are centred on this value: float input ``(pixel - 128) / 128`` in [-1, 127/128],
#: int8 input ``pixel - 128`` in [-128, 127].
PIXEL_OFFSET = 128


def _check_pixels(images, what: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"{what}: expected 8-bit pixels (uint8, 0..255), got {images.dtype}")
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or 0 in images.shape:
        raise ValueError(f"{what}: expected (n, height, width) or (height, width) grayscale pixels, "
                         f"got shape {images.shape}")
    return images


def pad_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre each image on a black canvas of ``size``.

    Args:
        images: ``(n, h, w)`` or ``(h, w)`` uint8.
        size: ``(height, width)`` in pixels, at least ``(h, w)``.

    Returns:
        ``(n, height, width)`` uint8; an odd margin puts the extra pixel at the bottom/right.

    Raises:
        ValueError: not uint8 grayscale images, or ``size`` is smaller than them.
    """
    images = _check_pixels(images)
    h, w = images.shape[1:]
    height, width = (int(v) for v in size)
    if height < h or width < w:
        raise ValueError(f"cannot pad {h}×{w} images to the smaller {height}×{width}")
    top, left = (height - h) // 2, (width - w) // 2
    return np.pad(images, ((0, 0), (top, height - h - top), (left, width - w - left)))


def center_crop(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centre ``size`` of each image (a camera frame's centre square, before downsampling).

    Args:
        images: ``(n, h, w)`` or ``(h, w)`` uint8.
        size: ``(height, width)`` in pixels, at most ``(h, w)``.

    Returns:
        ``(n, height, width)`` uint8; an odd margin leaves the extra pixel at the bottom/right.

    Raises:
        ValueError: not uint8 grayscale images, or ``size`` is larger than them.
    """
    images = _check_pixels(images)
    h, w = images.shape[1:]
    height, width = (int(v) for v in size)
    if not (0 < height <= h and 0 < width <= w):
        raise ValueError(f"cannot crop {height}×{width} out of {h}×{w} images")
    top, left = (h - height) // 2, (w - width) // 2
    return images[:, top:top + height, left:left + width].copy()


def box_downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Shrink each image by a whole ``factor``: every output pixel is the rounded mean of a
    ``factor × factor`` block, ``(sum + factor² // 2) // factor²`` in integers (the kits' C code
    does the same, bit for bit).

    Args:
        images: ``(n, h, w)`` or ``(h, w)`` uint8 with ``h`` and ``w`` multiples of ``factor``.
        factor: 1 or more (e.g. 3: 96×96 → 32×32).

    Returns:
        ``(n, h // factor, w // factor)`` uint8.

    Raises:
        ValueError: not uint8 grayscale images, a factor below 1, or sides that are not multiples
            of it.
    """
    images = _check_pixels(images)
    factor = int(factor)
    n, h, w = images.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"cannot shrink {h}×{w} images by {factor}: the sides must be multiples of it")
    blocks = images.reshape(n, h // factor, factor, w // factor, factor).astype(np.uint32)
    area = factor * factor
    return ((blocks.sum(axis=(2, 4)) + area // 2) // area).astype(np.uint8)


def frames_to_pixels(frames: np.ndarray, side: int = 32, factor: int = 3) -> np.ndarray:
    """Camera frames → model pixels, as the kits do (``tmk::frame_to_pixels``): the centre
    ``side * factor`` square, shrunk by ``factor`` (:func:`center_crop`, :func:`box_downsample`).

    Args:
        frames: ``(n, height, width)`` or ``(height, width)`` uint8, e.g. 120×160 QQVGA.
        side: model input side in pixels (32 for the course's image CNN, 96 with ``factor=1``
            for person detection).
        factor: the shrink factor.

    Returns:
        ``(n, side, side)`` uint8.

    Raises:
        ValueError: not uint8 grayscale frames, or frames smaller than ``side * factor``.
    """
    return box_downsample(center_crop(frames, (side * factor, side * factor)), factor)


def normalize_pixels(images: np.ndarray) -> np.ndarray:
    """Float model input: ``(pixel - 128) / 128``, with a channel axis.

    Args:
        images: ``(n, h, w)`` or ``(h, w)`` uint8.

    Returns:
        ``(n, h, w, 1)`` float32 in [-1, 127/128].

    Raises:
        ValueError: not uint8 grayscale images.
    """
    images = _check_pixels(images)
    return ((images.astype(np.float32) - PIXEL_OFFSET) / PIXEL_OFFSET)[..., None]


def check_pixel_quant(input_quant: QuantParams, tolerance: float = 0.01) -> None:
    """Check that a model's int8 input means ``pixel - 128`` (what :func:`pixels_to_int8` and the
    kits feed it): scale within ``tolerance`` of 1/128 (1/127.5 counts: the person-detection
    model's MobileNet scaling), zero point 0 or -1.

    Args:
        input_quant: the model input's scale and zero point.
        tolerance: relative difference allowed from 1/128.

    Raises:
        ValueError: the model expects another input scaling (the message gives both and says to
            quantize with a representative dataset of :func:`normalize_pixels` images).
    """
    scale, zero_point = float(input_quant.scale), int(input_quant.zero_point)
    if abs(scale * PIXEL_OFFSET - 1.0) > tolerance or zero_point not in (0, -1):
        raise ValueError(f"the model's input has scale {scale:.6g} and zero point {zero_point}; "
                         f"pixel - 128 needs scale 1/128 ({1 / PIXEL_OFFSET:.6g}) and zero point 0. "
                         "Quantize it with a representative dataset of normalize_pixels() images.")


def pixels_to_int8(images: np.ndarray) -> np.ndarray:
    """int8 model input: ``pixel - 128``, with a channel axis (exact; what the kits compute).

    Args:
        images: ``(n, h, w)`` or ``(h, w)`` uint8.

    Returns:
        ``(n, h, w, 1)`` int8.

    Raises:
        ValueError: not uint8 grayscale images.
    """
    images = _check_pixels(images)
    return (images.astype(np.int16) - PIXEL_OFFSET).astype(np.int8)[..., None]
