"""Stage 1: the shipped motion dataset loads, and bad files fail with clear errors."""

import collections
import shutil

import numpy as np
import pytest

from tinymlkit.datasets import (DEFAULT_TEST_SUBJECTS, DatasetError, load_motion,
                                motion_dataset_path, subject_split)


def test_shipped_dataset_matches_data_card(motion):
    assert len(motion) == 140
    assert motion.class_names == ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
    assert motion.channel_names == ("ax", "ay", "az", "wx", "wy", "wz")
    assert motion.sample_rate_hz == 50.0
    assert sorted(np.unique(motion.subject_ids).tolist()) == list(range(1, 11))
    # 10 subjects x 7 exercises x 2 arms: every (subject, class, side) exactly once
    combos = collections.Counter(zip(motion.subject_ids.tolist(), motion.labels.tolist(),
                                     motion.sides.tolist()))
    assert len(combos) == 140 and set(combos.values()) == {1}
    assert all(r.dtype == np.float32 and r.ndim == 2 and r.shape[1] == 6 for r in motion.recordings)
    assert sum(len(r) for r in motion.recordings) == 244_102
    # accelerometer in g: the mean magnitude over all data is close to 1 g
    acc = np.concatenate(motion.recordings)[:, :3]
    assert 0.9 < np.linalg.norm(acc, axis=1).mean() < 1.2


def test_shipped_file_is_small_enough():
    assert motion_dataset_path().stat().st_size <= 6_000_000


def test_truncated_file_gives_clear_error(tmp_path):
    bad = tmp_path / "watch_imu.npz"
    data = motion_dataset_path().read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"watch_imu\.npz.*truncated or corrupt"):
        load_motion(bad)


def _write(path, **overrides):
    with np.load(motion_dataset_path()) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(overrides)
    for k in [k for k, v in overrides.items() if v is None]:
        del arrays[k]
    np.savez(path, **arrays)
    return path


def test_wrong_shape_gives_clear_error(tmp_path):
    with np.load(motion_dataset_path()) as npz:
        samples = npz["samples"]
    path = _write(tmp_path / "five.npz", samples=samples[:, :5])
    with pytest.raises(DatasetError, match=r"five\.npz.*'samples' has shape \(244102, 5\), expected"):
        load_motion(path)


@pytest.mark.parametrize("overrides, message", [
    ({"labels": None}, "missing array"),
    ({"offsets": np.arange(10)}, "'offsets' has shape"),
    ({"labels": np.full(140, 9)}, "label 9, expected 0..6"),
])
def test_malformed_arrays_are_named(tmp_path, overrides, message):
    with pytest.raises(DatasetError, match=message):
        load_motion(_write(tmp_path / "bad.npz", **overrides))


def test_nan_is_reported_with_row(tmp_path):
    with np.load(motion_dataset_path()) as npz:
        samples = npz["samples"].copy()
    samples[41, 2] = np.nan
    with pytest.raises(DatasetError, match="row 41 holds NaN"):
        load_motion(_write(tmp_path / "nan.npz", samples=samples))


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        load_motion(tmp_path / "nope.npz")


def test_a_copy_loads_identically(tmp_path, motion):
    copy = shutil.copy(motion_dataset_path(), tmp_path / "copy.npz")
    again = load_motion(copy)
    assert np.array_equal(again.recordings[17], motion.recordings[17])


def test_subject_split_never_mixes_people(motion):
    train, test = subject_split(motion.subject_ids)
    assert not np.any(train & test) and np.all(train | test)
    assert set(motion.subject_ids[test].tolist()) == set(DEFAULT_TEST_SUBJECTS)
    assert not set(motion.subject_ids[train].tolist()) & set(DEFAULT_TEST_SUBJECTS)
    with pytest.raises(ValueError, match="do not occur"):
        subject_split(motion.subject_ids, (42,))


def test_inject_faults_breaks_a_copy_only(motion):
    from tinymlkit.datasets import STANDARD_GRAVITY_M_S2, inject_faults

    faulty, faults = inject_faults(motion, seed=0)
    assert len(faults.gap_recordings) == 3 and len(faults.unit_error_recordings) == 2
    assert not set(faults.gap_recordings) & set(faults.unit_error_recordings)
    for i, r in enumerate(faulty.recordings):
        has_nan = bool(np.isnan(r).any())
        assert has_nan == (i in faults.gap_recordings)
        if i in faults.unit_error_recordings:
            assert np.allclose(r[:, :3], motion.recordings[i][:, :3] * STANDARD_GRAVITY_M_S2)
        elif not has_nan:
            assert np.array_equal(r, motion.recordings[i])
    assert not any(np.isnan(r).any() for r in motion.recordings)  # the original is untouched
    again, faults_again = inject_faults(motion, seed=0)
    assert faults_again == faults
