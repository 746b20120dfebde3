"""The bottom of the package: errors that several stages raise, so that no stage has to import a
later one (or itself be imported inside a function) just to raise or catch them.

Every stage module re-exports the errors it raises (``tk.datasets.DatasetError`` is this
:class:`DatasetError`).
"""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A data file is missing, truncated or not in the expected format; the message names the
    file and the fault."""
