"""Stage 8 — boards: the kits' memory budgets, read from one data file (``data/boards.toml``).

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Does it fit?").
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pathlib
import tomllib

__all__ = ["BoardProfile", "BoardProfileError", "boards_file", "get_board", "load_boards"]

_FIELDS = ("name", "kind", "mcu", "flash_bytes", "ram_bytes", "runtime_flash_bytes",
           "runtime_ram_bytes", "datasheet", "runtime_basis")


class BoardProfileError(ValueError):
    """The board file is malformed, or a board id is unknown (the message lists the known ids)."""


@dataclasses.dataclass(frozen=True)
class BoardProfile:
    """One kit's memory budget (a profile from ``boards.toml``; not :class:`tinymlkit.board_link.Board`,
    the serial link to a kit).

    Attributes:
        board_id: key in ``boards.toml``, e.g. ``"nano33ble_sense_rev2"``.
        name, kind, mcu: human description; ``kind`` is ``"microcontroller"`` or ``"linux"``.
        flash_bytes, ram_bytes: what the chip offers an application (datasheet), bytes.
        runtime_flash_bytes, runtime_ram_bytes: taken already by the core, TFLM and the sketch
            (estimates; see ``runtime_basis``), bytes.
        sensors: on-board sensors.
        datasheet: URL of the source for flash and RAM.
        runtime_basis: how the runtime figures were obtained.
    """

    board_id: str
    name: str
    kind: str
    mcu: str
    flash_bytes: int
    ram_bytes: int
    runtime_flash_bytes: int
    runtime_ram_bytes: int
    sensors: tuple[str, ...]
    datasheet: str
    runtime_basis: str


def boards_file() -> pathlib.Path:
    """Path of the shipped board profiles, ``tinymlkit/data/boards.toml``."""
    return pathlib.Path(str(importlib.resources.files("tinymlkit") / "data" / "boards.toml"))


def load_boards(path: str | pathlib.Path | None = None) -> dict[str, BoardProfile]:
    """Read every board profile.

    Args:
        path: a TOML file with ``[boards.<id>]`` tables; default :func:`boards_file`.

    Returns:
        ``{board_id: BoardProfile}`` in file order.

    Raises:
        BoardProfileError: the file cannot be parsed, a field is missing, or a size is not a positive
            integer or leaves no room (the message names the file, board and field).
    """
    path = pathlib.Path(path) if path is not None else boards_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BoardProfileError(f"'{path}': cannot read board profiles ({exc})") from exc
    tables = data.get("boards")
    if not isinstance(tables, dict) or not tables:
        raise BoardProfileError(f"'{path}': no [boards.<id>] tables")
    boards = {}
    for board_id, t in tables.items():
        missing = [f for f in _FIELDS if f not in t]
        if missing:
            raise BoardProfileError(f"'{path}': board '{board_id}' lacks {', '.join(missing)}")
        for f in ("flash_bytes", "ram_bytes", "runtime_flash_bytes", "runtime_ram_bytes"):
            if not isinstance(t[f], int) or t[f] < 0:
                raise BoardProfileError(f"'{path}': board '{board_id}' field {f} = {t[f]!r}, expected "
                                 "a whole number of bytes")
        if t["runtime_flash_bytes"] >= t["flash_bytes"] or t["runtime_ram_bytes"] >= t["ram_bytes"]:
            raise BoardProfileError(f"'{path}': board '{board_id}': the runtime alone fills the chip")
        boards[board_id] = BoardProfile(board_id=board_id, sensors=tuple(t.get("sensors", ())),
                                 **{f: t[f] for f in _FIELDS})
    return boards


def get_board(board_id: str, path: str | pathlib.Path | None = None) -> BoardProfile:
    """One board profile by id.

    Raises:
        BoardProfileError: unknown id (the message lists the known ones).
    """
    boards = load_boards(path)
    if board_id not in boards:
        raise BoardProfileError(f"unknown board '{board_id}'; known boards: {', '.join(boards)}")
    return boards[board_id]
