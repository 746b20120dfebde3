"""The keyword-spotting pipeline end to end (tinymlkit.pipeline.run_kws) and the kit's streaming
detector run on the laptop (tinymlkit.kws_runtime.detect_in_stream), with the real TFLM interpreter."""

import json

import numpy as np
import pytest

import tinymlkit as tk

#: A shorter run than the reference (``tinymlkit kws``) so the suite stays fast; same code path
#: (leave-one-speaker-out on the three shipped real speakers, simulated rooms and microphone).
FAST = dict(epochs=8, augment=tk.features.AugmentConfig(max_shift_ms=250), real_copies=1,
            rooms=4, kit_audio=tk.features.KitAudioConfig(pitch_probability=0.0))


@pytest.fixture(scope="module")
def kws_run(tmp_path_factory):
    tk.setup(seed=0)
    out = tmp_path_factory.mktemp("kws")
    report = tk.pipeline.run_kws(out, tk.pipeline.KwsConfig(**FAST), progress=False, log=lambda s: None)
    return out, report


def test_report_has_every_key_and_meets_the_size_targets(kws_run):
    out, report = kws_run
    assert set(tk.pipeline.KWS_REPORT_KEYS) <= set(report)
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(report))
    # micro_speech: 18,712 B model and a 10 KB arena; the course's targets
    assert report["model_bytes"] <= 18 * 1024, report["model_bytes"]
    assert report["arena_bytes"] <= 10 * 1024, report["arena_bytes"]
    assert report["int8_runtime"] == "tflm"
    assert report["accuracy_drop_points"] <= 1.0, f"float→int8 drop {report['accuracy_drop_points']} points"
    for name in ("confusion_matrix.png", "fa_fr_curve.png", "accuracy_by_voice.png", "model_data.cc"):
        assert (out / name).stat().st_size > 1000, name


def test_split_is_by_speaker_and_every_voice_is_tested(kws_run):
    _, report = kws_run
    tested = set(report["accuracy_by_voice"])
    assert set(tk.datasets.ESPEAK_ACCENTS) | {"noise"} <= tested, "every accent is tested"
    flite = tested & set(tk.datasets.FLITE_VOICES)
    assert len(flite) == 1, "one flite voice tests, the other four train"
    assert report["test_speakers"] == 4 * len(tk.datasets.ESPEAK_ACCENTS) + len(flite)
    clips = tk.datasets.load_synthetic_keywords(labels=("zero",))
    assert report["train_speakers"] + report["test_speakers"] == len(set(clips.speaker_ids))
    assert set(report["accuracy_by_speaker"]) == set(report["test_speaker_ids"]), "one result per test speaker"
    # far above chance (1 in 12 classes) on speakers never heard
    assert report["float_accuracy"] > 0.6
    assert report["real_voice_clips"] == 10 and set(report["real_voice_predictions"]) == set(tk.datasets.DIGIT_WORDS)
    assert 0.0 <= report["eer"] <= 1.0


def test_every_real_speaker_is_tested_by_a_model_that_never_heard_them(kws_run):
    _, report = kws_run
    by_speaker = report["real_voice_accuracy_by_speaker"]
    assert list(by_speaker) == list(tk.pipeline.SHIPPED_REAL_SPEAKERS)
    assert report["real_voice_accuracy_mean"] == pytest.approx(np.mean(list(by_speaker.values())))
    real = tk.datasets.load_real_digits()
    for speaker, acc in by_speaker.items():
        said = [w for w, s in zip(real.labels, real.speaker_ids) if s == speaker]
        heard = report["real_voice_predictions_by_speaker"][speaker]
        assert len(heard) == len(said) == 500
        assert acc == pytest.approx(np.mean([h == w for h, w in zip(heard, said)]))
    # this short run (8 epochs, 1 copy) reaches about 0.23 on people it never heard: well above
    # chance (1 in 12 classes; a pipeline that mixed up labels or speakers lands there)
    assert report["real_voice_accuracy_mean"] > 0.15, by_speaker
    streamed = report["real_voice_accuracy_continuous_frontend_by_speaker"]
    assert set(streamed) == set(by_speaker) and all(0.0 <= a <= 1.0 for a in streamed.values())
    assert report["config"]["upper_band_hz"] == 4000.0


