"""Learning with little data (module 08): transfer_model copies and freezes, fit_head is the
logistic regression scikit-learn fits, uncertainty_sampling picks the windows the measures of
Settles (2009) rank first; and a linear probe on features learned from four exercises learns three
new ones from five windows each, on people never seen."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from tinymlkit.models import build_cnn1d
from tinymlkit.train import (UNCERTAINTY_MEASURES, fit_head, head_features, predict_classes,
                             train_classifier, transfer_model, uncertainty_sampling)


def _separable(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 40, 3) windows whose class shifts one channel's mean: learnable by a small CNN."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    x = rng.normal(size=(n, 40, 3)).astype(np.float32)
    x[np.arange(n), :, y % 3] += 1.5 * (1 + y // 3)[:, None]
    return x, y


@pytest.fixture(scope="module")
def base():
    x, y = _separable(400, 4, seed=0)
    model = build_cnn1d(40, 3, 4, filters=4, n_blocks=2, seed=0)
    train_classifier(model, x, y, epochs=5, progress=False)
    return model


def test_transfer_model_copies_freezes_and_leaves_the_base_alone(base):
    before = [w.copy() for w in base.get_weights()]
    frozen = transfer_model(base, 3, seed=1)
    assert frozen.output_shape == (None, 3) and frozen.input_shape == base.input_shape
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]
    assert frozen.layers[-1].name == "transfer_logits"
    # the copied layers start from the base's weights
    assert all(np.array_equal(a, b) for a, b in zip(frozen.get_weights()[:-2], before[:-2]))
    x, y = _separable(120, 3, seed=2)
    train_classifier(frozen, x, y, epochs=2, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(frozen.get_weights()[:-2], before[:-2])), \
        "a frozen layer changed in training"
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), before)), "the base changed"
    unfrozen = transfer_model(base, 3, freeze=False)
    assert len(unfrozen.trainable_weights) > 2
    train_classifier(unfrozen, x, y, epochs=1, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), before)), "fine-tuning changed the base"


def test_transfer_model_rejects_what_it_cannot_use(base):
    with pytest.raises(ValueError, match="at least 2 classes"):
        transfer_model(base, 1)
    inputs = keras.Input((40, 3))
    with pytest.raises(ValueError, match="needs feature layers"):
        transfer_model(keras.Model(inputs, keras.layers.Flatten()(inputs)), 3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_head_gives_the_logistic_regression_of_the_features(base, n_classes):
    x, y = _separable(150, n_classes, seed=3)
    model = fit_head(transfer_model(base, n_classes), x, y, c=0.5)
    features = head_features(model, x)
    assert features.shape == (150, model.layers[-1].input.shape[-1]) and features.dtype == np.float32
    assert np.allclose(features, keras.Model(model.input, model.layers[-1].input).predict(x, verbose=0), atol=1e-5)
    reference = LogisticRegression(C=0.5, max_iter=5000).fit(features, y)
    probabilities = softmax(model.predict(x, verbose=0), axis=1)
    assert np.allclose(probabilities, reference.predict_proba(features), atol=1e-4)
    assert np.array_equal(predict_classes(model, x), reference.predict(features))


def test_fit_head_explains_bad_labels_and_models(base):
    x, y = _separable(60, 3, seed=4)
    model = transfer_model(base, 3)
    with pytest.raises(ValueError, match=r"missing classes \[2\]"):
        fit_head(model, x[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="x is empty"):
        head_features(model, x[:0])
    with pytest.raises(ValueError, match="60 windows but y has 59"):
        fit_head(model, x, y[:-1])
    inputs = keras.Input((40, 3))
    softmax_head = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="Dense layer with a bias and no activation"):
        fit_head(softmax_head, x, y)


def test_uncertainty_sampling_ranks_by_each_measure():
    p = np.array([[0.98, 0.01, 0.01],    # sure
                  [0.50, 0.49, 0.01],    # torn between two: smallest margin
                  [0.40, 0.30, 0.30],    # lowest top probability
                  [0.34, 0.33, 0.33],    # nearly uniform: highest entropy, lowest top
                  [0.70, 0.20, 0.10]])
    assert uncertainty_sampling(p, 2, "margin").tolist() == [1, 3]
    assert uncertainty_sampling(p, 2, "least_confident").tolist() == [3, 2]
    assert uncertainty_sampling(p, 2, "entropy").tolist() == [3, 2]
    assert uncertainty_sampling(p, 2, "margin", exclude=[1]).tolist() == [3, 2]
    assert uncertainty_sampling(p, 1, "margin", exclude=np.array([0, 1, 0, 1, 0], bool)).tolist() == [2]
    assert uncertainty_sampling(p, 5).dtype == np.int64 and sorted(uncertainty_sampling(p, 5)) == [0, 1, 2, 3, 4]
    assert set(UNCERTAINTY_MEASURES) == {"margin", "least_confident", "entropy"}


def test_uncertainty_sampling_explains_bad_input():
    p = np.full((4, 2), 0.5)
    with pytest.raises(ValueError, match="only 3 can be chosen"):
        uncertainty_sampling(p, 4, exclude=[0])
    with pytest.raises(ValueError, match="apply a softmax"):
        uncertainty_sampling(np.array([[2.0, -1.0]]), 1)
    with pytest.raises(ValueError, match="unknown measure 'confusion'"):
        uncertainty_sampling(p, 1, "confusion")
    with pytest.raises(ValueError, match="n_classes >= 2"):
        uncertainty_sampling(np.ones((3, 1)), 1)


def test_a_linear_probe_learns_new_exercises_from_five_windows_each(motion):
    """Transfer on the course data: features from PEN, ABD, FEL and IR (people 1-7), a probe on
    5 windows each of ER, TRAP and ROW; tested on people 8-10 (chance 1/3)."""
    from tinymlkit.datasets import subject_split
    from tinymlkit.features import fit_normalization, window_recordings

    train_mask, test_mask = subject_split(motion.subject_ids)
    train = window_recordings(motion.recordings, motion.labels, motion.subject_ids, 100, 50,
                              sides=motion.sides, indices=train_mask)
    test = window_recordings(motion.recordings, motion.labels, motion.subject_ids, 100, 50,
                             sides=motion.sides, indices=test_mask)
    norm = fit_normalization(train.x)
    old = train.y < 4
    base_model = build_cnn1d(100, 6, 4, filters=8, seed=0)
    train_classifier(base_model, norm.apply(train.x[old]), train.y[old], epochs=6, progress=False)
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.choice(np.flatnonzero(train.y == c), 5, replace=False) for c in (4, 5, 6)])
    probe = fit_head(transfer_model(base_model, 3), norm.apply(train.x[few]), train.y[few] - 4)
    new = test.y >= 4
    accuracy = np.mean(predict_classes(probe, norm.apply(test.x[new])) == test.y[new] - 4)
    print(f"\nlinear probe, 15 labelled windows, unseen people: {accuracy:.3f}")
    assert accuracy > 0.7
