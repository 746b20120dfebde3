"""Make the Fashion-MNIST subset shipped in the package (``tinymlkit/data/images/``).

From Debian's ``dataset-fashion-mnist`` (the original IDX files, read with
:func:`tinymlkit.images.read_idx`): 600 training and 200 test images of each class, drawn at
random with seed 0 from the dataset's own train and test splits, in their original pixels.
Run it again to check that the shipped file is what this script makes (tests do).

    python scripts/make_fashion_mnist_subset.py [--source /usr/share/datasets/fashion-mnist] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinymlkit.files import write_atomic  # noqa: E402
from tinymlkit.images import FASHION_MNIST_DIR, load_fashion_mnist  # noqa: E402

#: Images per class in the subset, per split.
PER_CLASS = {"train": 600, "test": 200}


def make_subset(source: pathlib.Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The subset's arrays: ``{split}_images`` (n, 28, 28) uint8 and ``{split}_labels`` (n,) uint8,
    each class's images in dataset order, classes in label order."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, k in PER_CLASS.items():
        ds = load_fashion_mnist(split, path=source, subset=False)
        keep = np.concatenate([np.sort(rng.choice(np.flatnonzero(ds.labels == c), k, replace=False))
                               for c in range(len(ds.class_names))])
        arrays[f"{split}_images"] = ds.images[keep]
        arrays[f"{split}_labels"] = ds.labels[keep].astype(np.uint8)
    return arrays


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, default=FASHION_MNIST_DIR)
    parser.add_argument("--out", type=pathlib.Path,
                        default=ROOT / "tinymlkit" / "data" / "images" / "fashion_mnist_subset.npz")
    args = parser.parse_args(argv)
    buf = io.BytesIO()
    np.savez_compressed(buf, **make_subset(args.source))
    write_atomic(args.out, buf.getvalue())
    print(f"{args.out}: {buf.tell() / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
