"""Stage 7b — op resolver: which TFLM operators a sketch registers, checked against a model.

Taught in ``modules/07_deployment.ipynb`` (op resolver check). On the kit a missing op makes
``AllocateTensors()`` fail ("Didn't find op for builtin opcode ..."); :func:`check_op_resolver`
finds it on the laptop, before flashing, by reading the sketch's ``MicroMutableOpResolver``.
"""

from __future__ import annotations

import pathlib
import re

from .tflm import model_ops

__all__ = ["check_op_resolver", "resolver_ops"]


def _schema_op_name(add_call: str) -> str:
    # AddConv2D -> CONV_2D, AddDepthwiseConv2D -> DEPTHWISE_CONV_2D, AddFullyConnected -> FULLY_CONNECTED
    # (RELU6 keeps its digit: a digit starts a word only as in "2D")
    words = re.sub(r"(?<=[a-z])(?=[A-Z]|[0-9]D)|(?<=[0-9]D)(?=[A-Z])", "_", add_call)
    return words.upper()


def resolver_ops(source: str | pathlib.Path) -> tuple[set[str], list[int]]:
    """The operators a sketch registers with TFLM's ``MicroMutableOpResolver``, and its capacities.

    Args:
        source: a sketch or C++ file (path), or its text.

    Returns:
        ``(ops, capacities)``: the schema names of every ``.Add<Op>()`` call (``AddConv2D()`` →
        ``"CONV_2D"``), and the ``N`` of each ``MicroMutableOpResolver<N>`` declared (the most
        ``Add`` calls it accepts; TFLM micro_mutable_op_resolver.h).

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
    """
    text = source.read_text() if isinstance(source, pathlib.Path) else str(source)
    ops = {_schema_op_name(m) for m in re.findall(r"\.Add([A-Z][A-Za-z0-9]*)\(\)", text)}
    capacities = [int(n) for n in re.findall(r"MicroMutableOpResolver<\s*(\d+)\s*>", text)]
    return ops, capacities


def check_op_resolver(model_bytes: bytes, source: str | pathlib.Path) -> list[str]:
    """What stops a sketch's op resolver from running a model, in plain words.

    On the kit a missing op makes ``AllocateTensors()`` fail ("Didn't find op for builtin
    opcode ..."), and more ``Add`` calls than the resolver's ``N`` fail at start-up; this finds
    both on the laptop before flashing.

    Args:
        model_bytes: the ``.tflite`` model the sketch will run.
        source: the sketch (path or text) that builds the resolver.

    Returns:
        A list of problems; empty when the sketch registers every op the model uses.

    Raises:
        ValueError: ``model_bytes`` is not a ``.tflite`` model, or the source declares no
            ``MicroMutableOpResolver`` and registers no op.
    """

    name = source.name if isinstance(source, pathlib.Path) else "the sketch"
    ops, capacities = resolver_ops(source)
    if not ops and not capacities:
        raise ValueError(f"{name} declares no MicroMutableOpResolver and adds no op")
    problems = [f"{name} does not register {op}: add the resolver's Add"
                f"{''.join(w if w[0].isdigit() else w.capitalize() for w in op.split('_'))}() call"
                for op in model_ops(model_bytes) if op not in ops]
    add_calls = len(re.findall(r"\.Add[A-Z][A-Za-z0-9]*\(\)",
                               source.read_text() if isinstance(source, pathlib.Path) else source))
    if capacities and add_calls > max(capacities):
        problems.append(f"{name} makes {add_calls} Add calls but MicroMutableOpResolver<{max(capacities)}> "
                        f"holds {max(capacities)}: raise N")
    return problems
