"""Keyword-spotting features (the real TFLM microfrontend op), audio augmentation and audio plots."""

import dataclasses

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.signal import welch

from tinymlkit import features as F
from tinymlkit import plots
from tinymlkit.datasets import load_real_voice_digits

RATE = 16000


@pytest.fixture(scope="module")
def digits():
    return load_real_voice_digits()


def _tone(freq_hz, amplitude=0.3, n=RATE, rate=RATE):
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(n) / rate)).astype(np.float32)


def _envelope_db(audio, frame=160):
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame).astype(np.float64)
    power = np.mean(frames ** 2, axis=1)
    return 10 * np.log10(power / power.max() + 1e-20)


def _word_frames(audio, top_db=25.0):
    """First and last 10 ms frame within top_db of the loudest frame."""
    loud = np.flatnonzero(_envelope_db(audio) > -top_db)
    return loud[0], loud[-1]


# --- microfrontend and features ---------------------------------------------------------------

def test_settings_are_micro_speech():
    s = F.FrontendSettings()
    assert (s.sample_rate_hz, s.window_ms, s.stride_ms, s.n_channels) == (16000, 30, 20, 40)
    assert (s.window_samples, s.stride_samples, s.clip_samples) == (480, 320, 16000)
    assert s.n_frames == 49 and s.feature_shape == (49, 40)
    centres = s.channel_centres_hz
    assert centres.shape == (40,) and np.all(np.diff(centres) > 0)
    assert 125 < centres[0] < centres[-1] < 7500
    assert F.FEATURE_SCALE == 10 / 256


@pytest.mark.parametrize("kwargs, fault", [
    (dict(window_ms=30.5), "whole number"),
    (dict(upper_band_hz=8000.0), "Nyquist"),
    (dict(lower_band_hz=8000.0, upper_band_hz=7000.0), "lower < upper"),
    (dict(clip_ms=20), "shorter than one window"),
    (dict(n_channels=0), "positive"),
])
def test_invalid_settings_are_refused(kwargs, fault):
    with pytest.raises(ValueError, match=fault):
        F.FrontendSettings(**kwargs)


