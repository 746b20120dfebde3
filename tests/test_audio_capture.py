"""The student's own keywords: the kit's microphone through a real pseudo-terminal (the simulated
board with --sensor mic, read by pyserial), the laptop's microphone through the real PortAudio and
ALSA (a capture device made of ALSA's `file` plugin, so no sound card is needed), and the clips on
disk read back by load_keyword_clips."""

import csv
import io
import os
import pathlib
import shutil
import signal
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from tinymlkit.capture import (SILENCE_LABEL, Board, BoardError, LostSamplesError, MicrophoneError,
                               list_microphones, record_keywords, record_microphone, save_keyword_clip)
from tinymlkit.datasets import DatasetError, load_keyword_clips, synthetic_keywords_path
from tinymlkit.simboard import SimulatedBoard, SimulationConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Allison Smith's ten spoken digits, shipped (a real voice; speaker id "allison").
REAL_VOICE = ROOT / "tinymlkit" / "data" / "keywords" / "real_voice"


def _clip(word: str) -> np.ndarray:
    """Allison's ``word`` as float32 at 16 kHz, 1 s."""
    audio, rate = sf.read(REAL_VOICE / word / f"{word}.allison.wav", dtype="float32")
    assert rate == 16000
    return audio


def _frame_rms(audio: np.ndarray, frame: int = 320) -> np.ndarray:
    """RMS of 20 ms frames (320 samples at 16 kHz), in int16 units."""
    x = audio[: len(audio) // frame * frame].astype(np.float64).reshape(-1, frame)
    return np.sqrt((x ** 2).mean(axis=1))


def _best_match(take: np.ndarray, word: np.ndarray) -> float:
    """Largest normalised correlation of the voiced part of ``word`` with any stretch of ``take``
    (1.0: that stretch is the word, scaled)."""
    from scipy.signal import correlate

    loud = np.flatnonzero(np.abs(word) > 0.05 * np.abs(word).max())
    w = word[loud[0]:loud[-1] + 1].astype(np.float64)
    t = take.astype(np.float64)
    num = correlate(t, w, mode="valid", method="fft")
    energy = np.convolve(t ** 2, np.ones(len(w)), mode="valid")
    return float(np.max(num / (np.linalg.norm(w) * np.sqrt(np.maximum(energy, 1e-9)))))


def _read_until(board: Board, prefix: str) -> str:
    while True:
        line = board.read_line()
        assert line is not None, f"no line starting with {prefix!r}"
        if line.startswith(prefix):
            return line


@pytest.fixture(scope="module")
def mic():
    with SimulatedBoard(SimulationConfig(sensor="mic", speed=20, clips_dir=str(REAL_VOICE), seed=1)) as sim:
        yield sim


# -- the kit's microphone: Board.record_audio over the pty -------------------------------------
def test_record_audio_gives_one_second_with_the_word_above_the_room_noise(mic):
    with Board(mic.port) as board:
        h = board.header
        assert (h.board, h.sensor, h.rate_hz, h.channels, h.units) == (
            "simulated", "mic", 16000.0, ("mic",), ("int16",))
        assert h.extra["speaker"] == "allison"
        board.act("seven")
        t0 = time.perf_counter()
        take = board.record_audio(1000)
        seconds = time.perf_counter() - t0
        board.act(SILENCE_LABEL)
        room = board.record_audio(1000)
    assert take.shape == (16000,) and take.dtype == np.int16 and room.shape == (16000,)
    assert seconds < 1.0  # 50 ms of simulated recording (speed 20) + 16,000 lines through the pty
    rms = _frame_rms(take)  # the word stands out of the room noise around it
    assert 20 * np.log10(rms.max() / np.percentile(rms, 10)) > 15
    # the loud part is Allison's "seven" (at a 20-30 dB SNR), not another digit
    assert _best_match(take, _clip("seven")) > 0.95
    assert _best_match(take, _clip("seven")) > _best_match(take, _clip("six")) + 0.2
    digits = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    assert max(_best_match(room, _clip(d)) for d in digits) < 0.6  # _silence_ is only the room
    assert room.std() > 0  # ... but the room is not digital silence


def test_mic_board_refuses_start_too_long_takes_and_unknown_words(mic):
    with Board(mic.port) as board:
        board.send("START")
        assert _read_until(board, "#ERR") == "#ERR 16 kHz audio is faster than the serial link: use RECORD ms=<n>"
        board.send("RECORD ms=abc")
        assert "needs ms=<duration in ms>" in _read_until(board, "#ERR")
        with pytest.raises(BoardError, match="could not record: RECORD ms=1500 does not fit in RAM: at most 1000 ms"):
            board.record_audio(1500)
        with pytest.raises(BoardError, match=r"unknown word 'banana'; speaker allison says eight, five"):
            board.act("banana")
        with pytest.raises(ValueError, match="whole number of milliseconds"):
            board.record_audio(0)
        assert board.record_audio(250).shape == (4000,)  # the board still works after refusals


def test_record_audio_on_an_imu_board_says_to_upload_mic_capture(tmp_path):
    with SimulatedBoard(SimulationConfig(speed=20)) as sim, Board(sim.port) as board:
        with pytest.raises(BoardError, match="sends imu data .*not audio: upload the mic_capture sketch"):
            board.record_audio(1000)
        with pytest.raises(BoardError, match="not audio"):
            record_keywords(board, tmp_path, ["yes"], "s01")
    assert not list(tmp_path.iterdir())


def test_lost_and_garbled_samples_are_refused_with_a_clear_error(tmp_path):
    cfg = SimulationConfig(sensor="mic", speed=20, clips_dir=str(REAL_VOICE), drop_every=1000)
    with SimulatedBoard(cfg) as sim, Board(sim.port) as board:
        with pytest.raises(LostSamplesError, match=r"should have 16000 samples; the board announced 16000 "
                                                   r"\(#STOP n=\) and 15984 arrived intact \(16 lost"):
            board.record_audio(1000)
        said = []
        with pytest.raises(LostSamplesError, match="record it again"):
            record_keywords(board, tmp_path, ["one"], "s01", prompt=said.append, max_retries=1)
    assert said == ["say one (take 1 of 5)", said[1]] and "samples were lost on the way" in said[1]
    assert not (tmp_path / "manifest.csv").exists()  # a broken take is never saved
    cfg = SimulationConfig(sensor="mic", speed=20, clips_dir=str(REAL_VOICE), garble_every=4001)
    with SimulatedBoard(cfg) as sim, Board(sim.port) as board:
        with pytest.raises(LostSamplesError, match=r"3 garbled line"):
            board.record_audio(1000)
        assert board.bad_lines == 3


# -- record_keywords and the files it writes ---------------------------------------------------
def test_record_keywords_writes_clips_and_a_manifest_that_load_keyword_clips_reads(mic, tmp_path):
    folder = tmp_path / "my_voice"
    said = []
    with Board(mic.port) as board:
        paths = record_keywords(board, folder, ["seven", "two", SILENCE_LABEL], "s01", takes=2,
                                prompt=said.append)
        more = record_keywords(board, folder, ["seven"], "s02", takes=1, prompt=said.append)
    assert said[:3] == ["say seven (take 1 of 2)", "say two (take 1 of 2)",
                        "stay quiet: only the room is recorded ('_silence_') (take 1 of 2)"]
    assert [p.relative_to(folder).as_posix() for p in paths + more] == [
        "seven/seven.s01.001.wav", "two/two.s01.001.wav", "_silence_/_silence_.s01.001.wav",
        "seven/seven.s01.002.wav", "two/two.s01.002.wav", "_silence_/_silence_.s01.002.wav",
        "seven/seven.s02.001.wav"]
    assert not list(folder.rglob("*.tmp")), "temporary files left behind"
    with (folder / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "label", "speaker_id", "source", "recorded_at"]
    assert {r["source"] for r in rows} == {"kit:simulated"}
    clips = load_keyword_clips(folder)
    assert clips.labels == ("seven", "two", SILENCE_LABEL) * 2 + ("seven",)
    assert clips.speaker_ids == ("s01",) * 6 + ("s02",)
    assert clips.audio.shape == (7, 16000) and clips.sample_rate_hz == 16000
    info = sf.info(paths[0])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    for k, label in enumerate(clips.labels):
        if label != SILENCE_LABEL:
            assert _best_match(clips.audio[k], _clip(label)) > 0.95, (k, label)


def test_ctrl_c_during_a_take_keeps_the_finished_clips_and_the_board_stays_usable(tmp_path):
    """A real SIGINT (what Ctrl-C sends) arrives while the board records the third take."""
    cfg = SimulationConfig(sensor="mic", speed=1, clips_dir=str(REAL_VOICE), seed=2)
    said = []

    def prompt(text):
        said.append(text)
        if len(said) == 3:  # the third take: Ctrl-C 0.3 s into its 1 s of recording
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()

    # Ctrl-C as a terminal or a Jupyter kernel delivers it: Python's default handler raises
    # KeyboardInterrupt. (A library used by an earlier test in this pytest worker may have left its
    # own SIGINT handler, e.g. an asyncio runner's, which swallows the first SIGINT.)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with SimulatedBoard(cfg) as sim, Board(sim.port) as board:
            paths = record_keywords(board, tmp_path, ["four", "five"], "s03", takes=3, prompt=prompt)
            assert said[-1] == f"stopped: 2 clip(s) kept in {tmp_path}" and len(said) == 4, said
            board.act("nine")  # the interrupted take was drained: the next one is a clean "nine"
            take = board.record_audio(1000)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [p.name for p in paths] == ["four.s03.001.wav", "five.s03.001.wav"]
    clips = load_keyword_clips(tmp_path)
    assert clips.labels == ("four", "five") and clips.speaker_ids == ("s03", "s03")
    assert _best_match(take, _clip("nine")) > 0.95


def test_unplugged_board_stops_the_session_and_the_saved_clips_survive(tmp_path):
    cfg = SimulationConfig(sensor="mic", speed=20, clips_dir=str(REAL_VOICE), unplug_after_s=30)
    with SimulatedBoard(cfg) as sim, Board(sim.port) as board:
        with pytest.raises(BoardError, match="unplugged") as err:
            record_keywords(board, tmp_path, ["zero", "one"], "s04", takes=1000, prompt=lambda text: None)
    assert "kept" in str(err.value) or "stopped" in str(err.value)
    clips = load_keyword_clips(tmp_path)
    assert 2 <= len(clips) < 2000 and clips.audio.shape[1] == 16000
    assert set(clips.labels) == {"zero", "one"}


def test_save_keyword_clip_centres_resamples_numbers_and_validates(tmp_path):
    folder = tmp_path / "kw"
    shutil.copytree(REAL_VOICE, folder)  # an existing folder: its rows and extra columns stay
    rng = np.random.default_rng(0)
    long = (0.001 * rng.standard_normal(24000)).astype(np.float32)  # 1.5 s at 16 kHz
    long[19000:20600] += 0.5 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)  # a "word" at 1.2 s
    p1 = save_keyword_clip(folder, long, "yes", "me", source="test")
    exact = (rng.integers(-3000, 3000, 16000)).astype(np.int16)
    p2 = save_keyword_clip(folder, exact, "yes", "me")
    p3 = save_keyword_clip(folder, exact[::2].astype(np.float32) / 32768, "yes", "me", sample_rate_hz=8000)
    assert [p.name for p in (p1, p2, p3)] == ["yes.me.001.wav", "yes.me.002.wav", "yes.me.003.wav"]
    a1, _ = sf.read(p1, dtype="float32")
    assert len(a1) == 16000 and abs(int(np.argmax(np.abs(a1))) - 8000) < 1000  # centred on the word
    a2, _ = sf.read(p2, dtype="int16")
    np.testing.assert_array_equal(a2, exact)  # an exact 1 s int16 take is stored bit for bit
    assert sf.info(p3).samplerate == 16000 and sf.info(p3).frames == 16000
    clips = load_keyword_clips(folder)
    assert len(clips) == 13 and clips.labels[-3:] == ("yes",) * 3 and clips.speaker_ids[0] == "allison"
    with (folder / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["path", "label", "speaker_id", "engine", "voice", "variant"]
    assert list(rows[0])[-2:] == ["source", "recorded_at"] and rows[0]["engine"] == "human"
    assert rows[10]["source"] == "test" and rows[10]["engine"] == ""
    for label in ("Yes!", "two words", "a.b", "", "_"):
        with pytest.raises(ValueError, match=f"label {label!r}: use letters only"):
            save_keyword_clip(folder, exact, label, "me")
    for speaker in ("my name", "a.b", "../x", ""):
        with pytest.raises(ValueError, match="part of a file name"):
            save_keyword_clip(folder, exact, "yes", speaker)
    with pytest.raises(ValueError, match=r"float samples must lie in \[-1, 1\]"):
        save_keyword_clip(folder, exact.astype(np.float32), "yes", "me")
    with pytest.raises(ValueError, match=r"mono samples, got shape \(16000, 2\)"):
        save_keyword_clip(folder, np.zeros((16000, 2), np.int16), "yes", "me")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.csv").write_text("file,class\na.wav,yes\n")
    with pytest.raises(DatasetError, match=r"other/manifest.csv': not a keyword manifest"):
        save_keyword_clip(tmp_path / "other", exact, "yes", "me")
    assert len(load_keyword_clips(folder)) == 13 and not list(folder.rglob("*.tmp"))


def test_record_keywords_rejects_bad_arguments_before_recording(tmp_path):
    with pytest.raises(ValueError, match="give an open Board .* or the string 'laptop'"):
        record_keywords("/dev/ttyACM0", tmp_path, ["yes"], "s01")
    with pytest.raises(ValueError, match="label 'Yes!'"):
        record_keywords("laptop", tmp_path, ["yes", "Yes!"], "s01")
    with pytest.raises(ValueError, match="takes=0"):
        record_keywords("laptop", tmp_path, ["yes"], "s01", takes=0)
    assert not list(tmp_path.iterdir())


# -- the simulated microphone's command line ---------------------------------------------------
def test_simulate_board_mic_command_with_a_speaker_of_the_default_set(tmp_path):
    folder = synthetic_keywords_path()
    if not (folder / "manifest.csv").exists():
        pytest.skip(f"the shipped synthetic keyword set is not in this checkout ({folder})")
    with (folder / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    speaker = next(r["speaker_id"] for r in rows if r["label"] == "yes" and r["speaker_id"] != rows[0]["speaker_id"])
    with SimulatedBoard(SimulationConfig(sensor="mic", speed=20, speaker=speaker)) as sim, Board(sim.port) as board:
        assert board.header.extra["speaker"] == speaker
        board.act("yes")
        take = board.record_audio(1000)
    mine = next(r for r in rows if r["label"] == "yes" and r["speaker_id"] == speaker)
    word, rate = sf.read(folder / mine["path"], dtype="float32")
    assert rate == 16000 and _best_match(take, word) > 0.9
    with pytest.raises(RuntimeError, match="speaker 'nobody' is not in"):
        SimulatedBoard(SimulationConfig(sensor="mic", speaker="nobody"))
    with pytest.raises(RuntimeError, match="manifest.csv': not found"):
        SimulatedBoard(SimulationConfig(sensor="mic", clips_dir=str(tmp_path)))


# -- the laptop's microphone: the real PortAudio, ALSA's `file` plugin as the capture device ---
ALSA_CONF = pathlib.Path("/usr/share/alsa/alsa.conf")


@pytest.fixture()
def alsa_config(tmp_path):
    """Point ALSA at an extra configuration (``ALSA_CONFIG_PATH``) and restart PortAudio so it
    rescans; afterwards the system configuration is restored and PortAudio rescans again."""
    if sys.platform != "linux" or not ALSA_CONF.exists():
        pytest.skip("needs Linux with ALSA's configuration (/usr/share/alsa/alsa.conf)")
    old = os.environ.get("ALSA_CONFIG_PATH")

    def use(text: str) -> list[dict]:
        conf = tmp_path / "asound.conf"
        conf.write_text(text)
        os.environ["ALSA_CONFIG_PATH"] = f"{ALSA_CONF}:{conf}"
        return list_microphones(refresh=True)

    yield use
    if old is None:
        os.environ.pop("ALSA_CONFIG_PATH", None)
    else:
        os.environ["ALSA_CONFIG_PATH"] = old
    list_microphones(refresh=True)


@pytest.fixture()
def file_mic(alsa_config, tmp_path):
    """A capture device "tmkmic" (also the default) that delivers 3 s of Allison saying "three",
    "seven", "nine" from a raw 16 kHz S16_LE file (ALSA `file` plugin, `infile`), no sound card."""
    audio = np.concatenate([_clip(w) for w in ("three", "seven", "nine")])
    pcm = np.round(audio * 32767).astype("<i2")
    raw = tmp_path / "voice.raw"
    pcm.tofile(raw)
    devices = alsa_config(f"""
pcm.tmkmic {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{raw}"
    format "raw"
}}
pcm.!default {{
    type plug
    slave {{ pcm "tmkmic" format S16_LE rate 16000 channels 1 }}
}}
""")
    return devices, pcm


def test_record_microphone_records_what_the_alsa_device_delivers(file_mic):
    devices, pcm = file_mic
    by = {d["name"]: d for d in devices}  # a laptop's own sound cards may be listed too
    assert by["tmkmic"]["host_api"] == "ALSA" and by["tmkmic"]["max_input_channels"] > 0
    assert by["default"]["default"]
    audio = record_microphone(1000)
    assert audio.shape == (16000,) and audio.dtype == np.int16
    np.testing.assert_array_equal(audio, pcm[:16000])  # through PortAudio and ALSA, bit for bit
    by_name = record_microphone(500, device="tmkmic")
    np.testing.assert_array_equal(by_name, pcm[:8000])
    with pytest.raises(MicrophoneError, match="no microphone 'no-such-mic'.*the inputs are: .*tmkmic"):
        record_microphone(1000, device="no-such-mic")


def test_record_keywords_from_the_laptop_microphone(file_mic, tmp_path):
    _, pcm = file_mic
    folder = tmp_path / "laptop"
    said = []
    paths = record_keywords("laptop", folder, ["three"], "me", takes=2, clip_ms=3000, prompt=said.append)
    assert said == ["say three (take 1 of 2)", "say three (take 2 of 2)"]
    clips = load_keyword_clips(folder)
    assert clips.labels == ("three", "three") and clips.speaker_ids == ("me", "me")
    with (folder / "manifest.csv").open(newline="") as f:
        assert {r["source"] for r in csv.DictReader(f)} == {"laptop"}
    assert [p.name for p in paths] == ["three.me.001.wav", "three.me.002.wav"]
    # each 3 s take ("three", "seven", "nine") is cut to the 1 s around its energy centre: a
    # stretch of the device's audio, sample for sample, from the middle second ("seven")
    for path in paths:
        saved, _ = sf.read(path, dtype="int16")
        k = int(np.argmax(np.abs(saved)))
        starts = [j - k for j in np.flatnonzero(pcm == saved[k])
                  if 0 <= j - k <= len(pcm) - 16000 and np.array_equal(pcm[j - k:j - k + 16000], saved)]
        assert len(starts) == 1 and abs(starts[0] - 16000) < 4000, starts


def test_no_microphone_is_explained(alsa_config):
    devices = alsa_config("# no capture device defined here\n")
    if devices:
        pytest.skip(f"this computer has a real microphone ({devices[0]['name']})")
    with pytest.raises(MicrophoneError, match="no microphone found.*simulate-board --sensor mic"):
        record_microphone(1000)
    with pytest.raises(MicrophoneError, match="no microphone found"):
        record_keywords("laptop", "unused", ["yes"], "me", prompt=lambda text: None)


# -- the notebook panel, without a display -----------------------------------------------------
def test_audio_level_in_dbfs_and_hints():
    from tinymlkit.widgets import audio_level

    t = np.arange(16000) / 16000
    sine = np.round(32768 * 10 ** (-12 / 20) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    level = audio_level(sine)
    assert abs(level["peak_dbfs"] + 12) < 0.01 and abs(level["rms_dbfs"] + 15.01) < 0.02
    assert level["hint"] == "" and level["clipped"] == 0
    assert audio_level((sine // 100).astype(np.int16))["hint"].startswith("too quiet: the peak is -52 dBFS")
    loud = np.clip(sine.astype(np.int32) * 8, -32768, 32767).astype(np.int16)
    assert audio_level(loud)["hint"].startswith("clipping") and audio_level(loud)["clipped"] > 1000
    assert audio_level(np.zeros(100, np.int16))["peak_dbfs"] == pytest.approx(-90.31, abs=0.01)
    with pytest.raises(ValueError, match="int16"):
        audio_level(sine.astype(np.float32))


def test_keyword_recorder_records_plays_saves_and_discards(mic, tmp_path):
    from tinymlkit.widgets import KeywordRecorder

    folder = tmp_path / "panel"
    with Board(mic.port) as board:
        rec = KeywordRecorder(folder, ["eight", SILENCE_LABEL], "s05", source=board)
        assert rec.counts() == {"eight": 0, SILENCE_LABEL: 0} and rec.save_button.disabled
        assert rec.save() is None and "nothing to save" in rec.status.value
        take = rec.record()
        assert take.shape == (16000,) and not rec.save_button.disabled
        assert rec.player.value[:4] == b"RIFF" and sf.info(io.BytesIO(rec.player.value)).frames == 16000
        assert -40 < rec.level["peak_dbfs"] < 0 and rec.meter.value == pytest.approx(rec.level["peak_dbfs"])
        assert "dBFS" in rec.level_text.value
        rec.label.value = SILENCE_LABEL  # the take keeps the word it was recorded for
        path = rec.save()
        assert path.relative_to(folder).as_posix() == "eight/eight.s05.001.wav" and rec.take is None
        assert rec.counts() == {"eight": 1, SILENCE_LABEL: 0} and "eight <b>1</b>" in rec.counts_html.value
        rec.record()  # _silence_: a quiet take is right, so no "too quiet" warning
        assert "too quiet" not in rec.level_text.value and "level OK" in rec.level_text.value
        rec.discard()
        assert rec.take is None and rec.player.value == b"" and rec.save_button.disabled
        rec.record()
        rec.save()
    clips = load_keyword_clips(folder)
    assert clips.labels == ("eight", SILENCE_LABEL) and clips.speaker_ids == ("s05", "s05")
    assert _best_match(clips.audio[0], _clip("eight")) > 0.95
    again = KeywordRecorder(folder, ["eight", SILENCE_LABEL], "s05", source="laptop")
    assert again.counts() == {"eight": 1, SILENCE_LABEL: 1}  # counts what is already saved


def test_keyword_recorder_shows_a_failure_instead_of_raising(alsa_config, tmp_path):
    from tinymlkit.widgets import KeywordRecorder

    devices = alsa_config("# no capture device defined here\n")
    if devices:
        pytest.skip(f"this computer has a real microphone ({devices[0]['name']})")
    rec = KeywordRecorder(tmp_path, ["yes"], "s06")
    assert rec.record() is None and "no microphone found" in rec.error
    assert "no microphone found" in rec.status.value and not rec.record_button.disabled
    with pytest.raises(ValueError, match="speaker_id 'a b'"):
        KeywordRecorder(tmp_path, ["yes"], "a b")
