"""Make clean keyword clips sound like a kit's microphone in a room (re-exported by
:mod:`tinymlkit.features`). Keyword-spotting track, issue #13.

Three steps, each from a well-kept library rather than home-made signal code:

1. **The speaker** — pitch shift without tempo change (audiomentations ``PitchShift``, the
   Signalsmith Stretch method): one recorded person becomes several nearby voices.
2. **The room** — the clip convolved with a room impulse response (RIR) simulated by
   pyroomacoustics' image-source method (``ShoeBox`` rooms: classrooms, small offices and
   outdoors, source-to-microphone distance 0.3-2 m; Scheibler et al., "Pyroomacoustics", ICASSP
   2018).
3. **The microphone** — the kits' PDM MEMS microphone: flat within the speech band with a
   low-frequency roll-off (a 12 dB/octave Butterworth high-pass, ``scipy.signal.butter``, as
   audiomentations' ``HighPassFilter`` builds it, run on the whole batch at once) and a
   self-noise floor from the datasheet.

Every random number comes from ``seed``; the same call gives the same output.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .keywords import KEYWORD_SAMPLE_RATE_HZ

__all__ = ["KitAudioConfig", "ROOM_KINDS", "MEMS_MICROPHONES", "MemsMicrophone", "room_impulse_responses",
           "sound_like_kit"]

#: Simulated rooms: name → ``((x_lo, x_hi), (y_lo, y_hi), (z_lo, z_hi))`` in m and the
#: reverberation time RT60 range in s. Classrooms and offices after the ranges of typical
#: furnished rooms (RT60 0.3-1.2 s; ANSI/ASA S12.60 asks ≤ 0.6 s for classrooms, which many
#: workshop rooms exceed); "outdoors" is a very large, absorbent box: a direct path and a weak
#: ground reflection.
ROOM_KINDS = {
    "classroom": (((7.0, 12.0), (6.0, 10.0), (2.8, 3.6)), (0.5, 1.2)),
    "office": (((3.0, 5.0), (3.0, 6.0), (2.5, 3.0)), (0.25, 0.6)),
    "outdoors": (((40.0, 60.0), (40.0, 60.0), (20.0, 30.0)), (0.05, 0.15)),
}


@dataclasses.dataclass(frozen=True)
class MemsMicrophone:
    """What the training chain copies of a kit's PDM MEMS microphone.

    Attributes:
        name: part number.
        boards: kits that carry it.
        low_cut_hz: the low-frequency -3 dB corner, Hz (12 dB/octave high-pass).
        noise_floor_dbfs: self-noise, dB relative to full scale (sensitivity minus SNR).
        source: where the figures come from.
    """

    name: str
    boards: tuple[str, ...]
    low_cut_hz: float
    noise_floor_dbfs: float
    source: str


#: The kits' microphones. MP34DT05-A (Nano 33 BLE Sense Rev1; Rev2 carries the MP34DT06JTR of the
#: same family): sensitivity -26 dBFS at 94 dB SPL, SNR 64 dB(A) → self-noise about -90 dBFS;
#: frequency response "practically flat from 100 Hz to 5 kHz" (STMicroelectronics, MP34DT05-A
#: datasheet and the STEVAL-BCN002V1 user manual). The XIAO ESP32S3 Sense's MSM261D3526H1CPM:
#: its datasheet was not available to the project offline, so the same figures stand in for it
#: until someone checks them (a -3 dB corner at 100 Hz is the conservative reading of both).
MEMS_MICROPHONES = {
    "MP34DT05-A": MemsMicrophone("MP34DT05-A", ("nano33ble_sense_rev1", "nano33ble_sense_rev2"), 100.0,
                                 -90.0, "STMicroelectronics MP34DT05-A datasheet; STEVAL-BCN002V1 "
                                 "user manual (flat 100 Hz-5 kHz, SNR 64 dB(A), -26 dBFS at 94 dB SPL)"),
    "MSM261D3526H1CPM": MemsMicrophone("MSM261D3526H1CPM", ("xiao_esp32s3_sense",), 100.0, -90.0,
                                       "not checked: the MP34DT05-A's figures stand in"),
}


@dataclasses.dataclass(frozen=True)
class KitAudioConfig:
    """Ranges of :func:`sound_like_kit`.

    Attributes:
        pitch_probability: share of clips pitch-shifted.
        semitones: (low, high) pitch shift, semitones, drawn uniformly (audiomentations'
            ``PitchShift`` default is ±4).
        room_probability: share of clips played in a simulated room.
        microphone: a key of :data:`MEMS_MICROPHONES`, or "" for no microphone step.

    Raises:
        ValueError: a probability outside [0, 1], a reversed range, or an unknown microphone.
    """

    pitch_probability: float = 0.8
    semitones: tuple[float, float] = (-3.0, 3.0)
    room_probability: float = 0.5
    microphone: str = "MP34DT05-A"

    def __post_init__(self) -> None:
        for name in ("pitch_probability", "room_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        lo, hi = self.semitones
        if not (np.isfinite(lo) and np.isfinite(hi) and -12 <= lo <= hi <= 12):
            raise ValueError(f"semitones must be a (low, high) range within ±12, got {self.semitones!r}")
        if self.microphone and self.microphone not in MEMS_MICROPHONES:
            raise ValueError(f"microphone {self.microphone!r}: use one of {sorted(MEMS_MICROPHONES)} or ''")


def room_impulse_responses(n_rooms: int = 24, *, seed: int = 0,
                           sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ,
                           distance_m: tuple[float, float] = (0.3, 2.0),
                           max_order: int = 12) -> list[np.ndarray]:
    """Simulate room impulse responses with pyroomacoustics (image-source method).

    Rooms are drawn in turn from :data:`ROOM_KINDS` (size and RT60 uniform in the kind's ranges;
    wall absorption from Sabine's formula, ``pyroomacoustics.inverse_sabine``); the talker stands
    at 1.2-1.8 m height somewhere inside, the kit at ``distance_m`` from them in a random
    direction (moved back to 0.3 m from a wall if that direction leaves the room). Reflections stop at ``max_order`` (the late tail of the longest rooms is
    cut: the first ~150 ms carry what changes a word's spectrum).

    Args:
        n_rooms: how many responses.
        seed: the draw.
        sample_rate_hz: rate of the responses, Hz.
        distance_m: (low, high) talker-to-kit distance, m.
        max_order: image-source reflection order.

    Returns:
        ``n_rooms`` float32 arrays (lengths differ), each scaled so its largest tap is 1.0; the
        direct path arrives first (after the propagation delay and pyroomacoustics' 40-sample
        fractional-delay filter).

    Raises:
        ValueError: ``n_rooms`` < 1 or a distance range outside 0.1-5 m.
    """
    import pyroomacoustics as pra

    if n_rooms < 1:
        raise ValueError(f"n_rooms must be at least 1, got {n_rooms}")
    if not 0.1 <= distance_m[0] <= distance_m[1] <= 5.0:
        raise ValueError(f"distance_m {distance_m}: give (low, high) within 0.1-5 m")
    rng = np.random.default_rng(seed)
    kinds = sorted(ROOM_KINDS)
    out = []
    for i in range(n_rooms):
        box, rt60_range = ROOM_KINDS[kinds[i % len(kinds)]]
        dims = np.array([rng.uniform(*r) for r in box])
        rt60 = float(rng.uniform(*rt60_range))
        try:
            absorption, _ = pra.inverse_sabine(rt60, dims)
        except ValueError:  # the room is too big for so short a time: absorb everything
            absorption = 0.99
        room = pra.ShoeBox(dims, fs=sample_rate_hz, materials=pra.Material(float(absorption)),
                           max_order=max_order)
        talker = np.array([rng.uniform(0.5, dims[0] - 0.5), rng.uniform(0.5, dims[1] - 0.5),
                           rng.uniform(1.2, 1.8)])
        direction = rng.normal(size=3)
        direction[2] *= 0.3
        direction /= np.linalg.norm(direction)
        kit = talker + rng.uniform(*distance_m) * direction
        kit = np.clip(kit, 0.3, dims - 0.3)
        room.add_source(talker)
        room.add_microphone(kit)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        out.append((rir / np.abs(rir).max()).astype(np.float32))
    return out


def _direct_path(rir: np.ndarray) -> int:
    """Index of the direct path: the first tap at least 0.3 × the largest (in a reverberant room
    two reflections can arrive together and outweigh it)."""
    a = np.abs(rir)
    return int(np.flatnonzero(a >= 0.3 * a.max())[0])


def sound_like_kit(audio: np.ndarray, rirs: list[np.ndarray], config: KitAudioConfig = KitAudioConfig(),
                   seed: int = 0, *, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ) -> np.ndarray:
    """Pitch-shift, reverberate and "record" every clip with its own random setting.

    Order: the speaker (pitch shift with probability ``pitch_probability``), the room
    (``scipy.signal.oaconvolve`` with a response chosen uniformly from ``rirs``, with probability
    ``room_probability``; the result is re-aligned on the direct path and rescaled to the clip's
    peak, so level and timing stay the clip's own), then the microphone (high-pass at the
    microphone's corner and its self-noise). Noise, gain and band limiting stay with
    :func:`tinymlkit.features.augment_clips`, which runs after this.

    Args:
        audio: ``(n_clips, n_samples)`` float32 in [-1, 1] at ``sample_rate_hz``.
        rirs: from :func:`room_impulse_responses` (may be empty when ``room_probability`` is 0).
        config: the ranges.
        seed: seed of the draws.
        sample_rate_hz: rate of ``audio``, Hz.

    Returns:
        ``(n_clips, n_samples)`` float32 in [-1, 1], a new array.

    Raises:
        ValueError: ``audio`` is not a 2-D float batch in [-1, 1], or rooms are asked for and
            ``rirs`` is empty.
    """
    import audiomentations as am
    from scipy.signal import butter, oaconvolve, sosfilt

    audio = np.asarray(audio)
    if audio.ndim != 2 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio has shape {audio.shape} and dtype {audio.dtype}; expected float "
                         "(n_clips, n_samples)")
    if not np.isfinite(audio).all() or (audio.size and np.abs(audio).max() > 1.0):
        raise ValueError("audio: float samples must be finite and lie in [-1, 1]")
    if config.room_probability > 0 and not rirs:
        raise ValueError("config.room_probability > 0 but no room impulse responses were given "
                         "(room_impulse_responses(), or KitAudioConfig(room_probability=0))")
    rng = np.random.default_rng(seed)
    n_clips, n_samples = audio.shape
    pitched = rng.random(n_clips) < config.pitch_probability
    semitones = rng.uniform(*config.semitones, size=n_clips)
    roomed = rng.random(n_clips) < config.room_probability
    which = rng.integers(0, max(len(rirs), 1), size=n_clips)
    out = audio.astype(np.float32, copy=True)
    for i in np.flatnonzero(pitched):
        shift = am.PitchShift(min_semitones=float(semitones[i]), max_semitones=float(semitones[i]),
                              method="signalsmith_stretch", p=1.0)
        out[i] = shift(out[i], sample_rate=sample_rate_hz)
    for i in np.flatnonzero(roomed):
        rir = rirs[which[i]]
        lag = _direct_path(rir)
        wet = oaconvolve(out[i], rir)[lag:lag + n_samples]
        peak = float(np.abs(out[i]).max())
        out[i, :len(wet)] = wet * (peak / max(float(np.abs(wet).max()), 1e-9))
    if config.microphone:
        mic = MEMS_MICROPHONES[config.microphone]
        high_pass = butter(2, mic.low_cut_hz, btype="highpass", fs=sample_rate_hz, output="sos")
        floor = 10 ** (mic.noise_floor_dbfs / 20)
        out = sosfilt(high_pass, out, axis=1).astype(np.float32)
        out += (floor * rng.standard_normal(out.shape)).astype(np.float32)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
