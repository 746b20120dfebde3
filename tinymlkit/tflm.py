"""Stage 6 — tflm: run ``.tflite`` models in the real TFLM interpreter and size the tensor arena.

Taught in ``modules/01_pipeline_tour.ipynb`` (section "TFLM and the tensor arena") and
``modules/07_deployment.ipynb`` (what a ``.tflite`` holds, the arena, two interpreters).

The interpreter is TensorFlow Lite for Microcontrollers' C++ code, built for the host by the
``tflite-micro`` pip package (``tflite_micro.python.tflite_micro.runtime``): the same kernels and
the same arena planner a kit runs. Its wheels exist only for Linux x86_64; elsewhere this module
falls back to LiteRT's reference kernels with an *estimated* arena, and every result says which
(``arena_method``).

Two measures of the tensor arena:

* ``recorded_bytes`` — TFLM's ``RecordingMicroAllocator`` total after a real ``invoke``
  (``Interpreter.print_allocations``; TFLM docs: tensorflow/lite/micro/docs/memory_management.md).
* ``arena_bytes`` — the smallest arena with which the interpreter allocates and invokes,
  found by a search. Each probe runs in a child process, because TFLM given a far too small
  arena can crash the whole process instead of returning an error.

Both are measured on a 64-bit host; a 32-bit microcontroller needs a little less for TFLM's own
bookkeeping (pointers are 4 bytes, not 8), so the host figure is a safe upper bound.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np

from .native import captured_fd2
from .quantize import ModelIO, QuantParams, litert_interpreter, check_model_input, litert_predict, model_io

__all__ = ["ArenaReport", "tflm_available", "measure_arena", "model_ops", "model_tensors", "TensorInfo", "tflm_predict",
           "predict_int8", "tflm_model_io"]

#: TFLM aligns arena allocations to 16 bytes (MicroArenaBufferAlignment() in
#: tensorflow/lite/micro/memory_helpers.h); the search works at that granularity.
ARENA_ALIGNMENT_BYTES = 16


def tflm_available() -> bool:
    """True when the ``tflite-micro`` interpreter can be imported (Linux x86_64)."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except ImportError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class ArenaReport:
    """How much tensor arena a model needs.

    Attributes:
        arena_bytes: the smallest arena that works (TFLM) or an estimate (fallback), in bytes.
        recorded_bytes: TFLM's recorded total after one invoke, in bytes (None in fallback).
        method: ``"tflm-minimal-search"`` or ``"litert-estimate"``.
        breakdown: recorded allocation per kind, bytes (e.g. ``"TfLiteEvalTensor data": 336``),
            plus ``"head"``/``"tail"`` (non-persistent / persistent sections).
        note: a sentence a student can read about how the figure was obtained.
    """

    arena_bytes: int
    recorded_bytes: int | None
    method: str
    breakdown: dict[str, int]
    note: str


def _runtime():
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def _interpreter(model_bytes: bytes, arena_bytes: int):
    runtime = _runtime()
    return runtime.Interpreter.from_bytes(
        model_bytes, arena_size=int(arena_bytes),
        intrepreter_config=runtime.InterpreterConfig.kAllocationRecording)


def _generous_arena(model_bytes: bytes) -> int:
    return max(256 * 1024, 10 * len(model_bytes))


def _io_from_interpreter(interp) -> ModelIO:
    """The input/output shapes, dtypes and quantization as TFLM's interpreter reports them."""

    def qp(d):
        q = d["quantization_parameters"]
        scales, zero_points = q["scales"], q["zero_points"]
        return QuantParams(float(scales[0]) if len(scales) else 0.0,
                           int(zero_points[0]) if len(zero_points) else 0)

    i, o = interp.get_input_details(0), interp.get_output_details(0)
    return ModelIO(tuple(int(v) for v in i["shape"]), tuple(int(v) for v in o["shape"]),
                   i["dtype"], o["dtype"], qp(i), qp(o))


