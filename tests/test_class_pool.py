"""Pooling a workshop class's keyword recordings with consent, and forgetting a person (issue #13;
tinymlkit/class_pool.py, ``tinymlkit keywords pool|forget``).

The class is simulated from real voices: three speakers of the Free Spoken Digit Dataset
(``../shared/data/fsdd_three_speakers``, next to the repository; users do not have it, so the
tests that need it are skipped). Every student records as ``p01``, as lab 05's default does.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile

import numpy as np
import pytest
import soundfile as sf

import tinymlkit as tk
from tinymlkit.capture import (CLASS_MODEL_USE, DEFAULT_POOL_DIR, ConsentRecord, forget_speaker,
                               pool_keyword_recordings, read_consent, record_consent, save_keyword_clip)
from tinymlkit.datasets import DatasetError, load_fsdd, load_keyword_clips

ROOT = pathlib.Path(__file__).resolve().parents[1]
FSDD = ROOT.parent / "shared" / "data" / "fsdd_three_speakers" / "recordings.tar.gz"
WORDS = {"one": 1, "two": 2, "_unknown_": 9}     # label -> FSDD digit ("nine" plays another word)
IN_A_YEAR = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> dict[str, dict[str, list[np.ndarray]]]:
    """{speaker: {label: [5 takes as (16000,) float32]}} from FSDD's jackson, nicolas and lucas."""
    if not FSDD.is_file():
        pytest.skip(f"the FSDD three-speaker archive is not here ({FSDD}): it sits beside the "
                    "repository on the course's build machine only")
    folder = tmp_path_factory.mktemp("fsdd")
    names = {f"recordings/{d}_{s}_{i}.wav" for d in WORDS.values() for s in ("jackson", "nicolas", "lucas")
             for i in range(5)}
    with tarfile.open(FSDD) as tar:
        tar.extractall(folder, members=[m for m in tar.getmembers() if m.name in names], filter="data")
    clips = load_fsdd(folder, digits_as_words=False)
    out: dict = {}
    for audio, label, speaker in zip(clips.audio, clips.labels, clips.speaker_ids):
        word = next(w for w, d in WORDS.items() if str(d) == label)
        out.setdefault(speaker, {}).setdefault(word, []).append(audio)
    return out


def _record(folder: pathlib.Path, voices, speaker: str, takes: range, speaker_id: str = "p01",
            silence_seed: int = 0) -> None:
    """A student's session: each word ``takes`` times (FSDD takes), and two clips of their room."""
    for k in takes:
        for word in WORDS:
            save_keyword_clip(folder, voices[speaker][word][k], word, speaker_id, source="laptop")
    for audio in tk.datasets.silence_clips(2, seed=silence_seed).audio:
        save_keyword_clip(folder, audio, tk.capture.SILENCE_LABEL, speaker_id, source="laptop")


def _make_class(base: pathlib.Path, voices) -> tuple[pathlib.Path, pathlib.Path]:
    """An nbgrader-like ``submitted/`` tree and a second session's zip.

    submitted/alice: p01 (jackson) consented. submitted/bob: p01 (nicolas) consented, and his
    classmate p02 (lucas) who consented, then withdrew. submitted/carol: p01 (lucas) recorded no
    consent. session2.zip, erin: p01 (nicolas, other takes) and classmate s07 (jackson), both consented.
    """
    sub = base / "submitted"
    lab = "lab05_keyword_spotting/recordings"
    _record(sub / "alice" / lab, voices, "jackson", range(2), silence_seed=1)
    record_consent(sub / "alice" / lab, "p01", keep_until=IN_A_YEAR)
    _record(sub / "bob" / lab, voices, "nicolas", range(2), silence_seed=2)
    record_consent(sub / "bob" / lab, "p01")
    _record(sub / "bob" / lab, voices, "lucas", range(2), speaker_id="p02", silence_seed=3)
    record_consent(sub / "bob" / lab, "p02")
    record_consent(sub / "bob" / lab, "p02", withdrawn=True)
    _record(sub / "carol" / lab, voices, "lucas", range(2, 4), silence_seed=4)
    erin = base / "session2" / "erin" / "recordings"
    _record(erin, voices, "nicolas", range(2, 4), silence_seed=5)
    _record(erin, voices, "jackson", range(2, 4), speaker_id="s07", silence_seed=6)
    record_consent(erin, "p01")
    record_consent(erin, "s07", uses=("class-model", "publish"))
    archive = base / "session2.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(erin.rglob("*")):
            zf.write(path, path.relative_to(base / "session2").as_posix())
    shutil.rmtree(base / "session2")
    return sub, archive


