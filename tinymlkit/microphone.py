"""Stage 10c — microphone: record from the laptop's microphone (PortAudio through ``sounddevice``).

The keyword-spotting track's third source of audio, beside the kit's microphone
(:meth:`tinymlkit.board_link.Board.record_audio`) and the simulated board. Every failure is a
:class:`MicrophoneError` saying what to install or check, and what to use instead.
"""

from __future__ import annotations

import numpy as np

from .keywords import KEYWORD_SAMPLE_RATE_HZ

__all__ = ["MicrophoneError", "list_microphones", "record_microphone"]


class MicrophoneError(RuntimeError):
    """The laptop microphone cannot be used (PortAudio missing, no input device, device busy);
    the message says what to install or check, and that the kit or the simulated board can be
    used instead."""



_INSTEAD = ("Without a laptop microphone, record with the kit's microphone (the mic_capture sketch, "
            "Board.record_audio) or the simulated board (tinymlkit simulate-board --sensor mic).")


def _sounddevice():
    """Import ``sounddevice`` (which loads PortAudio), or say in plain words what is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when the PortAudio library is not found
        raise MicrophoneError(
            f"PortAudio, the sound library the laptop microphone needs, is not installed ({exc}). "
            "Install it: Debian/Ubuntu `sudo apt-get install libportaudio2`, Fedora `sudo dnf install "
            "portaudio`, conda `conda install -c conda-forge portaudio` (the macOS and Windows wheels "
            f"of sounddevice bring their own). {_INSTEAD}") from exc
    except ImportError as exc:
        raise MicrophoneError(f"the Python package sounddevice is not installed ({exc}): "
                              f"`pip install sounddevice` (it is in the course requirements). {_INSTEAD}") from exc
    return sounddevice


def list_microphones(refresh: bool = False) -> list[dict]:
    """The audio inputs PortAudio sees (through ``sounddevice``).

    Args:
        refresh: re-scan the devices first (PortAudio lists them once, when it starts; re-starting
            it with ``sounddevice._terminate()``/``_initialize()`` is the rescan sounddevice's
            maintainer recommends, python-sounddevice issue #125). Use it after plugging in a
            headset; it stops any stream that is running.

    Returns:
        One dict per input device, in PortAudio order: ``index`` (int, pass it as ``device``),
        ``name`` (str), ``host_api`` (str, e.g. ``"ALSA"``, ``"Core Audio"``, ``"MME"``),
        ``max_input_channels`` (int), ``default_sample_rate_hz`` (float, Hz) and ``default``
        (bool: the system's default input). Empty when there is no microphone.

    Raises:
        MicrophoneError: PortAudio or sounddevice is not installed (the message says how to
            install it).
    """
    sd = _sounddevice()
    if refresh:
        sd._terminate()
        sd._initialize()
    try:
        default = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError):
        default = -1
    apis = sd.query_hostapis()
    return [{"index": int(d["index"]), "name": d["name"], "host_api": apis[d["hostapi"]]["name"],
             "max_input_channels": int(d["max_input_channels"]),
             "default_sample_rate_hz": float(d["default_samplerate"]), "default": d["index"] == default}
            for d in sd.query_devices() if d["max_input_channels"] > 0]


def record_microphone(duration_ms: int, *, sample_rate_hz: int = KEYWORD_SAMPLE_RATE_HZ,
                      device: int | str | None = None) -> np.ndarray:
    """Record from the laptop's microphone (PortAudio through ``sounddevice``); blocks until done.

    Args:
        duration_ms: length in ms (at least 1).
        sample_rate_hz: sample rate in Hz (16 kHz, the keyword clips' rate; PortAudio or the
            system's sound server converts if the device runs at another rate).
        device: an ``index`` or a part of a ``name`` from :func:`list_microphones`; None: the
            system's default input.

    Returns:
        ``(duration_ms × sample_rate_hz / 1000,)`` int16 mono samples (the first channel),
        full scale ±32768.

    Raises:
        ValueError: ``duration_ms`` or ``sample_rate_hz`` is not a positive whole number.
        MicrophoneError: PortAudio is missing, there is no microphone (or none called
            ``device``), it cannot record 16-bit mono at ``sample_rate_hz``, or recording failed
            (another program holds it, it was unplugged); the message says what to do.
        KeyboardInterrupt: Ctrl-C; the recording is stopped and dropped.
    """
    for name, value in (("duration_ms", duration_ms), ("sample_rate_hz", sample_rate_hz)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: give a whole number, at least 1")
    sd = _sounddevice()
    try:
        info = sd.query_devices(device, "input")
    except (sd.PortAudioError, ValueError) as exc:
        if device is None:
            raise MicrophoneError(
                f"no microphone found: PortAudio sees no audio input on this computer ({exc}). Plug "
                "in a microphone or headset and call list_microphones(refresh=True); check that the "
                f"system's sound settings enable it (and allow this program to use it). {_INSTEAD}") from exc
        names = ", ".join(f"{d['index']}: {d['name']}" for d in list_microphones()) or "none"
        raise MicrophoneError(f"no microphone {device!r} ({exc}); the inputs are: {names}. {_INSTEAD}") from exc
    name = info["name"]
    n = int(round(int(duration_ms) * int(sample_rate_hz) / 1000))
    try:
        sd.check_input_settings(device=info["index"], channels=1, dtype="int16", samplerate=sample_rate_hz)
        audio = sd.rec(n, samplerate=sample_rate_hz, channels=1, dtype="int16", device=info["index"],
                       blocking=True)
    except KeyboardInterrupt:
        sd.stop()
        raise
    except (sd.PortAudioError, ValueError) as exc:
        raise MicrophoneError(f"recording {sample_rate_hz} Hz 16-bit mono from the microphone '{name}' "
                              f"failed ({exc}): another program may be using it, or it was unplugged; "
                              f"list_microphones() shows the inputs. {_INSTEAD}") from exc
    return np.ascontiguousarray(audio[:, 0])
