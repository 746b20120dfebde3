"""Stage 9 — report: does a model fit each kit? Flash and RAM, in bytes and in plain words.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "Does it fit?"). A model that does not fit
is a result to report ("needs 300 KB RAM, board has 256 KB"), never a crash.
"""

from __future__ import annotations

import dataclasses
import pathlib

from .boards import Board, load_boards
from .export import CrossCompileError, compile_for_cortex_m4, cortex_m4_command

__all__ = ["FitResult", "ModelFlash", "TFLITE_BYTES_METHOD", "fit_check", "fit_report",
           "format_fit_table", "measure_model_flash"]

#: ``ModelFlash.method`` when the size is the ``.tflite`` file's (no cross compiler).
TFLITE_BYTES_METHOD = "tflite-bytes"


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The fit of one model on one board.

    Attributes:
        board_id, board_name: which board.
        fits: True when both flash and RAM suffice.
        flash_bytes: flash the deployed program needs (runtime + model), bytes.
        ram_bytes: RAM it needs (runtime + tensor arena + the sketch's sample buffer), bytes.
        flash_available_bytes, ram_available_bytes: what the board has, bytes.
        message: one sentence for a student.
    """

    board_id: str
    board_name: str
    fits: bool
    flash_bytes: int
    ram_bytes: int
    flash_available_bytes: int
    ram_available_bytes: int
    message: str


def _kb(n: int) -> str:
    """Bytes as KB below 1 MB, MB below 1 GB, else GB (1 KB = 1024 B)."""
    if n < 1024 ** 2:
        return f"{n / 1024:,.0f} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:,.0f} MB"
    return f"{n / 1024 ** 3:,.1f} GB"


def fit_check(board: Board, model_bytes: int, arena_bytes: int, buffer_bytes: int = 0) -> FitResult:
    """Check one model against one board's budget.

    Args:
        board: a :class:`~tinymlkit.boards.Board`.
        model_bytes: flash the model takes, bytes: the ``.tflite`` flatbuffer's size, or the
            compiled ``model_data.cc`` from :func:`measure_model_flash`.
        arena_bytes: tensor arena, bytes.
        buffer_bytes: other RAM the sketch needs for this model, e.g. the float window buffer
            ``window * channels * 4``, bytes.

    Returns:
        A :class:`FitResult` (``fits`` False with a message when it does not fit).

    Raises:
        ValueError: a size is negative.
    """
    if min(model_bytes, arena_bytes, buffer_bytes) < 0:
        raise ValueError("sizes must not be negative")
    flash = board.runtime_flash_bytes + int(model_bytes)
    ram = board.runtime_ram_bytes + int(arena_bytes) + int(buffer_bytes)
    problems = []
    if flash > board.flash_bytes:
        problems.append(f"needs {_kb(flash)} flash, board has {_kb(board.flash_bytes)}")
    if ram > board.ram_bytes:
        problems.append(f"needs {_kb(ram)} RAM, board has {_kb(board.ram_bytes)}")
    if problems:
        message = f"does not fit: {'; '.join(problems)}"
    else:
        message = (f"fits: {_kb(flash)} of {_kb(board.flash_bytes)} flash "
                   f"({100 * flash / board.flash_bytes:.0f}%), {_kb(ram)} of "
                   f"{_kb(board.ram_bytes)} RAM ({100 * ram / board.ram_bytes:.0f}%)")
    return FitResult(board.board_id, board.name, not problems, flash, ram, board.flash_bytes,
                     board.ram_bytes, message)


def fit_report(model_bytes: int, arena_bytes: int, buffer_bytes: int = 0,
               boards: dict[str, Board] | None = None) -> dict[str, FitResult]:
    """:func:`fit_check` on every board (default: all of ``boards.toml``); ``{board_id: FitResult}``."""
    boards = boards if boards is not None else load_boards()
    return {bid: fit_check(b, model_bytes, arena_bytes, buffer_bytes) for bid, b in boards.items()}


def format_fit_table(results: dict[str, FitResult]) -> str:
    """A plain-text table, one board per line, for terminals and notebooks."""
    width = max(len(r.board_name) for r in results.values())
    return "\n".join(f"  {'✔' if r.fits else '✘'} {r.board_name:<{width}}  {r.message}"
                     for r in results.values())


@dataclasses.dataclass(frozen=True)
class ModelFlash:
    """How much flash the model array takes on a kit, and how that was found.

    Attributes:
        flash_bytes: bytes of flash (text + data) of the compiled ``model_data.cc``, or the
            ``.tflite`` size when it could not be compiled.
        method: the compile command (``"arm-none-eabi-g++ -mcpu=cortex-m4 ..."``) or
            ``"tflite-bytes"``.
        note: why the fallback was used ("" when compiled).
    """

    flash_bytes: int
    method: str
    note: str = ""


def measure_model_flash(model_source: str | pathlib.Path, tflite_bytes: int) -> ModelFlash:
    """Flash of the exported model array, compiled for the Cortex-M4F when the toolchain exists.

    Compiles ``model_data.cc`` with :func:`tinymlkit.export.compile_for_cortex_m4` (the array, its
    16-byte alignment and its size constant, as the sketch links them); without
    ``arm-none-eabi-g++``, or if the compile fails, falls back to the ``.tflite`` size, which is
    what the array holds.

    Args:
        model_source: the exported ``model_data.cc`` (its ``model_data.h`` beside it).
        tflite_bytes: size of the ``.tflite`` flatbuffer, bytes (the fallback).

    Returns:
        A :class:`ModelFlash`.
    """
    try:
        sizes = compile_for_cortex_m4([model_source])
    except CrossCompileError as exc:
        return ModelFlash(int(tflite_bytes), TFLITE_BYTES_METHOD, str(exc).splitlines()[0])
    return ModelFlash(sizes.flash_bytes, cortex_m4_command())
