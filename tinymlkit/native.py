"""Capture what native (C/C++) code writes to file descriptor 2.

TFLM's allocation recording and the TFLite converter print from C++ straight to fd 2, where
Python's ``sys.stderr`` redirection cannot reach. Used by ``quantize`` and ``tflm``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


class CapturedText:
    """Holds the captured text once the ``with`` block has ended (``.text``, a str)."""

    text: str = ""


@contextlib.contextmanager
def captured_fd2():
    """Redirect fd 2 to a temporary file for the block; the text lands in ``.text`` afterwards."""
    result = CapturedText()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield result
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            result.text = capture.read().decode("utf-8", "replace")
