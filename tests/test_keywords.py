"""Synthetic keywords from the real espeak-ng and flite (Debian packages, installed by make setup),
and the shipped real-voice sets."""

import csv
import pathlib
import shutil

import numpy as np
import pytest
import soundfile as sf

import tinymlkit as tk

from tinymlkit.datasets import (DIGIT_WORDS, ESPEAK_ACCENTS, FLITE_VOICES, KEYWORD_SAMPLE_RATE_HZ, SpeakerSetting,
                                SynthesisError, speaker_settings, synthesize_keywords)

needs_engines = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("flite")),
                                   reason="espeak-ng/flite not installed (make setup installs them as root)")


def test_speaker_settings_are_distinct_and_cover_every_accent():
    speakers = speaker_settings(n_espeak=100, seed=0)
    assert len(speakers) == 100 * len(ESPEAK_ACCENTS) + len(FLITE_VOICES)
    assert len({s.speaker_id for s in speakers}) == len(speakers)
    assert {s.voice for s in speakers if s.engine == "espeak-ng"} == set(ESPEAK_ACCENTS)
    assert all(25 <= s.pitch <= 85 and 120 <= s.speed_wpm <= 190 for s in speakers if s.engine == "espeak-ng")
    assert speaker_settings(n_espeak=3, seed=1) == speaker_settings(n_espeak=3, seed=1)


@needs_engines
def test_clips_are_one_second_16khz_mono_pcm16_with_a_manifest(tmp_path):
    speakers = speaker_settings(n_espeak=1, seed=0, accents=("en-us", "sw"))[:2] + [
        SpeakerSetting("flite-slt", "flite", "slt", "", 0, 0)]
    manifest = synthesize_keywords(("seven", "yes"), tmp_path, speakers=speakers, progress=False)
    rows = list(csv.DictReader(manifest.open()))
    assert len(rows) == 6 and all(r["engine"] in ("espeak-ng", "flite") for r in rows)
    clips = {}
    for row in rows:
        info = sf.info(tmp_path / row["path"])
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (
            KEYWORD_SAMPLE_RATE_HZ, 1, "PCM_16", KEYWORD_SAMPLE_RATE_HZ)
        audio, _ = sf.read(tmp_path / row["path"], dtype="float32")
        assert abs(np.abs(audio).max() - 0.5) < 1e-3, "clips are scaled to a 0.5 peak"
        energy = audio ** 2
        centre = np.sum(np.arange(len(audio)) * energy) / energy.sum()
        assert abs(centre - 8000) < 800, f"{row['path']}: the word is not centred"
        clips[(row["label"], row["speaker_id"])] = audio
    assert {r["label"] for r in rows} == {"seven", "yes"}
    # different speakers say the same word differently; one speaker says different words differently
    a, b = clips[("seven", speakers[0].speaker_id)], clips[("seven", "flite-slt")]
    assert not np.allclose(a, b, atol=0.05)
    assert not np.allclose(clips[("seven", "flite-slt")], clips[("yes", "flite-slt")], atol=0.05)