def tflm_model_io(model_bytes: bytes) -> ModelIO:
    """Input/output shapes, dtypes and quantization of a model, as TFLM reads it.

    :func:`tinymlkit.quantize.model_io` asks LiteRT's Python interpreter, which refuses some
    models TFLM runs: the TFLM person-detection model quantizes its depthwise weights per channel
    on dimension 3, which LiteRT's verifier rejects ("quantized_dimension must be in range [0, 1)").
    This tries LiteRT first and then TFLM itself.

    Args:
        model_bytes: a ``.tflite`` flatbuffer.

    Returns:
        A :class:`tinymlkit.quantize.ModelIO` (first input and output).

    Raises:
        ValueError: neither LiteRT nor TFLM reads the bytes as a model (LiteRT's message).
    """
    try:
        return model_io(model_bytes)
    except ValueError as exc:
        # Only the verifier's per-channel-dimension refusal goes on to TFLM: TFLM does not verify
        # a flatbuffer, so bytes LiteRT finds corrupt could crash it.
        if not tflm_available() or "quantized_dimension" not in str(exc):
            raise
        try:
            interp = _interpreter(model_bytes, _generous_arena(model_bytes))
        except Exception:
            raise ValueError(f"not a .tflite model that TFLM or LiteRT can read ({len(model_bytes)} bytes)") from None
        return _io_from_interpreter(interp)


def _record_allocations(model_bytes: bytes) -> tuple[int, dict[str, int]]:
    """Invoke once in a generous arena and read TFLM's allocation recording from fd 2."""
    interp = _interpreter(model_bytes, _generous_arena(model_bytes))
    io_ = _io_from_interpreter(interp)
    interp.set_input(np.zeros(io_.input_shape, dtype=io_.input_dtype), 0)
    interp.invoke()
    with captured_fd2() as captured:
        interp.print_allocations()
    text = captured.text
    total = re.search(r"Arena allocation total (\d+) bytes", text)
    if not total:
        raise RuntimeError(f"could not read TFLM's allocation recording; it printed: {text[:500]!r}")
    breakdown = {m.group(1): int(m.group(2))
                 for m in re.finditer(r"'([^']+)' used (\d+) bytes", text)}
    for part in ("head", "tail"):
        m = re.search(rf"Arena allocation {part} (\d+) bytes", text)
        if m:
            breakdown[part] = int(m.group(1))
    return int(total.group(1)), breakdown


_PROBE_TOO_SMALL = 3  # exit status of a probe whose arena was too small
_BRACKET_BYTES = 512  # first step above the recorded total when bracketing the minimal arena


