"""tinymlkit/audio_sources.py: the download registry (a real HTTP server on 127.0.0.1 serving
real .tar.gz/.zip archives in the published layouts), the Speech Commands and FSDD loaders, and
the generated background noise."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pathlib
import tarfile
import threading
import zipfile

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly, welch

import tinymlkit as tk

from tinymlkit.datasets import (DOWNLOADS, NOISE_KINDS, DatasetError, Download, KeywordClips,
                                background_noise, fetch, load_fsdd, load_real_voice_digits,
                                load_speech_commands, load_speech_commands_noise)

SC_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.10.zip"
#: Speaker hashes of the tiny Speech Commands copy, one per split (training, validation, testing).
SPEAKERS = ("0a1b2c3d", "4e5f6a7b", "8c9d0e1f")
SC_WORDS = ("zero", "one", "two", "three", "four")
FSDD_SPEAKERS = ("jackson", "theo")


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def voice() -> KeywordClips:
    return load_real_voice_digits()


def _speech_commands_files(voice: KeywordClips) -> dict[str, bytes]:
    """Relative path → bytes of a tiny Speech Commands v2 copy: real-voice digits, 3 speakers
    × 5 words × 2 takes; take 1 is 0.75 s (to be padded), speaker 0's "zero" take 0 is 1.0625 s
    (to be cut); speaker 1 listed for validation, speaker 2 for testing."""
    digits = dict(zip(voice.labels, voice.audio))
    files, validation, testing = {}, [], []
    for k, spk in enumerate(SPEAKERS):
        for word in SC_WORDS:
            for take in range(2):
                clip = digits[word] * (0.6 + 0.15 * k)
                if take == 1:
                    clip = clip[2000:14000]
                elif spk == SPEAKERS[0] and word == "zero":
                    clip = np.concatenate([clip, np.full(1000, 0.1, np.float32)])
                rel = f"{word}/{spk}_nohash_{take}.wav"
                files[rel] = _wav_bytes(clip, 16000)
                (validation if k == 1 else testing if k == 2 else []).append(rel)
    files["validation_list.txt"] = ("\n".join(validation) + "\n").encode()
    files["testing_list.txt"] = ("\n".join(testing) + "\n").encode()
    files["_background_noise_/white_noise.wav"] = _wav_bytes(background_noise("white", 3.0), 16000)
    files["_background_noise_/pink_noise.wav"] = _wav_bytes(background_noise("pink", 2.0), 16000)
    files["README.md"] = b"Speech Commands test copy\n"
    return files


def _write_tree(root: pathlib.Path, files: dict[str, bytes]) -> pathlib.Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def www(tmp_path_factory, voice) -> pathlib.Path:
    """Folder served over HTTP, holding the archives at the publishers' URL paths."""
    www = tmp_path_factory.mktemp("www")
    sc = www / "data" / "speech_commands_v0.02.tar.gz"
    sc.parent.mkdir(parents=True)
    with tarfile.open(sc, "w:gz") as tar:  # the published archive's members start with "./"
        for rel, data in _speech_commands_files(voice).items():
            info = tarfile.TarInfo(f"./{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    fsdd = www / "Jakobovski" / "free-spoken-digit-dataset" / "archive" / "v1.0.10.zip"
    fsdd.parent.mkdir(parents=True)
    with zipfile.ZipFile(fsdd, "w", zipfile.ZIP_DEFLATED) as zf:
        top = "free-spoken-digit-dataset-1.0.10"
        zf.writestr(f"{top}/README.md", "FSDD test copy\n")
        for s, spk in enumerate(FSDD_SPEAKERS):
            for d in range(3):
                word = voice.audio[voice.labels.index(("zero", "one", "two")[d])]
                loud = np.flatnonzero(np.abs(word) > 0.02)
                trimmed = word[loud[0]:loud[-1] + 1] * (0.7 + 0.2 * s)
                at_8k = resample_poly(trimmed, 1, 2).astype(np.float32)
                for i in range(7):
                    zf.writestr(f"{top}/recordings/{d}_{spk}_{i}.wav", _wav_bytes(at_8k, 8000))
    return www


class _Server:
    """A real ThreadingHTTPServer on 127.0.0.1 serving ``www``; ``requests`` lists GET paths."""

    def __init__(self, www: pathlib.Path):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(www):
    srv = _Server(www)
    yield srv
    srv.stop()


def _register(monkeypatch, name: str, url: str, archive_path: pathlib.Path, kind: str,
              sha256: str | None = "") -> None:
    sha = _sha256(archive_path) if sha256 == "" else sha256
    monkeypatch.setitem(DOWNLOADS, name, Download(url, sha, kind, "CC-BY-4.0", "test copy"))


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("TINYMLKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("TINYMLKIT_DATA_MIRROR", raising=False)


# --- registry -----------------------------------------------------------------------------------

def test_registry_lists_published_archives_with_hashes_licences_and_citations():
    sc, fsdd = DOWNLOADS["speech_commands_v0.02"], DOWNLOADS["fsdd"]
    assert sc.url == SC_URL and sc.archive == "tar.gz" and sc.licence == "CC-BY-4.0"
    assert "1804.03209" in sc.citation and "Warden" in sc.citation
    assert fsdd.url.startswith("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/")
    assert fsdd.licence == "CC-BY-SA-4.0" and "Jackson" in fsdd.citation
    for entry in DOWNLOADS.values():
        assert entry.sha256 is not None and len(entry.sha256) == 64
        int(entry.sha256, 16)  # hex, or ValueError


# --- fetch over HTTP ----------------------------------------------------------------------------

def test_fetch_speech_commands_from_a_lan_mirror_then_from_the_cache(www, server, tmp_path,
                                                                     monkeypatch, no_env):
    archive = www / "data" / "speech_commands_v0.02.tar.gz"
    _register(monkeypatch, "sc_test", SC_URL, archive, "tar.gz")
    root = fetch("sc_test", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert server.requests == ["/data/speech_commands_v0.02.tar.gz"]
    assert root == tmp_path / "sc_test" and (root / "validation_list.txt").is_file()
    assert (tmp_path / "sc_test.tar.gz").is_file()

    splits = {s: load_speech_commands(root, ("zero", "one", "two"), split=s,
                                      unknown_words=("three",))
              for s in ("training", "validation", "testing")}
    for k, (name, clips) in enumerate(splits.items()):
        assert clips.audio.shape == (8, 16000) and clips.audio.dtype == np.float32
        assert clips.sample_rate_hz == 16000 and clips.path == root
        assert sorted(clips.labels) == sorted(["zero", "one", "two", "unknown"] * 2), name
        assert set(clips.speaker_ids) == {SPEAKERS[k]}, name
    speakers = [set(c.speaker_ids) for c in splits.values()]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])

    # a second fetch finds the archive (hash checked) and the extracted folder: no request
    assert fetch("sc_test", cache_dir=tmp_path, base_url=server.url, progress=False) == root
    assert len(server.requests) == 1


def test_speech_commands_clips_are_padded_and_cut_at_the_end(www, server, tmp_path, monkeypatch,
                                                             no_env):
    _register(monkeypatch, "sc_test", SC_URL, www / "data" / "speech_commands_v0.02.tar.gz", "tar.gz")
    root = fetch("sc_test", cache_dir=tmp_path, base_url=server.url, progress=False)
    clips = load_speech_commands(root, ("zero",))
    assert clips.labels == ("zero", "zero") and clips.speaker_ids == (SPEAKERS[0],) * 2
    long, _ = sf.read(root / "zero" / f"{SPEAKERS[0]}_nohash_0.wav", dtype="float32")
    short, _ = sf.read(root / "zero" / f"{SPEAKERS[0]}_nohash_1.wav", dtype="float32")
    assert len(long) == 17000 and len(short) == 12000
    np.testing.assert_array_equal(clips.audio[0], long[:16000])
    np.testing.assert_array_equal(clips.audio[1, :12000], short)
    assert not clips.audio[1, 12000:].any()
    assert len(load_speech_commands(root, ("zero", "one"), max_per_word=1)) == 2

    noise = load_speech_commands_noise(root)
    assert sorted(noise) == ["pink_noise", "white_noise"]
    assert noise["white_noise"].shape == (48000,) and noise["white_noise"].dtype == np.float32


def test_fetch_fsdd_zip_with_env_mirror_and_cache_then_load_and_split(www, server, tmp_path,
                                                                      monkeypatch):
    _register(monkeypatch, "fsdd_test", FSDD_URL,
              www / "Jakobovski/free-spoken-digit-dataset/archive/v1.0.10.zip", "zip")
    monkeypatch.setenv("TINYMLKIT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYMLKIT_DATA_MIRROR", server.url)
    root = fetch("fsdd_test", progress=False)
    assert server.requests == ["/Jakobovski/free-spoken-digit-dataset/archive/v1.0.10.zip"]
    assert root == tmp_path / "cache" / "fsdd_test" / "free-spoken-digit-dataset-1.0.10"

    clips = load_fsdd(root)
    assert clips.audio.shape == (42, 16000) and clips.audio.dtype == np.float32
    assert set(clips.labels) == {"zero", "one", "two"} and set(clips.speaker_ids) == set(FSDD_SPEAKERS)
    assert clips.path == root / "recordings"
    energy = clips.audio.astype(np.float64) ** 2
    centroid = (energy * np.arange(16000)).sum(axis=1) / energy.sum(axis=1)
    assert np.all(np.abs(centroid - 8000) < 400)  # centred by energy
    test, train = load_fsdd(root / "recordings", split="test"), load_fsdd(root, split="train")
    assert len(test) == 2 * 3 * 5 and len(train) == 2 * 3 * 2
    assert load_fsdd(root, digits_as_words=False).labels[:7] == ("0",) * 7

    # interrupted extraction (no completion marker): re-extracted from the cached archive
    (tmp_path / "cache" / "fsdd_test.extracted").unlink()
    (root / "README.md").unlink()
    assert fetch("fsdd_test", progress=False) == root and (root / "README.md").is_file()
    assert len(server.requests) == 1


def test_fetch_rejects_a_file_whose_hash_differs(www, server, tmp_path, monkeypatch, no_env):
    _register(monkeypatch, "sc_test", SC_URL, www / "data" / "speech_commands_v0.02.tar.gz",
              "tar.gz", sha256="0" * 64)
    with pytest.raises(DatasetError, match="not the published archive.*SHA-256"):
        fetch("sc_test", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert server.requests and not (tmp_path / "sc_test.tar.gz").exists()


def test_fetch_explains_what_to_do_when_the_host_is_unreachable(www, tmp_path, monkeypatch, no_env):
    _register(monkeypatch, "sc_test", SC_URL, www / "data" / "speech_commands_v0.02.tar.gz", "tar.gz")
    stopped = _Server(www)
    stopped.stop()
    with pytest.raises(DatasetError, match=r"could not download 'sc_test'.*Offline\?.*shipped"):
        fetch("sc_test", cache_dir=tmp_path, base_url=stopped.url, progress=False)


def test_fetch_refuses_an_entry_without_hash_unless_known_hash_is_given(www, server, tmp_path,
                                                                       monkeypatch, no_env):
    zip_path = www / "Jakobovski/free-spoken-digit-dataset/archive/v1.0.10.zip"
    _register(monkeypatch, "nohash", FSDD_URL, zip_path, "zip", sha256=None)
    with pytest.raises(DatasetError, match="no published SHA-256.*known_hash"):
        fetch("nohash", cache_dir=tmp_path, base_url=server.url, progress=False)
    assert server.requests == []
    root = fetch("nohash", cache_dir=tmp_path, base_url=server.url, progress=False,
                 known_hash=_sha256(zip_path))
    assert (root / "recordings" / "0_jackson_0.wav").is_file()
    with pytest.raises(ValueError, match="unknown download 'nope'"):
        fetch("nope", cache_dir=tmp_path)


# --- loader errors ------------------------------------------------------------------------------

@pytest.fixture
def sc_tree(tmp_path, voice) -> pathlib.Path:
    return _write_tree(tmp_path / "sc", _speech_commands_files(voice))


def test_speech_commands_missing_list_file_is_named(sc_tree):
    (sc_tree / "testing_list.txt").unlink()
    with pytest.raises(DatasetError, match=r"testing_list\.txt': file not found"):
        load_speech_commands(sc_tree, ("zero",))


def test_speech_commands_wrong_rate_is_named(sc_tree):
    bad = sc_tree / "one" / f"{SPEAKERS[0]}_nohash_0.wav"
    bad.write_bytes(_wav_bytes(np.zeros(44100, np.float32), 44100))
    with pytest.raises(DatasetError, match=rf"{bad.name}': 44100 Hz, expected 16000 Hz"):
        load_speech_commands(sc_tree, ("zero", "one"))


def test_speech_commands_missing_root_word_or_bad_arguments(sc_tree, tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        load_speech_commands(tmp_path / "absent", ("zero",))
    with pytest.raises(DatasetError, match=r"sc/marvin': folder not found"):
        load_speech_commands(sc_tree, ("zero", "marvin"))
    with pytest.raises(ValueError, match="split 'train'"):
        load_speech_commands(sc_tree, ("zero",), split="train")
    with pytest.raises(ValueError, match="both words and unknown_words"):
        load_speech_commands(sc_tree, ("zero",), unknown_words=("zero",))
    with pytest.raises(DatasetError, match="_background_noise_': no WAV files"):
        load_speech_commands_noise(tmp_path)


def test_fsdd_bad_file_name_and_missing_folder(tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    (rec / "seven_jackson.wav").write_bytes(_wav_bytes(np.zeros(800, np.float32), 8000))
    with pytest.raises(DatasetError, match=r"seven_jackson\.wav': name is not"):
        load_fsdd(tmp_path)
    with pytest.raises(DatasetError, match="no recordings/ folder"):
        load_fsdd(tmp_path / "absent")


# --- generated noise ----------------------------------------------------------------------------

def _slope_db_per_octave(x: np.ndarray, rate: int = 16000) -> float:
    f, p = welch(x, fs=rate, nperseg=8192)
    band = (f >= 20) & (f <= 4000)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0])


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_shape_level_and_seeded(kind, voice):
    speech = voice if kind == "babble" else None
    a = background_noise(kind, 0.5, seed=3, speech=speech)
    assert a.shape == (8000,) and a.dtype == np.float32
    assert np.isclose(np.abs(a).max(), 0.5)
    np.testing.assert_array_equal(a, background_noise(kind, 0.5, seed=3, speech=speech))
    assert not np.array_equal(a, background_noise(kind, 0.5, seed=4, speech=speech))


def test_pink_and_brown_noise_slopes():
    assert abs(_slope_db_per_octave(background_noise("white", 10.0))) < 0.5
    assert abs(_slope_db_per_octave(background_noise("pink", 10.0)) + 3.01) < 0.5
    assert abs(_slope_db_per_octave(background_noise("brown", 10.0)) + 6.02) < 0.5


def test_hum_peaks_at_mains_frequency_and_fan_is_low_with_a_blade_tone():
    for mains in (50.0, 60.0):
        f, p = welch(background_noise("hum", 4.0, mains_hz=mains), fs=16000, nperseg=16000)
        assert f[np.argmax(p)] == mains
    f, p = welch(background_noise("fan", 4.0, seed=1), fs=16000, nperseg=16000)
    assert p[f < 1000].sum() > 0.95 * p.sum()
    assert 75 <= f[np.argmax(p)] <= 250  # blade-pass tone (or its harmonic) over the rumble


def test_babble_uses_given_speech_at_any_rate_or_the_shipped_set(voice):
    at_8k = KeywordClips(resample_poly(voice.audio, 1, 2, axis=1).astype(np.float32), voice.labels,
                         voice.speaker_ids, 8000, voice.path)
    b = background_noise("babble", 1.0, speech=at_8k)
    assert b.shape == (16000,) and np.isclose(np.abs(b).max(), 0.5)
    shipped = pathlib.Path(__import__("tinymlkit").__file__).parent / "data/keywords/synthetic"
    if (shipped / "manifest.csv").is_file():
        assert background_noise("babble", 1.0).shape == (16000,)
    else:
        with pytest.raises(DatasetError, match="babble noise is made of speech clips"):
            background_noise("babble", 1.0)


def test_noise_rejects_bad_arguments():
    with pytest.raises(ValueError, match="noise kind 'rain'"):
        background_noise("rain", 1.0)
    with pytest.raises(ValueError, match="must be > 0"):
        background_noise("white", 0.0)


def test_silence_clips_are_quiet_generated_noise_at_random_levels():
    clips = tk.datasets.silence_clips(40, seed=3)
    assert clips.audio.shape == (40, 16000) and clips.audio.dtype == np.float32
    assert set(clips.labels) == {"silence"} and set(clips.voices) == {"noise"}
    peaks = np.abs(clips.audio).max(axis=1)
    assert peaks.min() >= 0.5e-4 and peaks.max() <= 0.1 + 1e-6
    assert peaks.max() / peaks.min() > 10, "levels are drawn over a wide range"
    assert len(set(clips.speaker_ids)) >= 3, "several noise kinds"
    assert np.array_equal(clips.audio, tk.datasets.silence_clips(40, seed=3).audio)
    with pytest.raises(ValueError, match="peak_range"):
        tk.datasets.silence_clips(3, peak_range=(0.5, 0.1))
