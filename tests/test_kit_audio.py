"""A kit's microphone in a room (tinymlkit.features.sound_like_kit): rooms simulated by the real
pyroomacoustics, pitch shift by the real audiomentations, the MEMS microphone from its datasheet."""

import numpy as np
import pytest

import tinymlkit as tk
from tinymlkit.features import (MEMS_MICROPHONES, ROOM_KINDS, KitAudioConfig, room_impulse_responses,
                                sound_like_kit)


@pytest.fixture(scope="module")
def rooms():
    return room_impulse_responses(6, seed=0)


def _rt60(rir, rate=16000):
    """Reverberation time from Schroeder's backward integration (-5 to -25 dB, extrapolated)."""
    import pyroomacoustics as pra

    return pra.experimental.measure_rt60(rir, fs=rate, decay_db=20)


def test_rooms_are_echoes_with_the_direct_path_first(rooms):
    assert len(rooms) == 6 and all(r.dtype == np.float32 for r in rooms)
    kinds = sorted(ROOM_KINDS)  # drawn in turn: classroom, office, outdoors
    for i, rir in enumerate(rooms):
        assert np.abs(rir).max() == pytest.approx(1.0)
        direct = int(np.flatnonzero(np.abs(rir) >= 0.3)[0])
        assert direct < 16000 * 2.0 / 343 + 45, "the direct path arrives first (≤ 2 m + pyroomacoustics' filter delay)"
        echoes = np.sum(rir[direct + 40:] ** 2)
        assert echoes > 0.01 if kinds[i % 3] != "outdoors" else echoes < 0.01, (kinds[i % 3], echoes)
    # a classroom rings longer than outdoors
    classroom, outdoors = rooms[kinds.index("classroom")], rooms[kinds.index("outdoors")]
    assert _rt60(classroom) > 2 * _rt60(outdoors)
    assert [len(r) for r in room_impulse_responses(6, seed=0)] == [len(r) for r in rooms], "seeded"
    with pytest.raises(ValueError, match="distance_m"):
        room_impulse_responses(2, distance_m=(0.0, 9.0))


def test_pitch_shift_moves_a_tone_and_keeps_its_timing():
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 200 * t) * (t > 0.25) * (t < 0.75)).astype(np.float32)
    up = sound_like_kit(tone[None], [], KitAudioConfig(pitch_probability=1.0, semitones=(3.0, 3.0),
                                                       room_probability=0.0, microphone=""), seed=0)[0]
    hz = np.fft.rfftfreq(16000, 1 / 16000)
    peak = hz[np.argmax(np.abs(np.fft.rfft(up)))]
    assert peak == pytest.approx(200 * 2 ** (3 / 12), abs=4), "three semitones up: 238 Hz"
    loud = np.flatnonzero(np.abs(up) > 0.1)
    assert 0.2 < loud[0] / 16000 < 0.32 and 0.68 < loud[-1] / 16000 < 0.8, "same timing"


def test_kit_chain_keeps_shape_level_and_is_seeded(rooms):
    real = tk.datasets.load_real_digits(("nicolas",))
    clips = real.audio[:12]
    out = sound_like_kit(clips, rooms, seed=3)
    assert out.shape == clips.shape and out.dtype == np.float32 and np.abs(out).max() <= 1.0
    assert np.array_equal(out, sound_like_kit(clips, rooms, seed=3))
    assert not np.array_equal(out, sound_like_kit(clips, rooms, seed=4))
    peaks_in, peaks_out = np.abs(clips).max(1), np.abs(out).max(1)
    assert np.all(np.abs(peaks_out / peaks_in - 1) < 0.6), "each clip keeps about its level"
    # the microphone alone: the datasheet's self-noise floor and a high-pass below 100 Hz
    mic = MEMS_MICROPHONES["MP34DT05-A"]
    silent = sound_like_kit(np.zeros((2, 16000), np.float32), [], KitAudioConfig(pitch_probability=0.0,
                                                                                  room_probability=0.0))
    assert 20 * np.log10(silent.std()) == pytest.approx(mic.noise_floor_dbfs, abs=1.0)
    hum = np.tile(0.5 * np.sin(2 * np.pi * 30 * np.arange(16000) / 16000), (1, 1)).astype(np.float32)
    filtered = sound_like_kit(hum, [], KitAudioConfig(pitch_probability=0.0, room_probability=0.0))
    assert filtered[0, 8000:].std() < 0.2 * hum[0, 8000:].std(), "30 Hz is far below the 100 Hz corner"


def test_bad_settings_and_audio_get_plain_errors(rooms):
    with pytest.raises(ValueError, match="room_probability must be in"):
        KitAudioConfig(room_probability=1.5)
    with pytest.raises(ValueError, match="microphone 'SPH0645'"):
        KitAudioConfig(microphone="SPH0645")
    with pytest.raises(ValueError, match="no room impulse responses"):
        sound_like_kit(np.zeros((1, 16000), np.float32), [])
    with pytest.raises(ValueError, match="lie in \\[-1, 1\\]"):
        sound_like_kit(np.full((1, 16000), 2.0, np.float32), rooms)
    with pytest.raises(ValueError, match="expected float"):
        sound_like_kit(np.zeros(16000, np.float32), rooms)
