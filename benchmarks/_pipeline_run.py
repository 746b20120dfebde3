"""Shared by the `make bench` scripts that time a `tinymlkit` pipeline command as a student runs it."""

from __future__ import annotations

import json
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_pipeline(command: str, out: pathlib.Path) -> tuple[dict, float, float] | int:
    """Run ``python -m tinymlkit <command> --out <out> --no-progress`` from the repository root.

    Returns:
        ``(report, wall_s, peak_mb)``: the command's ``report.json``, its wall time in s (Python and
        TensorFlow start included) and the peak RSS of the largest child process in MB (Linux
        ``ru_maxrss`` is in KiB); or the command's non-zero exit status, after saying it failed.
    """
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", command, "--out", str(out),
                           "--no-progress"], cwd=ROOT)
    wall_s = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"tinymlkit {command} failed with exit status {proc.returncode}")
        return proc.returncode
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return json.loads((out / "report.json").read_text()), wall_s, peak_mb


def print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    """Print ``(label, value)`` rows under a title, labels padded to one column."""
    width = max(len(k) for k, _ in rows)
    print(f"\nTinyML Lab Kit benchmark — {title}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
