"""A class's own recordings in the keyword model (issue #13): the three shipped real speakers stand
in for a workshop class — recorded with consent, pooled (``tinymlkit keywords pool``), trained on
with ``run_kws(extra=...)`` and tested on held-back takes; a speaker who withdraws is forgotten and
is gone from the next model."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tinymlkit as tk

#: Short training (same code path as ``tinymlkit kws --extra``); no shipped real speakers, so the
#: class's speakers are the only real voices and every class result is on takes never trained on.
CLASS_RUN = dict(epochs=10, class_epochs=10, real_speakers=(), class_copies=2, rooms=4,
                 kit_audio=tk.features.KitAudioConfig(pitch_probability=0.0))
TAKES = 20  # per word and student: 16 train, 4 held back (class_test_every=5)


@pytest.fixture(scope="module")
def class_pool(tmp_path_factory):
    """Three students' lab05 folders (one speaker each, all recorded as 'p01'), pooled."""
    root = tmp_path_factory.mktemp("class")
    real = tk.datasets.load_real_digits()
    for student in ("jackson", "lucas", "nicolas"):
        folder = root / "submitted" / student / "recordings"
        tk.capture.record_consent(folder, "p01", uses=("class-model",))
        taken: dict[str, int] = {}
        for audio, label, speaker in zip(real.audio, real.labels, real.speaker_ids):
            if speaker == student and taken.get(label, 0) < TAKES:
                tk.capture.save_keyword_clip(folder, audio, label, "p01", source="fsdd")
                taken[label] = taken.get(label, 0) + 1
    out = root / "class_keywords"
    result = tk.capture.pool_keyword_recordings([root / "submitted"], out)
    assert len(result.kept) == 3 and not result.left_out
    return out


@pytest.fixture(scope="module")
def class_run(class_pool, tmp_path_factory):
    tk.setup(seed=0)
    out = tmp_path_factory.mktemp("kws-class")
    report = tk.pipeline.run_kws(out, tk.pipeline.KwsConfig(**CLASS_RUN), extra=class_pool, progress=False,
                                 log=lambda s: None)
    return out, report


def test_every_class_speaker_is_tested_on_takes_the_model_never_trained_on(class_pool, class_run):
    out, report = class_run
    pooled = tk.datasets.load_keyword_clips(class_pool)
    speakers = sorted(set(pooled.speaker_ids))
    assert report["class_speakers"] == speakers and sorted(report["class_accuracy_by_speaker"]) == speakers
    assert report["real_voice_accuracy_by_speaker"] == {}, "no shipped real speaker in this run"
    # held back: 4 of the 20 takes of each word → 40 of 200 clips per speaker train nothing
    from tinymlkit.pipeline import _held_back_takes

    held = _held_back_takes(pooled, 5)
    assert held.sum() == 3 * 10 * 4
    c = report["config"]
    synthetic = (report["train_clips"] + c["silence_clips"]) * (c["augmented_copies"] + c["synthetic_originals"])
    class_train = (len(pooled) - held.sum()) * (1 + c["class_copies"])  # class clips keep their originals
    assert report["training_clips_with_copies"] == synthetic + class_train
    # the class's own takes are far easier than strangers: well above chance even after 10 epochs
    assert report["class_accuracy_mean"] > 0.5, report["class_accuracy_by_speaker"]
    assert (out / "accuracy_by_speaker.png").stat().st_size > 1000


def test_a_forgotten_speaker_is_gone_from_the_next_model(class_pool, class_run, tmp_path):
    _, before = class_run
    gone = before["class_speakers"][0]
    tk.capture.forget_speaker(class_pool, gone)
    pooled = tk.datasets.load_keyword_clips(class_pool)
    assert gone not in pooled.speaker_ids
    after = tk.pipeline.run_kws(tmp_path, tk.pipeline.KwsConfig(**{**CLASS_RUN, "class_epochs": 1}), extra=class_pool,
                                progress=False, log=lambda s: None)
    assert gone not in after["class_speakers"] and gone not in after["class_accuracy_by_speaker"]
    assert after["training_clips_with_copies"] < before["training_clips_with_copies"]
    # pooling the same submissions again does not bring them back
    tk.capture.pool_keyword_recordings([class_pool.parent / "submitted"], class_pool)
    assert gone not in tk.datasets.load_keyword_clips(class_pool).speaker_ids


def test_kws_cli_says_plainly_when_the_class_folder_is_not_one(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "kws", "--extra", str(tmp_path / "nowhere"),
                           "--out", str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "nowhere" in proc.stderr and "manifest.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_a_speaker_with_one_take_per_word_is_refused_with_a_reason(tmp_path):
    real = tk.datasets.load_real_digits(("lucas",))
    folder = tmp_path / "one_take"
    for w in ("one", "two"):
        tk.capture.save_keyword_clip(folder, real.audio[real.labels.index(w)], w, "p07")
    with pytest.raises(ValueError, match="p07 recorded one take per word"):
        tk.pipeline.run_kws(tmp_path / "out", tk.pipeline.KwsConfig(**CLASS_RUN), extra=folder,
                            progress=False, log=lambda s: None)
