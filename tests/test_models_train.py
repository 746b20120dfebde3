"""Stages 3-4: the model builder and seeded, deterministic training."""

import numpy as np
import pytest

from tinymlkit.models import build_cnn1d, count_parameters
from tinymlkit.quantize import model_io, quantize, quantize_int8
from tinymlkit.tflm import predict_int8
from tinymlkit.train import predict_classes, train_classifier


def test_cnn_shapes_and_size():
    model = build_cnn1d(100, 6, 7)
    assert model.input_shape == (None, 100, 6)
    assert model.output_shape == (None, 7)
    assert count_parameters(model) < 16_000  # int8 weights must stay far below the 16 KB model budget
    with pytest.raises(ValueError, match="filters must be positive"):
        build_cnn1d(100, 6, 7, filters=0)


def _small_problem():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=240)
    t = np.linspace(0, 2 * np.pi, 40, dtype=np.float32)
    x = np.stack([np.sin((k + 1) * t)[:, None] * np.ones((1, 6), np.float32) for k in y])
    return (x + 0.3 * rng.normal(size=x.shape)).astype(np.float32), y


def _train_and_run_int8(seed):
    x, y = _small_problem()
    model = build_cnn1d(40, 6, 3, filters=4, n_blocks=2, seed=seed)
    result = train_classifier(model, x[:180], y[:180], epochs=3, seed=seed, progress=False)
    tflite = quantize_int8(result.model, x[:180], n_samples=50, seed=seed)
    out, _ = predict_int8(tflite, quantize(x[180:], model_io(tflite).input_quant))
    acc = float(np.mean(out.argmax(1) == y[180:]))
    return [w.copy() for w in result.model.get_weights()], out, acc


def test_same_seed_same_initial_model():
    a = build_cnn1d(40, 6, 3, filters=4, n_blocks=2, seed=7).get_weights()
    build_cnn1d(40, 6, 3, filters=4, n_blocks=2, seed=None)  # global random state moves on
    b = build_cnn1d(40, 6, 3, filters=4, n_blocks=2, seed=7).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_same_seed_same_int8_result():
    w1, out1, acc1 = _train_and_run_int8(seed=0)
    w2, out2, acc2 = _train_and_run_int8(seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert np.array_equal(out1, out2) and acc1 == acc2
    w3, _, _ = _train_and_run_int8(seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))  # the seed does matter


def test_training_rejects_mismatched_labels():
    x, y = _small_problem()
    model = build_cnn1d(40, 6, 3, filters=4, n_blocks=2)
    with pytest.raises(ValueError, match="240 windows but y_train has 10"):
        train_classifier(model, x, y[:10], epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels must be 0..2"):
        train_classifier(model, x, y + 5, epochs=1, progress=False)


def test_predict_classes_shape():
    x, _ = _small_problem()
    pred = predict_classes(build_cnn1d(40, 6, 3, filters=4, n_blocks=2), x[:7])
    assert pred.shape == (7,) and pred.dtype == np.int64
