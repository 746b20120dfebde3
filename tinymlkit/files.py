"""Atomic file writing, shared by every stage (re-exported as ``tinymlkit.export.write_atomic``)."""

from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["write_atomic"]


def write_atomic(path: str | pathlib.Path, data: bytes | str) -> pathlib.Path:
    """Write a file so that it is either complete or untouched (temp file + ``os.replace``).

    Args:
        path: destination; its folder is created if needed.
        data: bytes, or text written as UTF-8.

    Returns:
        The destination path.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