def test_missing_engine_and_bad_word_explain(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="letters only"):
        synthesize_keywords(("no way",), tmp_path, speakers=[], progress=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on the PATH
    with pytest.raises(SynthesisError, match="'espeak-ng' is not installed.*apt-get install espeak-ng"):
        synthesize_keywords(("yes",), tmp_path, speakers=speaker_settings(1, accents=("en-us",))[:1],
                            progress=False)


def test_real_voice_digits_ship_with_their_license():
    from tinymlkit.datasets import load_real_voice_digits

    clips = load_real_voice_digits()
    assert clips.labels == ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    assert clips.audio.shape == (10, 16000) and clips.audio.dtype == np.float32
    assert set(clips.speaker_ids) == {"allison"} and clips.sample_rate_hz == 16000
    assert (np.abs(clips.audio).max(axis=1) > 0.05).all(), "every clip holds speech"
    # telephone bandwidth: recorded at 8 kHz, so (almost) no energy above 4 kHz
    spectrum = np.abs(np.fft.rfft(clips.audio, axis=1)) ** 2
    assert spectrum[:, 4100:].sum() / spectrum.sum() < 1e-3
    folder = clips.path
    assert "Allison Smith" in (folder / "DATACARD.md").read_text()
    assert "CREATIVE COMMONS PUBLIC LICENSE" in (folder / "LICENSE-CC-BY-SA-3.0.txt").read_text()


def test_three_real_speakers_ship_with_their_data_card_and_license():
    from tinymlkit.datasets import DatasetError, load_real_digits

    clips = load_real_digits()
    assert clips.audio.shape == (1500, 16000) and clips.audio.dtype == np.float32
    assert sorted(set(clips.speaker_ids)) == ["jackson", "lucas", "nicolas"]
    for speaker in set(clips.speaker_ids):
        words = [w for w, s in zip(clips.labels, clips.speaker_ids) if s == speaker]
        assert sorted(set(words)) == sorted(DIGIT_WORDS) and all(words.count(w) == 50 for w in DIGIT_WORDS)
    assert set(clips.voices) == {"en-US", "en-DE", "en-BE-fr"}
    assert (np.abs(clips.audio).max(axis=1) > 0.01).all(), "every clip holds speech"
    spectrum = np.abs(np.fft.rfft(clips.audio[::25], axis=1)) ** 2  # recorded at 8 kHz
    assert spectrum[:, 4200:].sum() / spectrum.sum() < 1e-2
    card = (clips.path / "DATACARD.md").read_text()
    assert "CC BY-SA 4.0" in card and "26eb9aaf76e81b692f806f9140c2d2777410d7a1" in card
    assert "Attribution-ShareAlike 4.0 International" in (clips.path / "LICENSE-CC-BY-SA-4.0.txt").read_text()
    assert len(load_real_digits(("lucas",))) == 500
    with pytest.raises(DatasetError, match="no clip by.*the speakers are"):
        load_real_digits(("allison",))


SHARED_FSDD = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd_three_speakers"


@pytest.mark.skipif(not (SHARED_FSDD / "recordings.tar.gz").is_file(),
                    reason="../shared/data/fsdd_three_speakers is not here (only maintainers have it): "
                           "cannot re-make the shipped real-voice set from its source")
def test_shipped_real_speakers_are_remade_from_the_source_recordings(tmp_path):
    import subprocess
    import sys

    from tinymlkit.datasets import load_keyword_clips, load_real_digits

    root = pathlib.Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "scripts" / "make_fsdd_keywords.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    shipped = load_real_digits()
    assert (tmp_path / "manifest.csv").read_text() == (shipped.path / "manifest.csv").read_text()
    remade = load_keyword_clips(tmp_path)
    # The same clips. Not bit for bit: libopus picks its float code path by CPU (SSE, AVX2,
    # AVX-512), so on another processor a few clips encode differently (4 of 1,500 here, on an
    # AVX-512 Xeon, at 28-56 dB from the shipped ones). Every clip must be that close: a wrong
    # resampling, centring or level would be far off (0-5 dB).
    energy = (shipped.audio.astype(np.float64) ** 2).sum(axis=1)
    error = ((remade.audio.astype(np.float64) - shipped.audio) ** 2).sum(axis=1)
    snr_db = 10 * np.log10(energy / np.maximum(error, 1e-30))
    assert snr_db.min() > 25, f"clip {int(snr_db.argmin())} is only {snr_db.min():.1f} dB from the shipped one"
    assert (np.abs(remade.audio - shipped.audio).max(axis=1) < 1e-6).mean() > 0.95, "most clips decode identically"


@needs_engines
def test_synthesized_folder_loads_and_bad_clips_are_named(tmp_path):
    from tinymlkit.datasets import DatasetError, load_keyword_clips

    speakers = speaker_settings(n_espeak=2, seed=0, accents=("en-gb",))[:2]
    synthesize_keywords(("no",), tmp_path, speakers=speakers, progress=False)
    clips = load_keyword_clips(tmp_path)
    assert len(clips) == 2 and clips.audio.shape == (2, 16000) and clips.labels == ("no", "no")
    assert clips.speaker_ids == tuple(s.speaker_id for s in speakers)
    bad = tmp_path / "no" / f"no.{speakers[1].speaker_id}.wav"
    sf.write(bad, np.zeros(8000, dtype=np.float32), 8000)
    with pytest.raises(DatasetError, match=r"8000 Hz, 1 channel\(s\); expected 16000 Hz mono"):
        load_keyword_clips(tmp_path)
    with pytest.raises(DatasetError, match="manifest.csv': file not found"):
        load_keyword_clips(tmp_path / "no")


def test_shipped_synthetic_set_is_complete_small_and_splits_by_speaker():
    folder = tk.datasets.synthetic_keywords_path()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 10 * 1024 * 1024, f"the shipped set is {size} bytes; the budget is 10 MB"
    digits = tk.datasets.load_synthetic_keywords(labels=tk.datasets.DIGIT_WORDS)
    assert digits.audio.shape == (2450, 16000) and digits.audio.dtype == np.float32
    per_speaker = {}
    for label, speaker in zip(digits.labels, digits.speaker_ids):
        per_speaker.setdefault(speaker, set()).add(label)
    assert len(per_speaker) == 245
    assert all(words == set(tk.datasets.DIGIT_WORDS) for words in per_speaker.values())
    assert set(digits.voices) == set(tk.datasets.ESPEAK_ACCENTS) | set(tk.datasets.FLITE_VOICES)
    peaks = np.abs(digits.audio).max(axis=1)
    assert np.all((peaks > 0.3) & (peaks < 0.7)), "clips are scaled to a peak of about 0.5"


def test_synthetic_set_filters_by_label_and_voice_and_select_keeps_metadata():
    clips = tk.datasets.load_synthetic_keywords(labels=("yes",), voices=("sw",))
    assert len(clips) == 5 and set(clips.labels) == {"yes"} and set(clips.voices) == {"sw"}
    first = clips.select(np.array([True, False, False, False, False]))
    assert first.labels == clips.labels[:1] and first.voices == ("sw",)
    assert first.audio.shape == (1, 16000)
    with pytest.raises(tk.datasets.DatasetError, match="no clip"):
        tk.datasets.load_synthetic_keywords(labels=("banana",))