def test_a_left_out_speaker_is_absent_from_the_fold_with_all_their_copies():
    from tinymlkit.pipeline import KwsConfig, _training_pool

    real = tk.datasets.load_real_digits()
    rows = np.r_[0:4, 600:604, 1200:1204]  # four clips of each speaker
    part = real.select(rows)
    config = KwsConfig(rooms=2, kit_audio=tk.features.KitAudioConfig(pitch_probability=0.5))
    rirs = tk.features.room_impulse_responses(2)
    noise = {"pink": tk.datasets.background_noise("pink", 3.0, seed=0)}
    pool = _training_pool([(part.audio, np.arange(len(part)), part.speaker_ids, 2, True)], config, noise, rirs,
                          False)
    assert pool.x.shape == (3 * len(part), 49, 40)
    for speaker in set(part.speaker_ids):
        x, y = pool.without(speaker)
        mine = np.flatnonzero(np.array(part.speaker_ids) == speaker)
        assert len(y) == 3 * (len(part) - len(mine))
        assert not set(y) & set(mine), f"a clip of {speaker} (or a copy of it) stayed in their fold"


def test_exported_keyword_settings_load_back(kws_run):
    out, report = kws_run
    model_bytes, settings = tk.export.load_model_files(out)
    assert isinstance(settings, tk.export.KeywordModelSettings)
    assert settings.labels == tuple(report["classes"]) and settings.unknown_index == 10
    assert len(model_bytes) == report["model_bytes"]
    header = (out / "model_settings.h").read_text()
    assert "constexpr int kFeatureSliceCount = 49;" in header
    # the kit computes the features the model was trained on: filterbank up to 4 kHz
    assert settings.frontend.upper_band_hz == 4000.0 and "kFrontendUpperBandHz = 4000" in header
    assert f"kDetectionThreshold = {settings.detection_threshold}" in header


def _stream(clips, gap_s=1.0):
    gap = np.zeros(int(gap_s * 16000), np.float32)
    return np.concatenate([gap] + [np.concatenate([c, gap]) for c in clips])


def test_streaming_detector_finds_only_words_that_were_said_in_their_time_slots(kws_run):
    out, report = kws_run
    model_bytes, settings = tk.export.load_model_files(out)
    test = tk.datasets.load_synthetic_keywords(labels=("three", "seven", "nine"))
    test = test.select(np.isin(test.speaker_ids, report["test_speaker_ids"]))
    # three words that the model classifies right as whole clips, said by one unseen speaker
    x = tk.quantize.quantize(tk.features.keyword_features(test.audio, settings.frontend),
                             settings.input_quant)
    ok = tk.tflm.tflm_predict(model_bytes, x).argmax(1) == [settings.labels.index(w) for w in test.labels]
    speaker = next(s for s in dict.fromkeys(test.speaker_ids)
                   if all(ok[i] for i, t in enumerate(test.speaker_ids) if t == s))
    mine = test.select(np.array(test.speaker_ids) == speaker)
    words = [mine.audio[mine.labels.index(w)] for w in ("three", "seven", "nine")]
    noise = tk.datasets.background_noise("pink", 8.0, seed=1) * 0.01
    stream = _stream(words)
    stream = np.clip(stream + noise[:len(stream)], -1, 1)
    found = tk.kws_runtime.detect_in_stream(model_bytes, stream, settings)
    # every detection is a word that was said, in its own 2 s slot (no false or wrong keyword),
    # in order, and the short-trained test model finds at least one of the three
    assert found, "no keyword detected in the stream"
    slots = {"three": 1.0, "seven": 3.0, "nine": 5.0}
    for d in found:
        assert d.label in slots, d
        assert slots[d.label] + 0.3 <= d.time_ms / 1000 <= slots[d.label] + 1.9, d
    assert [d.time_ms for d in found] == sorted(d.time_ms for d in found)


def test_streaming_detector_stays_quiet_on_room_noise(kws_run):
    out, _ = kws_run
    model_bytes, settings = tk.export.load_model_files(out)
    room = np.concatenate([tk.datasets.background_noise(k, 4.0, seed=2) * 0.05 for k in ("fan", "hum", "pink")])
    assert tk.kws_runtime.detect_in_stream(model_bytes, room, settings) == []
    with pytest.raises(ValueError, match="slices"):
        tk.kws_runtime.detect_in_stream(model_bytes, room[:8000], settings)


def test_motion_tools_refuse_a_keyword_model_in_plain_words(kws_run):
    out, _ = kws_run
    with pytest.raises(tk.export.ModelFilesError, match="keyword-spotting model; this tool runs a motion"):
        tk.export.load_model_files(out, kind="motion")
    with pytest.raises(tk.export.ModelFilesError, match="keyword-spotting model"):
        tk.edgeimpulse.build_eim(out, out / "model.eim")
