"""Stage 2: windows, the wrist mirror and normalisation."""

import numpy as np
import pytest

from tinymlkit.features import (RIGHT_TO_LEFT_WRIST_SIGNS, fit_normalization, ms_to_samples,
                                sliding_windows, to_left_wrist, window_recordings)


def test_sliding_windows_contents_and_count():
    rec = np.arange(50, dtype=np.float32).reshape(25, 2)
    w = sliding_windows(rec, window=10, stride=5)
    assert w.shape == (4, 10, 2)  # starts 0, 5, 10, 15; 20 would run past the end
    for k in range(4):
        assert np.array_equal(w[k], rec[5 * k:5 * k + 10])
    assert sliding_windows(rec, 30, 5).shape == (0, 30, 2)
    with pytest.raises(ValueError, match="positive whole numbers"):
        sliding_windows(rec, 0, 5)


def test_ms_to_samples():
    assert ms_to_samples(2000, 50) == 100
    assert ms_to_samples(200, 50) == 10
    with pytest.raises(ValueError, match="multiple of 20 ms"):
        ms_to_samples(30, 50)


def test_wrist_mirror_is_an_involution():
    rec = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    assert np.array_equal(to_left_wrist(rec, 0), rec)
    mirrored = to_left_wrist(rec, 1)
    assert np.array_equal(mirrored, rec * np.array(RIGHT_TO_LEFT_WRIST_SIGNS, np.float32))
    assert np.allclose(to_left_wrist(mirrored, 1), rec)
    with pytest.raises(ValueError, match="side must be 0"):
        to_left_wrist(rec, 2)


def test_wrist_mirror_matches_the_physics_in_the_data(motion):
    """After mirroring, each exercise's mean gravity direction agrees between arms."""
    for c in range(len(motion.class_names)):
        means = {}
        for side in (0, 1):
            idx = np.flatnonzero((motion.labels == c) & (motion.sides == side))
            means[side] = np.concatenate([to_left_wrist(motion.recordings[i], side)
                                          for i in idx])[:, :3].mean(0)
        assert np.linalg.norm(means[0] - means[1]) < 0.25, (motion.class_names[c], means)


def test_window_recordings_keeps_labels_and_subjects(motion):
    ws = window_recordings(motion.recordings, motion.labels, motion.subject_ids, 100, 50,
                           indices=motion.subject_ids == 3)
    assert ws.x.shape[1:] == (100, 6) and ws.x.dtype == np.float32
    assert set(ws.subject_ids.tolist()) == {3}
    assert np.array_equal(ws.y, motion.labels[ws.recording_ids])
    expected = sum((len(motion.recordings[i]) - 100) // 50 + 1
                   for i in np.flatnonzero(motion.subject_ids == 3))
    assert len(ws) == expected


def test_normalisation_uses_training_data_only():
    rng = np.random.default_rng(1)
    train = rng.normal(2.0, 3.0, size=(200, 10, 6)).astype(np.float32)
    test = rng.normal(-5.0, 1.0, size=(50, 10, 6)).astype(np.float32)
    norm = fit_normalization(train)
    z = norm.apply(train).reshape(-1, 6)
    assert np.allclose(z.mean(0), 0, atol=1e-4) and np.allclose(z.std(0), 1, atol=1e-3)
    assert np.allclose(norm.mean, train.reshape(-1, 6).mean(0), atol=1e-4)
    assert norm.apply(test).mean() < -1.5  # test data keeps its shift: it was not used
    with pytest.raises(ValueError, match="channels"):
        norm.apply(np.zeros((3, 5)))


def test_random_rotations_turn_both_sensors_alike():
    from tinymlkit.features import random_rotations

    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 20, 6)).astype(np.float32)
    r = random_rotations(x, angle_std_deg=30, seed=1)
    assert r.shape == x.shape and r.dtype == np.float32
    # a rotation keeps every vector's length...
    assert np.allclose(np.linalg.norm(r[..., :3], axis=-1), np.linalg.norm(x[..., :3], axis=-1), atol=1e-5)
    assert np.allclose(np.linalg.norm(r[..., 3:], axis=-1), np.linalg.norm(x[..., 3:], axis=-1), atol=1e-5)
    # ...and the angle between accelerometer and gyroscope vectors (same rotation for both)
    dot = lambda v: np.sum(v[..., :3] * v[..., 3:], axis=-1)
    assert np.allclose(dot(r), dot(x), atol=1e-4)
    assert not np.allclose(r, x)
    assert np.array_equal(random_rotations(x, 30, seed=1), r)  # seeded
    with pytest.raises(ValueError, match="6\\)"):
        random_rotations(x[..., :3])