def test_microfrontend_of_a_real_clip_is_uint16_49_by_40(digits):
    clip = digits.audio[digits.labels.index("seven")]
    out = F.microfrontend(clip)
    assert out.shape == (49, 40) and out.dtype == np.uint16
    assert out.max() > 0
    pcm = np.clip(np.round(clip * 32768), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(F.microfrontend(pcm), out)


def test_batch_features_equal_per_clip_microfrontend_times_scale_exactly(digits):
    pcm = np.clip(np.round(digits.audio * 32768), -32768, 32767).astype(np.int16)
    expected = np.stack([F.microfrontend(c) for c in pcm]).astype(np.float32) * np.float32(10 / 256)
    from_int16 = F.keyword_features(pcm)
    assert from_int16.shape == (10, 49, 40) and from_int16.dtype == np.float32
    np.testing.assert_array_equal(from_int16, expected)
    np.testing.assert_array_equal(F.keyword_features(digits.audio), expected)


def test_batch_features_over_several_chunks_keep_each_clip_separate(digits):
    # 70 different clips (more than one 64-clip graph call; the last call is padded)
    gains = np.linspace(-20, 0, 7)
    batch = np.concatenate([F.apply_gain(digits.audio, np.full(10, g)) for g in gains])
    feats = F.keyword_features(batch)
    assert feats.shape == (70, 49, 40)
    for i in (0, 33, 63, 64, 69):
        np.testing.assert_array_equal(feats[i], F.microfrontend(batch[i]) * np.float32(F.FEATURE_SCALE))


def test_silence_gives_low_features_and_speech_higher(digits):
    feats = F.keyword_features(np.concatenate([np.zeros((1, RATE), np.float32), digits.audio]))
    assert np.all(feats[0] == 0)  # digital silence
    for clip in feats[1:]:  # each real clip starts with silence, then the word
        frame_means = clip.mean(axis=1)
        assert frame_means[:5].mean() < 0.5
        assert np.sort(frame_means)[-10:].mean() > 15


def test_steady_noise_fades_as_the_frontend_learns_it():
    # the microfrontend's noise reduction tracks each channel's floor, so a steady noise is loud
    # at first (PCAN gain control amplifies it) and fades over the clip
    noise = np.random.default_rng(0).normal(0, 1e-3, size=(1, RATE)).astype(np.float32)
    frame_means = F.keyword_features(noise)[0].mean(axis=1)
    assert frame_means[:5].mean() > 3 * frame_means[-10:].mean()


@pytest.mark.parametrize("freq_hz", [1000.0, 3000.0])
def test_a_tone_lights_the_channel_whose_band_holds_it(freq_hz):
    settings = F.FrontendSettings()
    feats = F.microfrontend(_tone(freq_hz), settings).astype(np.float64)
    expected = int(np.argmin(np.abs(settings.channel_centres_hz - freq_hz)))
    assert int(np.argmax(feats.mean(axis=0))) == expected


def test_feature_inputs_are_checked():
    with pytest.raises(ValueError, match="batch"):
        F.keyword_features(np.zeros(RATE, np.float32))
    with pytest.raises(ValueError, match="8000 Hz"):
        F.keyword_features(np.zeros((2, 8000), np.float32))
    with pytest.raises(ValueError, match="divide by 32768"):
        F.keyword_features(np.full((1, RATE), 1000.0, np.float32))
    with pytest.raises(ValueError, match="dtype int32"):
        F.keyword_features(np.zeros((1, RATE), np.int32))
    with pytest.raises(ValueError, match="NaN"):
        F.keyword_features(np.full((1, RATE), np.nan, np.float32))
    with pytest.raises(ValueError, match="one clip"):
        F.microfrontend(np.zeros((2, RATE), np.float32))
    with pytest.raises(ValueError, match="shorter than one 30 ms window"):
        F.microfrontend(np.zeros(100, np.float32))


# --- augmentation -----------------------------------------------------------------------------

def test_time_shift_moves_clips_with_zero_fill(digits):
    audio = digits.audio
    out = F.time_shift(audio, 100, np.random.default_rng(1))
    assert out.shape == audio.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, F.time_shift(audio, 100, np.random.default_rng(1)))
    for clip, moved in zip(audio, out):
        middle = slice(1600, -1600)  # away from the ends, a shift of up to 1600 samples is a roll
        lags = [s for s in range(-1600, 1601) if np.array_equal(np.roll(clip, s)[middle], moved[middle])]
        assert len(lags) == 1
        s = lags[0]
        if s > 0:
            assert np.all(moved[:s] == 0)
        elif s < 0:
            assert np.all(moved[s:] == 0)
    assert F.time_shift(audio[0], 0, np.random.default_rng(0)).tolist() == audio[0].tolist()
    with pytest.raises(ValueError, match="max_shift_ms"):
        F.time_shift(audio, -5, np.random.default_rng(0))


def test_mix_noise_reaches_the_snr_from_the_speech_power():
    amplitude = 0.2
    clip = np.zeros(RATE, np.float32)
    clip[4000:12000] = _tone(440, amplitude, n=8000)  # a 0.5 s "word" in silence
    speech_power = amplitude ** 2 / 2
    noise = np.random.default_rng(5).uniform(-0.5, 0.5, 5 * RATE).astype(np.float32)
    for snr in (0.0, 10.0, 20.0):
        out = F.mix_noise(clip, noise, snr, np.random.default_rng(2))
        assert out.shape == clip.shape and out.dtype == np.float32
        added = out.astype(np.float64) - clip
        achieved = 10 * np.log10(speech_power / np.mean(added ** 2))
        assert abs(achieved - snr) < 0.5
    np.testing.assert_array_equal(F.mix_noise(clip, noise, 10, np.random.default_rng(3)),
                                  F.mix_noise(clip, noise, 10, np.random.default_rng(3)))


