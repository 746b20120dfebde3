"""Issue #4 end to end through the pty: capture → dataset → train → export → inference on the
simulated board, with the real pyserial, the real TFLM interpreter and the exported files."""

import numpy as np

from tinymlkit.capture import Board, load_captures, record_samples
from tinymlkit.export import ModelSettings, load_model_files, write_model_files
from tinymlkit.features import fit_normalization, window_recordings
from tinymlkit.models import build_cnn1d
from tinymlkit.quantize import model_io, quantize_int8
from tinymlkit.simboard import REST, SimulatedBoard, SimulationConfig
from tinymlkit.tflm import measure_arena
from tinymlkit.train import train_classifier

CLASSES = ("PEN", "ROW", REST)


def test_capture_train_export_and_classify_on_the_simulated_board(tmp_path):
    session = tmp_path / "session"
    with SimulatedBoard(SimulationConfig(subject=2, speed=20, seed=3)) as sim, Board(sim.port) as board:
        for label in CLASSES:
            board.act(label)
            summary = record_samples(board, label, 6, 4.0, session, person="s02", progress=False)
            assert len(summary.saved) == 6 and summary.retried == 0
    ds = load_captures(session, class_names=CLASSES)
    assert len(ds) == 18 and np.bincount(ds.labels).tolist() == [6, 6, 6]

    windows = window_recordings(ds.recordings, ds.labels, ds.subject_ids, window=100, stride=10)
    norm = fit_normalization(windows.x)
    model = build_cnn1d(100, 6, len(CLASSES), filters=8, n_blocks=2, seed=0)
    train_classifier(model, norm.apply(windows.x), windows.y, epochs=30, batch_size=32, progress=False)
    model_bytes = quantize_int8(model, norm.apply(windows.x), n_samples=100)
    io_ = model_io(model_bytes)
    arena = measure_arena(model_bytes)
    settings = ModelSettings(labels=CLASSES, channel_names=ds.channel_names, window_samples=100,
                             stride_samples=50, sample_rate_hz=ds.sample_rate_hz,
                             input_quant=io_.input_quant, output_quant=io_.output_quant,
                             normalization=norm, arena_bytes=arena.arena_bytes,
                             arena_method=arena.method)
    files = write_model_files(tmp_path / "model", model_bytes, settings)
    assert load_model_files(files["tflite"]) [0] == model_bytes

    predictions = {}
    config = SimulationConfig(subject=2, speed=20, seed=4, model=str(tmp_path / "model"))
    with SimulatedBoard(config) as sim, Board(sim.port) as board:
        assert board.header.extra["model"] == "yes"
        for label in CLASSES:
            board.act(label)
            results = []
            for _ in range(5):
                board.record(seconds=2.5)  # let a whole new window of this activity pass
                results.append(board.infer())
            predictions[label] = [r.label for r in results]
            assert all(len(r.logits) == 3 and r.micros > 0 for r in results)
    correct = {label: got.count(label) for label, got in predictions.items()}
    assert all(c >= 4 for c in correct.values()), f"predictions per performed class: {predictions}"
