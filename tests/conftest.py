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


def _cli_run_once(tmp_path_factory, command: str, *args: str) -> tuple[pathlib.Path, dict]:
    """``python -m tinymlkit <command> --out <dir> <args> --no-progress`` once per test run, shared
    by every xdist worker under a file lock: (out_dir, its report.json)."""
    shared = tmp_path_factory.getbasetemp().parent  # common to all xdist workers
    # One run per test session: xdist workers of a run share PYTEST_XDIST_TESTRUNUID; a plain run
    # has its own pid. (A cache shared across runs would serve files from older code.)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid{os.getpid()}")
    out = shared / f"{command}-{run}"
    with open(shared / f"{command}-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "report.json").exists():
            proc = subprocess.run([sys.executable, "-m", "tinymlkit", command, "--out", str(out), *args,
                                   "--no-progress"], capture_output=True, text=True, timeout=900)
            (shared / f"{command}-{run}.log").write_text(proc.stdout + proc.stderr)
            assert proc.returncode == 0, f"tinymlkit {command} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    """``tinymlkit demo --epochs 4`` run once through the command line; (out_dir, report)."""
    return _cli_run_once(tmp_path_factory, "demo", "--epochs", str(TEST_EPOCHS))


@pytest.fixture(scope="session")
def anomaly_run(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    """``tinymlkit anomaly --epochs 30`` run once through the command line; (out_dir, report)."""
    return _cli_run_once(tmp_path_factory, "anomaly", "--epochs", "30")


#: Compiler warnings of every host build of the kit's code: any warning fails the build.
#: -Wdouble-promotion: no float silently widened to double (a slow path on a Cortex-M4F).
NATIVE_WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wdouble-promotion"]


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> pathlib.Path:
    """tests/native/tmk_driver.cpp + TinyMLKit's .cpp files (hardware/libraries/TinyMLKit/src),
    built once per test session with g++ and every warning an error."""
    import shutil

    if shutil.which("g++") is None:
        pytest.skip("g++ not installed (scripts/system_deps.sh installs it)")
    root = pathlib.Path(__file__).resolve().parents[1]
    src = root / "hardware" / "libraries" / "TinyMLKit" / "src"
    exe = tmp_path_factory.mktemp("native") / "tmk_driver"
    proc = subprocess.run(["g++", "-std=c++17", "-O2", *NATIVE_WARNINGS, f"-I{src}",
                           str(root / "tests" / "native" / "tmk_driver.cpp"),
                           *map(str, sorted(src.glob("*.cpp"))), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, f"the library or driver does not build cleanly:\n{proc.stderr}"
    return exe


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