def test_mix_noise_adds_unscaled_noise_to_silence_and_checks_its_input():
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 2 * RATE).astype(np.float32)
    out = F.mix_noise(np.zeros(RATE, np.float32), noise, 10, np.random.default_rng(0))
    start = int(np.flatnonzero(noise == out[0])[0])
    np.testing.assert_array_equal(out, noise[start:start + RATE])
    with pytest.raises(ValueError, match="shorter than the clip"):
        F.mix_noise(np.zeros(RATE, np.float32), noise[:100], 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="silent"):
        F.mix_noise(_tone(300), np.zeros(RATE, np.float32), 10, np.random.default_rng(0))


def test_apply_gain_scales_in_db_and_clips():
    tone = _tone(500, 0.25)
    np.testing.assert_allclose(F.apply_gain(tone, 6.0), tone * 10 ** (6 / 20), rtol=1e-6)
    loud = F.apply_gain(tone, 20.0)
    assert loud.max() == 1.0 and loud.min() == -1.0
    batch = F.apply_gain(np.stack([tone, tone]), np.array([0.0, -20.0]))
    np.testing.assert_allclose(np.abs(batch).max(axis=1), [0.25, 0.025], rtol=1e-3)
    with pytest.raises(ValueError, match="one per clip"):
        F.apply_gain(np.stack([tone, tone]), np.array([0.0, 1.0, 2.0]))


def test_band_limit_removes_energy_above_4_khz():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE).astype(np.float32)
    out = F.band_limit(noise)
    assert out.shape == noise.shape and out.dtype == np.float32
    f, p_in = welch(noise, fs=RATE, nperseg=512)
    _, p_out = welch(out, fs=RATE, nperseg=512)
    high, low = f > 4500, f < 3500
    assert 10 * np.log10(p_out[high].sum() / p_in[high].sum()) < -40
    assert abs(10 * np.log10(p_out[low].sum() / p_in[low].sum())) < 0.5
    assert F.band_limit(np.stack([noise, noise])).shape == (2, RATE)
    with pytest.raises(ValueError, match="below sample_rate_hz"):
        F.band_limit(noise, 16000, 16000)


def test_change_speed_shortens_the_word(digits):
    clip = digits.audio[digits.labels.index("seven")]
    start, end = _word_frames(clip)
    fast = F.change_speed(clip, 1.1)
    assert fast.shape == clip.shape and fast.dtype == np.float32
    f_start, f_end = _word_frames(fast)
    ratio = (f_end - f_start) / (end - start)
    assert ratio == pytest.approx(1 / 1.1, abs=0.05)
    slow_start, slow_end = _word_frames(F.change_speed(clip, 0.9))
    assert slow_end - slow_start > end - start
    np.testing.assert_array_equal(F.change_speed(clip, 1.0), clip)
    with pytest.raises(ValueError, match="outside"):
        F.change_speed(clip, 3.0)


