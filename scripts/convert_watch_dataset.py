"""Convert the smartwatch shoulder-exercise IMU dataset (Burns et al., 2018) into the course format.

Run once by a maintainer; the result is committed as ``tinymlkit/data/motion/watch_imu.npz``.

Source: ``seglearn/data/watch_dataset.npy`` inside the ``seglearn`` 1.2.5 wheel on PyPI
(BSD-3-Clause, (c) 2018 David M. Burns). That file is a pickled dict; we read it here, once,
and write a plain ``.npz`` of numeric arrays so the course never needs ``allow_pickle`` or
seglearn at run time.

Usage::

    pip download --no-deps seglearn==1.2.5 -d /tmp/seglearn
    python scripts/convert_watch_dataset.py /tmp/seglearn/seglearn-1.2.5-py3-none-any.whl

Output arrays (see ``tinymlkit.datasets.load_motion`` for the reader and its checks):
    samples        (n_samples_total, 6) float32  ax, ay, az [g]; wx, wy, wz [rad/s]
    offsets        (n_recordings + 1,) int64     recording i is samples[offsets[i]:offsets[i+1]]
    labels         (n_recordings,) int64         index into class_names
    subjects       (n_recordings,) int64         subject id, 1..10
    sides          (n_recordings,) int64         1 = right arm, 0 = left arm (as in the source)
    class_names    (7,) str
    channel_names  (6,) str
    sample_rate_hz () float64                    50.0
"""

from __future__ import annotations

import argparse
import io
import pathlib
import sys
import zipfile

import numpy as np

MEMBER = "seglearn/data/watch_dataset.npy"
OUT = pathlib.Path(__file__).resolve().parents[1] / "tinymlkit" / "data" / "motion" / "watch_imu.npz"
SAMPLE_RATE_HZ = 50.0  # seglearn.datasets.load_watch docstring; Burns et al. 2018, section 2.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=pathlib.Path, help="path to seglearn-1.2.5-py3-none-any.whl")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args(argv)

    with zipfile.ZipFile(args.wheel) as zf:
        raw = zf.read(MEMBER)
    source = np.load(io.BytesIO(raw), allow_pickle=True).item()  # trusted: a pinned PyPI wheel

    recordings = [np.asarray(x, dtype=np.float32) for x in source["X"]]
    lengths = np.array([len(r) for r in recordings], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        samples=np.concatenate(recordings).astype(np.float32),
        offsets=offsets,
        labels=np.asarray(source["y"], dtype=np.int64),
        subjects=np.asarray(source["subject"], dtype=np.int64),
        sides=np.asarray(source["side"], dtype=np.int64),
        class_names=np.asarray(source["y_labels"], dtype=str),
        channel_names=np.asarray(source["X_labels"], dtype=str),
        sample_rate_hz=np.float64(SAMPLE_RATE_HZ),
    )
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): "
          f"{len(recordings)} recordings, {offsets[-1]} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
