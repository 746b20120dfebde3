"""Shared fixtures. The trained demo is built once per test session, even with pytest-xdist
workers: the first worker runs the real CLI under a file lock, the others reuse its output."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Short training for tests: enough to learn (accuracy well above chance), fast on 2 cores.
TEST_EPOCHS = 4


@pytest.fixture(scope="session")
def motion():
    from tinymlkit.datasets import load_motion

    return load_motion()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    """``tinymlkit demo --epochs 4`` run once through the command line; (out_dir, report)."""
    shared = tmp_path_factory.getbasetemp().parent  # common to all xdist workers
    # One demo per test run: xdist workers of a run share PYTEST_XDIST_TESTRUNUID; a plain run
    # has its own pid. (A cache shared across runs would serve files from older code.)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}")
    out = shared / f"demo-{run}"
    with open(shared / f"demo-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "report.json").exists():
            proc = subprocess.run([sys.executable, "-m", "tinymlkit", "demo", "--out", str(out),
                                   "--epochs", str(TEST_EPOCHS), "--no-progress"],
                                  capture_output=True, text=True, timeout=900)
            (shared / f"demo-{run}.log").write_text(proc.stdout + proc.stderr)
            assert proc.returncode == 0, f"tinymlkit demo failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def anomaly_run(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    """``tinymlkit anomaly --epochs 30`` run once through the command line; (out_dir, report)."""
    shared = tmp_path_factory.getbasetemp().parent
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}")
    out = shared / f"anomaly-{run}"
    with open(shared / f"anomaly-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "report.json").exists():
            proc = subprocess.run([sys.executable, "-m", "tinymlkit", "anomaly", "--out", str(out),
                                   "--epochs", "30", "--no-progress"],
                                  capture_output=True, text=True, timeout=900)
            (shared / f"anomaly-{run}.log").write_text(proc.stdout + proc.stderr)
            assert proc.returncode == 0, f"tinymlkit anomaly failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def demo_model(demo_run) -> bytes:
    return (demo_run[0] / "model_int8.tflite").read_bytes()


@pytest.fixture(scope="session")
def test_windows_int8(demo_run, demo_model, motion):
    """The demo's unseen-subject test windows, normalised and quantized as the demo did."""
    import numpy as np

    from tinymlkit.features import Normalization, window_recordings
    from tinymlkit.datasets import subject_split
    from tinymlkit.quantize import model_io, quantize

    report = demo_run[1]
    _, test_mask = subject_split(motion.subject_ids, tuple(report["test_subjects"]))
    test = window_recordings(motion.recordings, motion.labels, motion.subject_ids,
                             report["window_samples"], report["stride_samples"],
                             sides=motion.sides, indices=test_mask)
    norm = Normalization(np.asarray(report["normalization"]["mean"], np.float32),
                         np.asarray(report["normalization"]["std"], np.float32))
    return quantize(norm.apply(test.x), model_io(demo_model).input_quant), test.y