@pytest.fixture
def klass(tmp_path, voices):
    return _make_class(tmp_path, voices)


def _rows(path: pathlib.Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# -- consent records ---------------------------------------------------------------------------
def test_consent_is_recorded_updated_and_withdrawn(tmp_path):
    today = datetime.date.today()
    path = record_consent(tmp_path / "rec", "p01", keep_until=IN_A_YEAR)
    record_consent(tmp_path / "rec", "p02", uses="class-model publish")
    assert path == tmp_path / "rec" / "consent.csv"
    assert path.read_text().splitlines() == [
        "speaker_id,consented_on,uses,keep_until,withdrawn_on",
        f"p01,{today},class-model,{IN_A_YEAR},", f"p02,{today},class-model publish,,"]
    record_consent(tmp_path / "rec", "p01", withdrawn=True)
    got = read_consent(tmp_path / "rec")
    assert list(got) == ["p01", "p02"]
    assert got["p01"].withdrawn_on == today and got["p01"].consented_on == today, "withdrawal keeps the consent visible"
    assert got["p01"].refusal() == f"withdrew consent on {today}"
    assert got["p02"].uses == ("class-model", "publish") and got["p02"].refusal() is None
    assert ConsentRecord("p03", today, ("publish",), None, None).refusal() == \
        "consent does not cover 'class-model' (uses: publish)"
    assert ConsentRecord("p03", today, (CLASS_MODEL_USE,), today, None).refusal(today=today) is None
    assert ConsentRecord("p03", today, (CLASS_MODEL_USE,), today, None).refusal(
        today=today + datetime.timedelta(days=1)) == f"consent to keep the recordings ended on {today}"
    record_consent(tmp_path / "rec", "p01")                # agreeing again clears the withdrawal
    assert read_consent(tmp_path / "rec")["p01"].withdrawn_on is None
    record_consent(tmp_path / "rec", "p09", withdrawn=True)   # a refusal without any consent
    assert read_consent(tmp_path / "rec")["p09"].refusal().startswith("withdrew")
    assert read_consent(tmp_path / "nothing") == {}


@pytest.mark.parametrize("kwargs, message", [
    ({"speaker_id": "p.01"}, "no dots"), ({"speaker_id": "Amina Kariuki"}, "not a name"),
    ({"keep_until": "2020-01-01"}, "in the past"), ({"keep_until": "31/12/2099"}, "YYYY-MM-DD"),
    ({"uses": ()}, "one or more"), ({"uses": ("Class Model",)}, "lower-case"),
])
def test_record_consent_refuses_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        record_consent(tmp_path, **{"speaker_id": "p01", **kwargs})
    assert not (tmp_path / "consent.csv").exists()


@pytest.mark.parametrize("text, line, message", [
    ("speaker_id,consented_on,uses\np01,2025-01-01,class-model\n", 1, "lacks keep_until, withdrawn_on"),
    ("speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,2025-01-01,class-model,\n", 2, "4 values, expected 5"),
    ("speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,2025-01-01,class-model,,\n"
     "p 2,2025-01-01,class-model,,\n", 3, "speaker_id 'p 2'"),
    ("speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,1/2/2025,class-model,,\n", 2, "YYYY-MM-DD"),
    ("speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,,class-model,,\n", 2, "needs consented_on"),
    ("speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,2025-01-01,class-model,,\n\np01,2025-01-02,x,,\n",
     4, "already has a row \\(line 2\\)"),
])
def test_malformed_consent_file_names_file_and_line(tmp_path, text, line, message):
    (tmp_path / "consent.csv").write_text(text)
    with pytest.raises(DatasetError, match=f"consent.csv' line {line}: .*{message}"):
        read_consent(tmp_path)
    with pytest.raises(DatasetError):
        record_consent(tmp_path, "p05")
    assert (tmp_path / "consent.csv").read_text() == text, "a broken consent file is left as it was"


# -- pooling -----------------------------------------------------------------------------------
def test_pool_keeps_consenting_speakers_apart_and_leaves_out_the_others(tmp_path, klass, voices):
    submitted, archive = klass
    out = tmp_path / "class_keywords"
    result = pool_keyword_recordings([submitted, archive], out)
    ids = [s.speaker_id for s in result.kept]
    assert ids == ["session2-erin-p01", "session2-erin-s07", "submitted-alice-p01", "submitted-bob-p01"]
    assert all("." not in i for i in ids)
    assert {s.speaker_id: s.clips_per_label for s in result.kept}["submitted-alice-p01"] == {
        "one": 2, "two": 2, "_unknown_": 2, "_silence_": 2}
    why = {(s.origin.split("/")[1], s.speaker_id): s.reason for s in result.left_out}
    assert set(why) == {("bob", "p02"), ("carol", "p01")}
    assert why["bob", "p02"] == f"withdrew consent on {datetime.date.today()}"
    assert why["carol", "p01"].startswith("no consent.csv")
    assert result.clips_added == 32 and result.clips_removed == 0

    clips = load_keyword_clips(out)                 # the pooled folder is a keyword folder
    assert len(clips) == 32 and sorted(set(clips.speaker_ids)) == ids
    rows = _rows(out / "manifest.csv")
    assert list(rows[0]) == list(tk.capture.POOL_COLUMNS)
    alice = [r for r in rows if r["speaker_id"] == "submitted-alice-p01"]
    assert {r["origin"] for r in alice} == {"submitted/alice/lab05_keyword_spotting/recordings"}
    assert {r["origin_speaker_id"] for r in rows} == {"p01", "s07"} and all(r["recorded_at"] for r in rows)
    for r in alice:                                 # the very samples the student saved
        source = submitted / "alice" / "lab05_keyword_spotting" / "recordings" / r["origin_path"]
        assert np.array_equal(sf.read(out / r["path"], dtype="int16")[0], sf.read(source, dtype="int16")[0])
        assert r["path"].startswith(f"{r['label']}/{r['label']}.submitted-alice-p01.")
    erin = [r for r in rows if r["origin"] == "session2.zip/erin/recordings"]
    assert len(erin) == 16, "the zip's clips are pooled too"
    consent = read_consent(out)
    assert sorted(consent) == ids and str(consent["submitted-alice-p01"].keep_until) == IN_A_YEAR
    assert consent["session2-erin-s07"].uses == ("class-model", "publish")
    note = json.loads((out / "POOL.json").read_text())["runs"]
    assert note[-1]["action"] == "pool" and note[-1]["clips_added"] == 32
    assert "not in git" in (out / "POOL.md").read_text() and IN_A_YEAR in (out / "POOL.md").read_text()

    manifest = (out / "manifest.csv").read_bytes()
    again = pool_keyword_recordings([archive, submitted], out)     # idempotent, any order
    assert (again.clips_added, again.clips_removed) == (0, 0)
    assert (out / "manifest.csv").read_bytes() == manifest
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == sorted(r["path"] for r in rows)


def test_repool_follows_the_sources_withdrawal_and_new_takes(tmp_path, klass, voices):
    submitted, archive = klass
    out = tmp_path / "pool"
    pool_keyword_recordings([submitted, archive], out)
    bob = submitted / "bob" / "lab05_keyword_spotting" / "recordings"
    alice = submitted / "alice" / "lab05_keyword_spotting" / "recordings"
    record_consent(bob, "p01", withdrawn=True)                       # bob changes his mind
    save_keyword_clip(alice, voices["jackson"]["one"][4], "one", "p01")   # alice records one more
    save_keyword_clip(alice, voices["jackson"]["two"][3], "two", "p01")   # ... and a copy of s07's take
    record_consent(submitted / "carol" / "lab05_keyword_spotting" / "recordings", "p01")   # carol agrees
    rows = _rows(alice / "manifest.csv")                               # alice deletes a bad take
    assert rows[0]["path"] == "one/one.p01.001.wav"
    with (alice / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[1:])
    result = pool_keyword_recordings([submitted, archive], out)
    assert (result.clips_added, result.clips_removed) == (1 + 8, 8 + 1)
    assert "one/one.p01.001.wav" not in {r["origin_path"] for r in _rows(out / "manifest.csv")
                                         if r["speaker_id"] == "submitted-alice-p01"}
    assert [n.split(": ", 1)[1] for n in result.notes] == [
        "the same audio as two/two.session2-erin-s07.002.wav; not pooled twice"]
    assert "submitted-bob-p01" not in {s.speaker_id for s in result.kept}
    assert not list(out.rglob("*.submitted-bob-p01.*")), "a withdrawn speaker's clips are deleted"
    assert "submitted-bob-p01" not in read_consent(out)
    assert {s.speaker_id: s.n_clips for s in result.kept}["submitted-alice-p01"] == 8
    assert not (out / "one" / "one.submitted-alice-p01.001.wav").exists()
    assert sorted(p.name for p in (out / "one").glob("*alice*")) == [
        "one.submitted-alice-p01.002.wav", "one.submitted-alice-p01.003.wav"]
    assert {s.speaker_id: s.n_clips for s in result.kept}["submitted-carol-p01"] == 8


def test_consent_that_ran_out_removes_the_speaker(tmp_path, klass):
    """Time passing is written into the files (a keep_until of yesterday), as it would be read."""
    submitted, archive = klass
    out = tmp_path / "pool"
    pool_keyword_recordings([submitted, archive], out)
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    pooled = (out / "consent.csv").read_text()
    (out / "consent.csv").write_text(pooled.replace(IN_A_YEAR, yesterday))
    result = pool_keyword_recordings(archive, out)          # alice's folder is not even a source
    assert result.clips_removed == 8 and "submitted-alice-p01" not in {s.speaker_id for s in result.kept}
    assert not list(out.rglob("*alice*"))
    alice = submitted / "alice" / "lab05_keyword_spotting" / "recordings"
    (alice / "consent.csv").write_text((alice / "consent.csv").read_text().replace(IN_A_YEAR, yesterday))
    result = pool_keyword_recordings([submitted, archive], out)
    assert {(s.origin.split("/")[1], s.speaker_id): s.reason for s in result.left_out}["alice", "p01"] == \
        f"consent to keep the recordings ended on {yesterday}"
    assert "submitted-alice-p01" not in {s.speaker_id for s in result.kept}


def test_forgotten_speaker_never_comes_back(tmp_path, klass):
    submitted, archive = klass
    out = tmp_path / "lab05_keywords_pool"
    pool_keyword_recordings([submitted, archive], out, forget=["submitted-bob-p01"])
    assert not list(out.rglob("*bob*")), "forget= in the pool run: bob's clips are never written"
    with pytest.raises(DatasetError, match=r"'p01' is the original id of 2 pooled speakers "
                                           r"\(session2-erin-p01, submitted-alice-p01\): give the pooled id"):
        forget_speaker(out, "p01")
    result = forget_speaker(out, "submitted-alice-p01")
    assert result.forgotten == ("submitted-alice-p01",) and result.clips_removed == 8
    assert not list(out.rglob("*alice*")) and "submitted-alice-p01" not in read_consent(out)
    assert "alice" not in (out / "manifest.csv").read_text()
    forgotten = _rows(out / "forgotten.csv")
    assert [(r["speaker_id"], r["origin_speaker_id"]) for r in forgotten] == [
        ("submitted-bob-p01", "p01"), ("submitted-alice-p01", "p01")]
    assert forget_speaker(out, "s07").forgotten == ("session2-erin-s07",), "an unambiguous original id"
    assert forget_speaker(out, "session2-erin-s07").forgotten == (), "forgetting twice does nothing"
    with pytest.raises(DatasetError, match="no speaker 'zed'; pooled speakers: session2-erin-p01"):
        forget_speaker(out, "zed")

    again = pool_keyword_recordings([submitted, archive], out)
    assert [s.speaker_id for s in again.kept] == ["session2-erin-p01"] and again.clips_added == 0
    why = {(s.origin.split("/")[1], s.speaker_id): s.reason for s in again.left_out}
    assert why["alice", "p01"] == f"forgotten on {datetime.date.today()} as submitted-alice-p01 (forgotten.csv)"
    assert why["bob", "p01"].startswith("forgotten") and why["erin", "s07"].startswith("forgotten")
    assert why["bob", "p02"].startswith("withdrew") and why["carol", "p01"].startswith("no consent.csv")
    assert load_keyword_clips(out).speaker_ids == ("session2-erin-p01",) * 8
    fresh = tmp_path / "class_keywords"                     # a new pool knows nothing of it
    assert "submitted-alice-p01" in {s.speaker_id for s in pool_keyword_recordings(submitted, fresh).kept}


def test_an_interrupted_pool_leaves_a_consistent_folder(tmp_path, klass):
    """Kill the CLI while it writes (as soon as the pool's POOL.json appears), then check the folder:
    manifest complete, every clip it lists present and consented; a new run finishes the job."""
    submitted, archive = klass
    finished = tmp_path / "finished"
    pool_keyword_recordings([submitted, archive], finished)
    for delay_s in (0.0, 0.01, 0.02, 0.05):
        out = tmp_path / f"killed-{delay_s}"
        proc = subprocess.Popen([sys.executable, "-m", "tinymlkit", "keywords", "pool", str(submitted),
                                 str(archive), "--out", str(out)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (out / "POOL.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (out / "manifest.csv").exists():
            rows = _rows(out / "manifest.csv")
            assert all((out / r["path"]).is_file() for r in rows), "the manifest lists a missing clip"
            assert {r["speaker_id"] for r in rows} <= set(read_consent(out)), "a pooled speaker without consent"
            load_keyword_clips(out)
        pool_keyword_recordings([submitted, archive], out)
        assert _rows(out / "manifest.csv") == _rows(finished / "manifest.csv")
        assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(
            p.name for p in finished.rglob("*") if p.is_file()), "leftovers of the killed run remain"


def test_leftovers_of_an_interrupted_run_are_tidied(tmp_path, klass):
    submitted, archive = klass
    out = tmp_path / "pool"
    pool_keyword_recordings([submitted], out)
    (out / ".manifest.csv.abc123.tmp").write_text("path,la")
    shutil.copy(next(out.glob("one/*.wav")), out / "one" / "one.submitted-zed-p01.001.wav")
    consent = (out / "consent.csv").read_text()
    (out / "consent.csv").write_text(consent + f"submitted-zed-p01,{datetime.date.today()},class-model,,\n")
    result = pool_keyword_recordings([submitted, archive], out)
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("*zed*"))
    assert "submitted-zed-p01" not in read_consent(out) and result.clips_added == 16


def test_pool_skips_itself_and_other_pools_inside_a_source(tmp_path, klass):
    submitted, _ = klass
    out = submitted / DEFAULT_POOL_DIR            # a pool inside the tree it pools
    first = pool_keyword_recordings(submitted, out)
    second = pool_keyword_recordings(submitted, out)
    assert second.clips_added == 0 and [s.speaker_id for s in second.kept] == [s.speaker_id for s in first.kept]
    third = pool_keyword_recordings(submitted, tmp_path / "other")
    assert any("is a pooled folder" in n for n in third.notes) and third.clips_added == first.clips_added


# -- untrusted sources -------------------------------------------------------------------------
def _tiny_folder(folder: pathlib.Path) -> pathlib.Path:
    save_keyword_clip(folder, np.zeros(16000, np.int16) + 3, "yes", "p01")
    record_consent(folder, "p01")
    return folder


@pytest.mark.parametrize("case, message", [
    ("traversal", "member '../evil/manifest.csv' points outside the archive"),
    ("absolute", "member '/etc/manifest.csv' points outside the archive"),
    ("link", "yes.p01.001.wav': is a link; refused"),
    ("huge", "yes.p01.001.wav': unpacks to over 4,194,304 bytes; refused"),
    ("bad path", "manifest.csv' line 2: path '../../secret.wav' leaves the keyword folder"),
    ("bad label", "manifest.csv' line 2: label '../x'"),
    ("not audio", "yes.p01.001.wav': cannot be read as audio"),
    ("8 kHz", "8000 Hz, 1 channel\\(s\\), 8000 samples; a keyword clip is 16000 Hz mono"),
    ("missing clip", "yes.p01.001.wav': listed in its manifest.csv but missing"),
    ("not a zip", "not a readable zip file"),
])
def test_untrusted_zip_is_refused_with_a_clear_error(tmp_path, case, message):
    folder = _tiny_folder(tmp_path / "student")
    manifest, clip = (folder / "manifest.csv").read_bytes(), (folder / "yes" / "yes.p01.001.wav").read_bytes()
    members = {"s/manifest.csv": manifest, "s/consent.csv": (folder / "consent.csv").read_bytes(),
               "s/yes/yes.p01.001.wav": clip}
    if case in ("traversal", "absolute"):
        members["../evil/manifest.csv" if case == "traversal" else "/etc/manifest.csv"] = manifest
    elif case == "huge":
        members["s/yes/yes.p01.001.wav"] = clip + bytes(5 * 1024**2)
    elif case == "bad path":
        members["s/manifest.csv"] = manifest.replace(b"yes/yes.p01.001.wav", b"../../secret.wav")
    elif case == "bad label":
        members["s/manifest.csv"] = manifest.replace(b",yes,", b",../x,")
    elif case == "not audio":
        members["s/yes/yes.p01.001.wav"] = b"RIFF" + os.urandom(2000)
    elif case == "8 kHz":
        low = tmp_path / "low.wav"
        sf.write(low, np.zeros(8000, np.int16), 8000, subtype="PCM_16")
        members["s/yes/yes.p01.001.wav"] = low.read_bytes()
    elif case == "missing clip":
        del members["s/yes/yes.p01.001.wav"]
    archive = tmp_path / "class.zip"
    if case == "not a zip":
        archive.write_bytes(b"PK\x03\x04 this is not a zip")
    else:
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in members.items():
                info = zipfile.ZipInfo(name)
                if case == "link" and name.endswith(".wav"):
                    info.external_attr = 0o120777 << 16
                    data = b"/etc/passwd"
                zf.writestr(info, data)
    with pytest.raises(DatasetError, match=message):
        pool_keyword_recordings(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when a source is refused"


def test_links_and_foreign_folders_are_refused(tmp_path):
    folder = _tiny_folder(tmp_path / "student")
    secret = tmp_path / "secret.wav"
    shutil.move(folder / "yes" / "yes.p01.001.wav", secret)
    (folder / "yes" / "yes.p01.001.wav").symlink_to(secret)
    with pytest.raises(DatasetError, match="yes.p01.001.wav': is a link"):
        pool_keyword_recordings(folder, tmp_path / "out")
    own = _tiny_folder(tmp_path / "recordings" / "lab05")       # someone's keyword folder, not a pool
    with pytest.raises(DatasetError, match="is not empty and is not a pool"):
        pool_keyword_recordings(_tiny_folder(tmp_path / "other"), own)
    with pytest.raises(DatasetError, match="not a pooled keyword folder"):
        forget_speaker(own, "p01")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "manifest.csv").write_text("name,size\nx,1\n")   # not a keyword manifest
    with pytest.raises(DatasetError, match="no keyword folder"):
        pool_keyword_recordings(tmp_path / "empty", tmp_path / "out")


# -- command line ------------------------------------------------------------------------------
def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tinymlkit", "keywords", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_pools_prints_the_table_and_forgets(tmp_path, klass):
    submitted, archive = klass
    proc = _cli("pool", "submitted", archive.name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == f"{DEFAULT_POOL_DIR}: 4 speaker(s), 32 clip(s) (32 added, 0 removed)"
    assert out[1].split() == ["speaker", "_silence_", "_unknown_", "one", "two", "clips", "from"]
    assert out[4].split() == ["submitted-alice-p01", "2", "2", "2", "2", "8",
                              "submitted/alice/lab05_keyword_spotting/recordings", "(p01)"]
    assert out[6] == "left out (2): not pooled"
    assert out[7] == (f"  submitted/bob/lab05_keyword_spotting/recordings p02: 8 clip(s), withdrew consent "
                      f"on {datetime.date.today()}")
    assert out[8].startswith("  submitted/carol/lab05_keyword_spotting/recordings p01: 8 clip(s), no consent.csv")
    assert load_keyword_clips(tmp_path / DEFAULT_POOL_DIR).sample_rate_hz == 16000

    proc = _cli("forget", "submitted-bob-p01", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "forgotten: submitted-bob-p01 (deleted" in proc.stdout and "3 speaker(s), 24 clip(s)" in proc.stdout
    proc = _cli("pool", "submitted", archive.name, "--out", DEFAULT_POOL_DIR, "--forget", "s07", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "forgotten: session2-erin-s07" in proc.stdout
    assert "p01: 8 clip(s), forgotten on" in proc.stdout


@pytest.mark.parametrize("setup, message", [
    ("missing", "'nowhere': no such folder or zip file"),
    ("empty", "no keyword folder (a manifest.csv with columns path,label,speaker_id) in 'empty'"),
    ("corrupt manifest", "manifest.csv' line 4: 2 values, expected 5"),
    ("corrupt consent", "consent.csv' line 2: withdrawn_on 'yesterday' is not a date"),
    ("unknown speaker", "no speaker 'zed'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, setup, message):
    source = "nowhere"
    if setup == "empty":
        (tmp_path / "empty").mkdir()
        source = "empty"
    elif setup != "missing":
        folder = _tiny_folder(tmp_path / "student")
        save_keyword_clip(folder, np.zeros(16000, np.int16), "no", "p01")
        source = "student"
        if setup == "corrupt manifest":
            with (folder / "manifest.csv").open("a") as f:
                f.write("no/no.p01.002.wav,no\n")
        elif setup == "corrupt consent":
            (folder / "consent.csv").write_text(
                "speaker_id,consented_on,uses,keep_until,withdrawn_on\np01,2025-01-01,class-model,,yesterday\n")
    extra = ["--forget", "zed"] if setup == "unknown speaker" else []
    proc = _cli("pool", source, "--out", "class_keywords", *extra, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("tinymlkit keywords pool: ") and message in proc.stderr, proc.stderr
    assert not (tmp_path / "class_keywords").exists()


# -- never committed ---------------------------------------------------------------------------
def test_pooled_folders_and_recordings_are_git_ignored():
    git = shutil.which("git")
    if git is None or subprocess.run([git, "-C", str(ROOT), "rev-parse", "--git-dir"],
                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout (or git is not installed): nothing can be committed")
    paths = [f"{DEFAULT_POOL_DIR}/manifest.csv", f"{DEFAULT_POOL_DIR}/one/one.submitted-alice-p01.001.wav",
             f"{DEFAULT_POOL_DIR}/consent.csv", "workshop/lab05_keywords_pool/manifest.csv",
             "recordings/lab05/manifest.csv", "recordings/lab05/consent.csv",
             "recordings/lab05/one/one.p01.001.wav"]
    proc = subprocess.run([git, "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    ignored = set(proc.stdout.split())
    assert ignored == set(paths), f"not git-ignored: {sorted(set(paths) - ignored)} (.gitignore)"
    assert subprocess.run([git, "check-ignore", "-q", "tinymlkit/class_pool.py"], cwd=ROOT).returncode == 1, \
        "the check must be able to fail: the package's own files are not ignored"


def test_pool_warns_when_its_folder_could_be_committed(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: nothing can be committed")
    repo = tmp_path / "course"
    subprocess.run([git, "init", "-q", str(repo)], check=True)
    source = _tiny_folder(tmp_path / "student")
    warned = pool_keyword_recordings(source, repo / "voices")
    assert [n for n in warned.notes if "NOT git-ignored" in n] == [
        f"'{repo / 'voices'}' is inside a git checkout and NOT git-ignored: voices must never be committed; "
        f"add it to .gitignore or pool into {DEFAULT_POOL_DIR}/"]
    (repo / ".gitignore").write_text("voices/\n")
    assert not pool_keyword_recordings(source, repo / "voices").notes
    if subprocess.run([git, "-C", str(tmp_path), "rev-parse"], capture_output=True).returncode != 0:
        assert not pool_keyword_recordings(source, tmp_path / "outside").notes, "outside a checkout: no warning"
