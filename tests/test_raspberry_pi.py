"""The Raspberry Pi kit's script: live windows from a serial IMU (the simulated board through its
pty) classified with LiteRT and with the Edge Impulse SDK running a `tinymlkit eim` runner."""

import json
import pathlib
import subprocess
import sys

import numpy as np

from tinymlkit.capture import Board
from tinymlkit.edgeimpulse import build_eim
from tinymlkit.export import load_model_files
from tinymlkit.quantize import quantize
from tinymlkit.simboard import SimulatedBoard, SimulationConfig
from tinymlkit.tflm import predict_int8

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "hardware" / "raspberry_pi" / "motion_inference.py"
N = 6


def run_script(port, *args):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--port", port, "--windows", str(N), "--json",
                           "--act", "ROW", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def expected_windows(model_dir):
    """The same windows, streamed by a fresh simulated board with the same commands."""
    _, s = load_model_files(model_dir)
    with SimulatedBoard(SimulationConfig(speed=20)) as sim, Board(sim.port) as board:
        board.act("ROW")
        return list(board.stream_windows(s.window_samples, s.stride_samples, N))


def test_litert_and_edge_impulse_runtimes_classify_the_live_stream(demo_run, tmp_path):
    out, _ = demo_run
    model_bytes, s = load_model_files(out)
    windows = expected_windows(out)
    x = quantize(s.normalization.apply(np.stack([w for _, w in windows])), s.input_quant)
    reference, _ = predict_int8(model_bytes, x)
    want = [s.labels[k] for k in reference.argmax(1)]

    with SimulatedBoard(SimulationConfig(speed=20)) as sim:
        litert = run_script(sim.port, "--runtime", "litert", "--model", str(out))
    eim = build_eim(out, tmp_path / "model.eim")
    with SimulatedBoard(SimulationConfig(speed=20)) as sim:
        ei = run_script(sim.port, "--runtime", "ei", "--eim", str(eim))

    assert [r["counter"] for r in litert] == [c for c, _ in windows] == [r["counter"] for r in ei]
    assert [r["label"] for r in litert] == want, "LiteRT on the Pi disagrees with TFLM on the same windows"
    assert [r["label"] for r in ei] == want, "the Edge Impulse runner disagrees with TFLM"
    for r in litert + ei:
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-4 and set(r["probabilities"]) == set(s.labels)


def test_script_explains_a_missing_model(tmp_path):
    with SimulatedBoard(SimulationConfig(speed=20)) as sim:
        proc = subprocess.run([sys.executable, str(SCRIPT), "--port", sim.port, "--runtime", "litert",
                               "--model", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "file not found. Export the model first" in proc.stderr