def _probe(model_path: pathlib.Path, arena_bytes: int) -> bool:
    """True if TFLM allocates and invokes the model within ``arena_bytes`` (in a child process).

    False when TFLM reports that the arena is too small, or crashes (as it can for a tiny arena).

    Raises:
        RuntimeError: the child failed for another reason (its error output is in the message).
    """
    proc = subprocess.run([sys.executable, "-m", "tinymlkit.tflm", "--probe", str(model_path),
                           str(arena_bytes)], capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        return True
    if proc.returncode == _PROBE_TOO_SMALL or proc.returncode < 0:  # < 0: killed by a signal
        return False
    raise RuntimeError(f"the arena probe failed (exit status {proc.returncode}):\n{proc.stderr[-2000:]}")


def measure_arena(model_bytes: bytes) -> ArenaReport:
    """Measure the tensor arena a model needs in TFLM (or estimate it where TFLM is missing).

    Args:
        model_bytes: a ``.tflite`` model.

    Returns:
        An :class:`ArenaReport`; ``arena_bytes`` is a multiple of 16.

    Raises:
        ValueError: the bytes are not a valid model.
        RuntimeError: TFLM cannot run the model even in a 256 KB arena (an unsupported op; the
            message says which).
    """
    tflm_model_io(model_bytes)  # clear ValueError for bytes that are not a model
    if not tflm_available():
        return _estimate_arena(model_bytes)
    recorded, breakdown = _record_allocations(model_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "model.tflite"
        path.write_bytes(model_bytes)
        step = ARENA_ALIGNMENT_BYTES
        # The answer is usually the recording plus a few hundred bytes of the interpreter's own
        # objects, so bracket it with growing steps from the recording (fewer child processes
        # than doubling the whole arena).
        start = -(-recorded // step) * step
        if _probe(path, start):
            hi, lo = start, max(step, start - _BRACKET_BYTES)
            if _probe(path, lo):
                lo = step
        else:
            lo, grow = start, _BRACKET_BYTES
            while not _probe(path, lo + grow):
                lo, grow = lo + grow, grow * 2
                if lo > _generous_arena(model_bytes):
                    raise RuntimeError("TFLM could not run the model in any arena size tried")
            hi = lo + grow
        # invariant: hi works, lo does not (or is the floor)
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            if _probe(path, mid):
                hi = mid
            else:
                lo = mid
    return ArenaReport(arena_bytes=hi, recorded_bytes=recorded, method="tflm-minimal-search",
                       breakdown=breakdown,
                       note=(f"TFLM (tflite-micro) allocated and ran the model in {hi} bytes and "
                             f"failed with {hi - step}; its allocation recording reported "
                             f"{recorded} bytes."))


def _open_model(model_bytes: bytes):
    """A LiteRT interpreter (reference kernels) for reading a model's graph; ValueError if the
    bytes are not a ``.tflite`` model."""

    try:
        return litert_interpreter(model_bytes)
    except ValueError as exc:
        raise ValueError(f"not a .tflite model ({len(model_bytes)} bytes): {exc}") from exc


def model_ops(model_bytes: bytes) -> list[str]:
    """The builtin operators a model uses: what a sketch's op resolver must register.

    Args:
        model_bytes: a ``.tflite`` flatbuffer.

    Returns:
        Operator names as in the TFLite schema (``"CONV_2D"``, ``"FULLY_CONNECTED"``, ...), each
        once, in the order the model first runs them. TFLM's ``MicroMutableOpResolver`` needs one
        ``Add...()`` call per name (``AddConv2D()``, ``AddFullyConnected()``; TFLM
        micro_mutable_op_resolver.h).

    Raises:
        ValueError: the bytes are not a ``.tflite`` model.
    """
    interp = _open_model(model_bytes)
    names: list[str] = []
    for op in interp._get_ops_details():
        if op["op_name"] not in names:
            names.append(op["op_name"])
    return names


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor of a ``.tflite`` model, as :func:`model_tensors` reads it.

    Attributes:
        index: the tensor's index in the model's subgraph.
        name: the converter's name (usually the Keras layer path).
        shape: dimensions, batch first for activations.
        dtype: numpy dtype name (``"int8"``, ``"int32"``, ``"float32"``).
        scales, zero_points: quantization parameters, one per tensor or one per output channel
            (per-channel weights); empty for unquantized tensors.
        constant: True for weights and biases stored in the file (they go to flash on a kit);
            False for the input and activations (they live in the tensor arena).
        nbytes: bytes of the tensor's data (elements × item size).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    constant: bool
    nbytes: int


def model_tensors(model_bytes: bytes) -> list[TensorInfo]:
    """Every tensor of a ``.tflite`` model with its shape, dtype, quantization and size.

    A tensor is a constant when no operator writes it and it is not a model input; that is
    the data the flatbuffer stores (TFLite schema, ``Buffer``).

    Args:
        model_bytes: a ``.tflite`` flatbuffer.

    Returns:
        A list of :class:`TensorInfo`, by tensor index.

    Raises:
        ValueError: the bytes are not a ``.tflite`` model.
    """
    interp = _open_model(model_bytes)
    written = {t for op in interp._get_ops_details() for t in op["outputs"]}
    written |= {d["index"] for d in interp.get_input_details()}
    tensors = []
    for d in interp.get_tensor_details():
        q = d["quantization_parameters"]
        dtype = np.dtype(d["dtype"])
        tensors.append(TensorInfo(index=int(d["index"]), name=d["name"],
                                  shape=tuple(int(v) for v in d["shape"]), dtype=dtype.name,
                                  scales=tuple(float(v) for v in q["scales"]),
                                  zero_points=tuple(int(v) for v in q["zero_points"]),
                                  constant=d["index"] not in written,
                                  nbytes=int(np.prod(d["shape"])) * dtype.itemsize))
    return sorted(tensors, key=lambda t: t.index)


def _estimate_arena(model_bytes: bytes) -> ArenaReport:
    """Fallback: sum of every activation tensor (no buffer reuse) plus TFLM bookkeeping."""

    interp = litert_interpreter(model_bytes)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    activations = {t for op in ops for t in op["outputs"]}
    activations |= {d["index"] for d in interp.get_input_details()}
    tensors = {d["index"]: d for d in interp.get_tensor_details()}
    data = sum(int(np.prod(tensors[t]["shape"])) * np.dtype(tensors[t]["dtype"]).itemsize
               for t in activations if t in tensors)
    bookkeeping = 64 * len(ops) + 48 * len(tensors)  # NodeAndRegistration + TfLiteEvalTensor, 64-bit
    total = -(-(data + bookkeeping) // ARENA_ALIGNMENT_BYTES) * ARENA_ALIGNMENT_BYTES
    return ArenaReport(arena_bytes=int(total), recorded_bytes=None, method="litert-estimate",
                       breakdown={"activations": int(data), "bookkeeping": int(bookkeeping)},
                       note=("tflite-micro is not installed on this platform (Linux x86_64 "
                             "only), so this is an estimate from LiteRT: every activation "
                             "tensor with no reuse plus bookkeeping — usually larger than "
                             "what TFLM needs. Measure on Linux or on the kit for the real figure."))


def tflm_predict(model_bytes: bytes, x_int8: np.ndarray, arena_bytes: int | None = None,
                 progress: bool = False) -> np.ndarray:
    """Run an int8 model on a batch of int8 windows, one invoke per window, in TFLM.

    Args:
        model_bytes: a full-integer ``.tflite`` model.
        x_int8: ``(n_windows, *input_shape[1:])`` int8, quantized with the input's params.
        arena_bytes: tensor arena size; default a generous 256 KB.
        progress: show a tqdm bar.

    Returns:
        ``(n_windows, n_classes)`` int8 raw outputs.

    Raises:
        ImportError: ``tflite-micro`` is not installed (use :func:`predict_int8` for the fallback).
        ValueError: the windows do not match the model's input shape or dtype.
        RuntimeError: the arena is too small for the model.
    """
    io_ = tflm_model_io(model_bytes)
    x_int8 = check_model_input(io_, x_int8)
    try:
        interp = _interpreter(model_bytes, arena_bytes or _generous_arena(model_bytes))
    except RuntimeError as exc:
        raise RuntimeError(f"TFLM could not allocate the model's tensors in a {arena_bytes}-byte "
                           f"arena ({exc}); use measure_arena() to find the size it needs") from exc
    outputs = np.empty((len(x_int8), io_.output_shape[-1]), dtype=io_.output_dtype)
    windows = x_int8
    if progress:
        from tqdm.auto import tqdm
        windows = tqdm(x_int8, desc="TFLM invoke", unit="window")
    for i, window in enumerate(windows):
        interp.set_input(window[None], 0)
        interp.invoke()
        outputs[i] = interp.get_output(0)[0]
    return outputs


def predict_int8(model_bytes: bytes, x_int8: np.ndarray, progress: bool = False) -> tuple[np.ndarray, str]:
    """Run an int8 model in TFLM, or in LiteRT's reference kernels where TFLM is not available.

    Returns:
        ``(outputs, runtime)``: ``(n_windows, n_classes)`` int8 and ``"tflm"`` or ``"litert-reference"``.
    """
    if tflm_available():
        return tflm_predict(model_bytes, x_int8, progress=progress), "tflm"
    return litert_predict(model_bytes, x_int8), "litert-reference"


def _main(argv: list[str]) -> int:
    """``python -m tinymlkit.tflm --probe MODEL ARENA_BYTES``: exit 0 if the model allocates and
    invokes in that arena, 3 if TFLM reports an error (a crash gives a signal instead)."""
    if len(argv) != 3 or argv[0] != "--probe":
        print("usage: python -m tinymlkit.tflm --probe MODEL.tflite ARENA_BYTES", file=sys.stderr)
        return 2
    model_bytes = pathlib.Path(argv[1]).read_bytes()
    try:
        interp = _interpreter(model_bytes, int(argv[2]))
        io_ = _io_from_interpreter(interp)
        interp.set_input(np.zeros(io_.input_shape, dtype=io_.input_dtype), 0)
        interp.invoke()
    except RuntimeError:
        return _PROBE_TOO_SMALL
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