def test_spec_augment_masks_the_requested_bands():
    ones = np.ones((49, 40), np.float32)
    one_each = F.spec_augment(ones, np.random.default_rng(0), n_time_masks=1, max_time_frames=5,
                              n_freq_masks=1, max_freq_channels=5)
    assert one_each.shape == (49, 40) and one_each.dtype == np.float32
    frames = np.flatnonzero(np.all(one_each == 0, axis=1))
    channels = np.flatnonzero(np.all(one_each == 0, axis=0))
    for band in (frames, channels):
        assert 1 <= len(band) <= 5 and np.all(np.diff(band) == 1)  # one contiguous band
    assert np.all((one_each == 0) == (np.isin(np.arange(49), frames)[:, None] |
                                      np.isin(np.arange(40), channels)[None, :]))
    # 200 clips, 2 one-frame and 3 one-channel masks each: each mask shows unless two coincide
    batch = F.spec_augment(np.ones((200, 49, 40), np.float32), np.random.default_rng(1),
                           n_time_masks=2, max_time_frames=1, n_freq_masks=3, max_freq_channels=1)
    n_frames = np.all(batch == 0, axis=2).sum(axis=1)
    n_channels = np.all(batch == 0, axis=1).sum(axis=1)
    assert set(n_frames) <= {1, 2} and np.mean(n_frames == 2) > 0.9
    assert set(n_channels) <= {1, 2, 3} and np.mean(n_channels == 3) > 0.8
    np.testing.assert_array_equal(F.spec_augment(ones, np.random.default_rng(0), 0, 5, 0, 5), ones)
    with pytest.raises(ValueError, match="n_time_masks"):
        F.spec_augment(ones, np.random.default_rng(0), n_time_masks=-1)
    with pytest.raises(ValueError, match="shape"):
        F.spec_augment(np.ones(40), np.random.default_rng(0))


def test_augment_clips_is_seeded_and_keeps_shape(digits):
    rng = np.random.default_rng(0)
    noise = [rng.uniform(-0.3, 0.3, 3 * RATE).astype(np.float32),
             rng.normal(0, 0.05, 2 * RATE).astype(np.float32)]
    audio = np.tile(digits.audio, (3, 1))
    out = F.augment_clips(audio, noise, F.AugmentConfig(), seed=7)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.abs(out).max() <= 1.0
    np.testing.assert_array_equal(out, F.augment_clips(audio, noise, F.AugmentConfig(), seed=7))
    np.testing.assert_array_equal(out, F.augment_clips(audio, {"a": noise[0], "b": noise[1]},
                                                       F.AugmentConfig(), seed=7))
    assert not np.array_equal(out, F.augment_clips(audio, noise, F.AugmentConfig(), seed=8))
    assert not np.array_equal(out[:10], out[10:20])  # each clip has its own setting


def test_augment_clips_with_empty_ranges_changes_nothing(digits):
    none = F.AugmentConfig(max_shift_ms=0, noise_probability=0, gain_db=(0, 0),
                           band_limit_probability=0, speed=(1, 1))
    np.testing.assert_array_equal(F.augment_clips(digits.audio, None, none, seed=0), digits.audio)


