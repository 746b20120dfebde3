"""Images for the vision track (issue #15): Fashion-MNIST and the person-detection test images.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT licence) is read from Debian's
``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/``, installed by
``scripts/system_deps.sh``), in its original IDX files; where apt is not available the package
ships a stratified subset (``tinymlkit/data/images/``, its data card says what it holds). The
person-detection model's two reference images ship beside the model
(``tinymlkit/data/models/person_detect/``).

Images are ``(n, height, width)`` uint8 grayscale, 0 = black, 255 = white, rows top to bottom.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.resources
import pathlib
import zipfile

import numpy as np

from .errors import DatasetError

__all__ = ["FASHION_MNIST_CLASSES", "FASHION_MNIST_DIR", "ImageDataset", "read_idx",
           "load_fashion_mnist", "fashion_mnist_subset_path", "person_detect_dir",
           "load_person_detect_examples"]

#: Class names of Fashion-MNIST, label 0..9 (github.com/zalandoresearch/fashion-mnist, README,
#: "Labels").
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
#: Where Debian's ``dataset-fashion-mnist`` package installs the four IDX files.
FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
#: IDX type code 0x08: unsigned byte (the format's definition, yann.lecun.com/exdb/mnist/).
_IDX_UBYTE = 0x08
_GET_IT = ("Install it: Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist` (make setup does "
           "it as root); elsewhere download the four *-ubyte.gz files of "
           "github.com/zalandoresearch/fashion-mnist (data/fashion) into one folder and pass "
           "path=that folder; or use subset=True, the subset shipped in the package.")


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Labelled grayscale images.

    Attributes:
        images: ``(n, height, width)`` uint8, 0 black .. 255 white, rows top to bottom.
        labels: ``(n,)`` int64 index into ``class_names``.
        class_names: the classes, in label order.
        path: the folder or file the images were read from.
        source: ``"fashion-mnist"`` (the full set), ``"fashion-mnist-subset"`` (the shipped
            subset) or another name for other images.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    path: pathlib.Path
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def summary(self) -> str:
        """One line a person can read: how many images, their size, the classes."""
        h, w = self.images.shape[1:3]
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return (f"{len(self)} images of {w}×{h} pixels ({self.source}), {len(self.class_names)} "
                f"classes, {counts.min()}-{counts.max()} per class")


def read_idx(path: str | pathlib.Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzip-compressed or not.

    The format (yann.lecun.com/exdb/mnist/, "File formats"): two zero bytes, the type code
    (``0x08`` = unsigned byte), the number of dimensions ``d``, ``d`` big-endian uint32 sizes,
    then the data in C order.

    Args:
        path: the file (``.gz`` or plain).

    Returns:
        A uint8 array of the stored shape, e.g. ``(60000, 28, 28)`` or ``(60000,)``.

    Raises:
        DatasetError: the file is missing, not IDX, not unsigned bytes, or shorter or longer than
            its header says (the message names the file).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DatasetError(f"'{path}': file not found")
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetError(f"'{path}': not a readable gzip file ({exc}); download it again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"'{path}': not an IDX file (it must start with two zero bytes)")
    if data[2] != _IDX_UBYTE:
        raise DatasetError(f"'{path}': IDX type 0x{data[2]:02x}; only unsigned bytes (0x08) are read")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetError(f"'{path}': IDX header truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DatasetError(f"'{path}': the header says {shape} = {expected} bytes of data, the file "
                           f"holds {len(data) - header}: it is truncated or corrupt; download it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def fashion_mnist_subset_path() -> pathlib.Path:
    """Path of the Fashion-MNIST subset shipped in the package (``data/images/fashion_mnist_subset.npz``)."""
    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "images"
                            / "fashion_mnist_subset.npz"))


def load_fashion_mnist(split: str = "train", path: str | pathlib.Path | None = None,
                       subset: bool | None = None) -> ImageDataset:
    """Load Fashion-MNIST: 28×28 grayscale photos of 10 kinds of clothing (60,000 train, 10,000 test).

    Args:
        split: ``"train"`` or ``"test"`` (the dataset's own split: the test images are other
            products than the training images).
        path: a folder holding the four ``*-ubyte.gz`` files; default :data:`FASHION_MNIST_DIR`
            (Debian's package).
        subset: True: the subset shipped in the package (6,000 train and 2,000 test images, 10 %
            and 20 % of each class; ``data/images/DATACARD.md``). None (default): the full set if
            it is installed, else the subset. False: the full set or an error.

    Returns:
        An :class:`ImageDataset` of ``(n, 28, 28)`` uint8 images, white garment on black.

    Raises:
        ValueError: ``split`` is not ``"train"`` or ``"test"``.
        DatasetError: the full set is asked for and not found (the message says how to install
            it), or a file is corrupt (the message names it).
    """
    if split not in _FILES:
        raise ValueError(f"split {split!r}: use 'train' or 'test'")
    folder = pathlib.Path(path) if path is not None else FASHION_MNIST_DIR
    have_full = all((folder / f).is_file() for f in _FILES[split])
    if subset or (subset is None and not have_full and path is None):
        return _load_subset(split)
    if not have_full:
        missing = [f for f in _FILES[split] if not (folder / f).is_file()]
        raise DatasetError(f"'{folder}': Fashion-MNIST not found (missing {', '.join(missing)}). {_GET_IT}")
    images_file, labels_file = (folder / f for f in _FILES[split])
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"'{images_file}' holds {images.shape} and '{labels_file}' {labels.shape}: "
                           "expected (n, 28, 28) images and n labels")
    if labels.max(initial=0) >= len(FASHION_MNIST_CLASSES):
        raise DatasetError(f"'{labels_file}': label {int(labels.max())} is not one of the 10 classes")
    return ImageDataset(images, labels.astype(np.int64), FASHION_MNIST_CLASSES, folder, "fashion-mnist")


def _load_subset(split: str) -> ImageDataset:
    path = fashion_mnist_subset_path()
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    except FileNotFoundError:
        raise DatasetError(f"'{path}': the shipped subset is missing; reinstall the package "
                           f"(make setup). {_GET_IT}") from None
    except (KeyError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DatasetError(f"'{path}': cannot be read ({exc}); reinstall the package (make setup)") from exc
    return ImageDataset(images, labels.astype(np.int64), FASHION_MNIST_CLASSES, path,
                        "fashion-mnist-subset")


def person_detect_dir() -> pathlib.Path:
    """The folder of the shipped TFLM person-detection model, its test images and data card."""
    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "models" / "person_detect"))


#: How each reference image stores its pixels (seen by looking at both readings of each file,
#: ``data/models/person_detect/DATACARD.md``): ``person.bmp`` holds the model's int8 input bytes
#: (pixel - 128, as two's complement), ``no_person.bmp`` the photo's pixels.
_STORED_AS_INT8 = {"person": True, "no_person": False}


def load_person_detect_examples() -> ImageDataset:
    """The person-detection example's two 96×96 test images, as photos (uint8 pixels).

    Returns:
        An :class:`ImageDataset` with ``images`` ``(2, 96, 96)`` uint8 and labels 0 = no person,
        1 = person (the model's output order), class names ``("no person", "person")``.

    Raises:
        DatasetError: an image is missing or not a 96×96 8-bit grayscale BMP.
    """
    from PIL import Image, UnidentifiedImageError

    folder = person_detect_dir()
    images = []
    for name in ("no_person", "person"):
        path = folder / f"{name}.bmp"
        try:
            with Image.open(path) as img:
                if img.mode != "L" or img.size != (96, 96):
                    raise DatasetError(f"'{path}': {img.mode} {img.size[0]}×{img.size[1]}; expected an "
                                       "8-bit grayscale 96×96 BMP")
                pixels = np.array(img, dtype=np.uint8)
        except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"'{path}': cannot be read as an image ({exc}); reinstall the package") from exc
        if _STORED_AS_INT8[name]:
            pixels = (pixels.view(np.int8).astype(np.int16) + 128).astype(np.uint8)
        images.append(pixels)
    return ImageDataset(np.stack(images), np.array([0, 1], dtype=np.int64), ("no person", "person"),
                        folder, "tflm-person-detection-testdata")