def test_augment_inputs_are_checked(digits):
    with pytest.raises(ValueError, match="no noise"):
        F.augment_clips(digits.audio, [], F.AugmentConfig(), seed=0)
    with pytest.raises(ValueError, match=r"noise\['short'\]"):
        F.augment_clips(digits.audio, {"short": np.ones(10, np.float32) * 0.1}, F.AugmentConfig())
    with pytest.raises(ValueError, match="int16"):
        F.augment_clips((digits.audio * 32767).astype(np.int16), None,
                        F.AugmentConfig(noise_probability=0))
    with pytest.raises(ValueError, match="low <= high"):
        F.AugmentConfig(snr_db=(20, 0))
    with pytest.raises(ValueError, match="noise_probability"):
        F.AugmentConfig(noise_probability=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        F.AugmentConfig().speed = (1, 1)


# --- plots ------------------------------------------------------------------------------------

def _labelled(fig):
    assert isinstance(fig, Figure)
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_xlabel(), "every panel has an x label"
    return fig


def test_audio_plots_draw_with_units(digits):
    clip = digits.audio[0]
    feats = F.keyword_features(digits.audio[:4])
    figs = [
        plots.plot_waveform(clip, RATE, title="zero"),
        plots.plot_spectrogram(clip, RATE),
        plots.plot_keyword_features(feats, digits.labels[:4], settings=F.FrontendSettings()),
        plots.plot_keyword_features(feats[0]),
    ]
    for fig in figs:
        _labelled(fig)
    assert figs[0].axes[0].get_xlabel() == "time (s)"
    assert figs[1].axes[0].get_ylabel() == "frequency (Hz)"
    assert figs[2].axes[0].get_xlabel() == "time (ms)"
    assert figs[2].axes[0].get_xlim() == (0.0, 980.0)  # 49 frames × 20 ms
    assert [ax.get_title() for ax in figs[2].axes[:4]] == list(digits.labels[:4])
    for fig in figs:
        fig.clear()
    with pytest.raises(ValueError, match="one clip"):
        plots.plot_waveform(digits.audio, RATE)
    with pytest.raises(ValueError, match="labels"):
        plots.plot_keyword_features(feats, ["a"])


def test_fa_fr_curve_marks_the_equal_error_rate():
    thr = np.linspace(0, 1, 11)
    fig = _labelled(plots.plot_fa_fr_curve(thr, 1 - thr, thr ** 2, chosen_threshold=0.7))
    left, right = fig.axes[:2]
    assert left.get_ylabel() == "rate (%)" and right.get_xlabel() == "false accept rate (%)"
    eer = (np.sqrt(5) - 1) / 2  # 1 - t = t², between the points 0.6 and 0.7 (interpolated)
    legend = " ".join(t.get_text() for t in left.get_legend().get_texts())
    assert "equal error rate" in legend
    x, y = left.lines[2].get_data()
    assert x[0] == pytest.approx(eer, abs=0.01) and y[0] == pytest.approx(100 * (1 - eer), abs=1)
    fig.clear()
    with pytest.raises(ValueError, match="fractions"):
        plots.plot_fa_fr_curve(thr, 100 * (1 - thr), 100 * thr)
    with pytest.raises(ValueError, match="length"):
        plots.plot_fa_fr_curve(thr, thr[:5], thr)


def test_accuracy_by_group_is_sorted_worst_first():
    acc = {"en-us": 0.95, "sw": 0.71, "hi": 0.83}
    fig = _labelled(plots.plot_accuracy_by_group(acc, {"en-us": 100, "sw": 50, "hi": 50}))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sw", "hi", "en-us"]
    assert ax.get_xlabel() == "accuracy (%)"
    overall = ax.lines[0].get_xdata()[0]
    assert overall == pytest.approx(100 * (0.95 * 100 + 0.71 * 50 + 0.83 * 50) / 200)
    fig.clear()
    with pytest.raises(ValueError, match="fractions"):
        plots.plot_accuracy_by_group({"a": 95.0})
    with pytest.raises(ValueError, match="no entry"):
        plots.plot_accuracy_by_group(acc, {"sw": 3})


def test_streamed_features_are_the_kits_never_reset_frontend():
    from tinymlkit.features import FrontendSettings, keyword_features, streamed_keyword_features

    from tinymlkit.datasets import load_real_digits

    clips = load_real_digits(("nicolas",)).audio[:6]
    band = FrontendSettings(upper_band_hz=4000.0)
    fresh = keyword_features(clips, band)
    streamed = streamed_keyword_features(clips, band, seed=1)
    assert streamed.shape == fresh.shape and streamed.dtype == np.float32
    first = int(np.random.default_rng(1).permutation(len(clips))[0])
    # the frontend is causal: the clip played first is computed from the same fresh state
    assert np.array_equal(streamed[first], fresh[first])
    others = [i for i in range(len(clips)) if i != first]
    assert all(not np.array_equal(streamed[i], fresh[i]) for i in others), "state carries over"
    assert np.array_equal(streamed, streamed_keyword_features(clips, band, seed=1))
    with pytest.raises(ValueError, match="whole number of 30 ms strides"):
        streamed_keyword_features(clips, FrontendSettings(stride_ms=30))
    with pytest.raises(ValueError, match=r"expected \(n_clips, 16000\)"):
        streamed_keyword_features(clips[:, :8000], band)
