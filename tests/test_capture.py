"""Capture over a real pseudo-terminal with pyserial, against the simulated board."""

import json
import os
import time

import numpy as np
import pytest

from tinymlkit.capture import (Board, BoardError, ProtocolError, StreamHeader, format_header,
                               format_result, format_sample, load_captures, parse_header,
                               parse_line, record_samples)
from tinymlkit.datasets import DatasetError, load_motion
from tinymlkit.simboard import REST, SimulatedBoard, SimulationConfig

HEADER = ("#TINYMLKIT v=1 board=nano33ble_sense_rev2 sensor=imu rate_hz=50 "
          "channels=ax,ay,az,wx,wy,wz units=g,g,g,rad/s,rad/s,rad/s")


# -- the protocol, without a board -------------------------------------------------------------
def test_header_round_trip_and_errors():
    h = parse_header(HEADER + "\r\n")
    assert (h.board, h.sensor, h.rate_hz, h.channels[3], h.units[5]) == (
        "nano33ble_sense_rev2", "imu", 50.0, "wx", "rad/s")
    assert parse_header(format_header(h)) == h
    with pytest.raises(ProtocolError, match="lacks units"):
        parse_header(HEADER.split(" units=")[0])
    with pytest.raises(ProtocolError, match="v=2"):
        parse_header(HEADER.replace("v=1", "v=2"))
    with pytest.raises(ProtocolError, match="positive"):
        parse_header(HEADER.replace("rate_hz=50", "rate_hz=0"))
    with pytest.raises(ProtocolError, match="6 channels but 5 units"):
        parse_header(HEADER.replace("units=g,", "units="))


def test_every_kind_of_line():
    values = np.array([0.0123, -0.981, 0.0456, 0.0012, -3.4e-05, 12.5])
    s = parse_line(format_sample(41, values) + "\r\n", 6)
    assert s.kind == "sample" and s.counter == 41
    np.testing.assert_allclose(s.values, values, rtol=1e-5)
    r = parse_line(format_result(99, "ROW", [-1.5, 2.25, 0.0], 1234), 6)
    assert (r.kind, r.counter, r.label, r.logits, r.micros) == ("result", 99, "ROW", (-1.5, 2.25, 0.0), 1234)
    assert parse_line("#STOP n=12", 6).counter == 12
    assert [parse_line(x, 6).kind for x in ("#START", HEADER, "#OK act=ROW", "#ERR imu not found",
                                            "# hello")] == ["start", "header", "ok", "err", "log"]
    for broken, why in [("41,0.1,0.2", "3 fields"), ("x1,1,2,3,4,5,6", "counter"),
                        ("4,1,2,3,4,5,nan?", "not a number"), ("#STOP", "without n"),
                        ("#RESULT n=3 label=A", "#RESULT needs")]:
        line = parse_line(broken, 6)
        assert line.kind == "bad" and why in line.text, (broken, line)


# -- the simulated board through its pty -------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    with SimulatedBoard(SimulationConfig(subject=9, speed=20, seed=1)) as board:
        yield board


def test_board_header_and_a_take_of_real_data(sim):
    with Board(sim.port) as board:
        assert board.header.board == "simulated" and board.header.rate_hz == 50
        assert board.header.channels == ("ax", "ay", "az", "wx", "wy", "wz")
        rest = board.record(seconds=2)
        assert rest.values.shape == (100, 6) and rest.lost_samples == 0 and rest.bad_lines == 0
        np.testing.assert_array_equal(rest.counters, np.arange(100))
        assert abs(np.linalg.norm(rest.values[:, :3], axis=1).mean() - 1.0) < 0.02  # 1 g at rest
        board.act("PEN")
        take = board.record(seconds=4)
    ds = load_motion()
    (idx,) = np.flatnonzero((ds.subject_ids == 9) & (ds.sides == 0)
                            & (ds.labels == ds.class_names.index("PEN")))[:1]
    played = np.concatenate([ds.recordings[i] for i in np.flatnonzero(
        (ds.subject_ids == 9) & (ds.sides == 0) & (ds.labels == ds.class_names.index("PEN")))])
    # every streamed sample is a real sample of subject 9's pendulum recordings (to 6 digits)
    nearest = np.abs(played[None, :, :] - take.values[:, None, :]).max(axis=2).min(axis=1)
    assert nearest.max() < 1e-4


def test_act_on_unknown_class_explains(sim):
    with Board(sim.port) as board, pytest.raises(BoardError, match="unknown activity 'WAVE'"):
        board.act("WAVE")


def test_record_samples_writes_each_sample_atomically_and_loads_back(sim, tmp_path):
    out = tmp_path / "session"
    seen = []
    with Board(sim.port) as board:
        board.act("ROW")
        s1 = record_samples(board, "ROW", 3, 1.0, out, person="p01", progress=False,
                            on_take=lambda take, k: seen.append((k, len(take.values))))
        board.act(REST)
        s2 = record_samples(board, REST, 2, 1.0, out, person="p02", side="right", progress=False)
    assert seen == [(0, 50), (1, 50), (2, 50)] and not s1.interrupted
    assert [p.name for p in s1.saved] == ["ROW.p01.001.csv", "ROW.p01.002.csv", "ROW.p01.003.csv"]
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    manifest = json.loads((out / "capture.json").read_text())
    assert len(manifest["samples"]) == 5 and manifest["header"]["rate_hz"] == 50
    header = (out / "ROW" / "ROW.p01.001.csv").read_text().splitlines()[0]
    assert header == "timestamp,ax,ay,az,wx,wy,wz"
    ds = load_captures(out, class_names=("ROW", REST))
    assert len(ds) == 5 and ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert ds.subject_ids.tolist() == [100, 100, 100, 101, 101] and ds.sides.tolist() == [0, 0, 0, 1, 1]
    assert all(r.shape == (50, 6) and r.dtype == np.float32 for r in ds.recordings)
    assert "2 sample(s) saved" in str(s2)


def test_interrupted_session_keeps_completed_samples(sim, tmp_path):
    out = tmp_path / "session"

    def interrupt_after_two(take, k):
        if k == 1:
            raise KeyboardInterrupt

    with Board(sim.port) as board:
        summary = record_samples(board, "PEN", 10, 0.5, out, progress=False, on_take=interrupt_after_two)
    assert summary.interrupted and len(summary.saved) == 2
    assert len(load_captures(out)) == 2


def test_load_captures_names_the_broken_file(sim, tmp_path):
    out = tmp_path / "s"
    with Board(sim.port) as board:
        record_samples(board, "PEN", 1, 0.5, out, progress=False)
    with pytest.raises(DatasetError, match="capture.json': not found"):
        load_captures(tmp_path / "empty")
    (out / "PEN" / "PEN.me.001.csv").write_text("timestamp,ax\n0,1\n")
    with pytest.raises(DatasetError, match=r"PEN\.me\.001\.csv': 2 columns, expected timestamp \+ 6"):
        load_captures(out)
    with pytest.raises(DatasetError, match="label 'PEN' is not one of ROW"):
        load_captures(out, class_names=("ROW",))


def test_bad_lines_and_lost_samples_are_counted_and_retried(tmp_path):
    with SimulatedBoard(SimulationConfig(speed=20, garble_every=37)) as sim, Board(sim.port) as board:
        take = board.record(n_samples=200)
        assert take.bad_lines == 5 and take.lost_samples == 5  # a torn line loses its sample
        summary = record_samples(board, "PEN", 2, 0.5, tmp_path / "s", progress=False, max_retries=5)
        assert summary.bad_lines > 0 and summary.retried > 0 and len(summary.saved) == 2
    for path in summary.saved:  # only gap-free takes are kept
        assert len(np.loadtxt(path, delimiter=",", skiprows=1)) == 25


def test_lost_samples_every_time_is_reported():
    with SimulatedBoard(SimulationConfig(speed=20, drop_every=10)) as sim, Board(sim.port) as board:
        with pytest.raises(BoardError, match="takes in a row lost samples"):
            record_samples(board, "PEN", 1, 1.0, "unused", progress=False, max_retries=1)


def test_unplugged_board_is_detected_and_saved_samples_survive(tmp_path):
    out = tmp_path / "s"
    with SimulatedBoard(SimulationConfig(speed=20, unplug_after_s=40)) as sim, Board(sim.port) as board:
        with pytest.raises(BoardError, match="unplugged") as err:
            record_samples(board, "PEN", 1000, 0.5, out, progress=False)
    assert "kept" in str(err.value) or "stopped" in str(err.value)
    saved = load_captures(out)
    assert 10 < len(saved) < 1000 and all(len(r) == 25 for r in saved.recordings)


def test_wrong_port_and_silent_device_explain(tmp_path):
    with pytest.raises(BoardError, match="cannot open serial port"):
        Board(str(tmp_path / "ttyACM9"))
    master, slave = os.openpty()  # a port where nobody answers: wrong sketch or no board
    try:
        t0 = time.monotonic()
        with pytest.raises(BoardError, match="no #TINYMLKIT header"):
            Board(os.ttyname(slave), timeout_s=0.3)
        assert time.monotonic() - t0 < 5
    finally:
        os.close(master)
        os.close(slave)


def test_ten_minutes_at_100_hz_lose_nothing():
    """Issue #4 target: 0 samples lost over 10 min of streaming at 100 Hz × 6 channels (60,000
    samples; simulated time runs 20× faster than real time, so this takes ~30 s)."""
    with SimulatedBoard(SimulationConfig(rate_hz=100, speed=20)) as sim, Board(sim.port) as board:
        board.act("ROW")
        take = board.record(n_samples=60_000)
    assert take.lost_samples == 0 and take.bad_lines == 0
    np.testing.assert_array_equal(take.counters, np.arange(60_000))
    assert np.isfinite(take.values).all()


def test_recorder_widget_records_shows_progress_and_stops(sim, tmp_path):
    from tinymlkit.widgets import Recorder

    with Board(sim.port) as board:
        rec = Recorder(board, tmp_path / "s", label="PEN", n_samples=3, seconds=0.5, person="p07")
        summary = rec.record()
        assert len(summary.saved) == 3 and rec.progress.value == 3 and "3 sample(s) saved" in rec.status.value
        assert rec.image.value[:8] == b"\x89PNG\r\n\x1a\n"  # the live plot of the last take
        rec.n_samples.value = 50
        rec.record(block=False)
        rec.stop()
        rec._thread.join(30)
        assert rec.summary.interrupted and 1 <= len(rec.summary.saved) < 50
        assert not rec.record_button.disabled
    assert len(load_captures(tmp_path / "s")) == 3 + len(rec.summary.saved)


def test_live_plot_draws_each_take(sim):
    from tinymlkit.plots import plot_take
    from tinymlkit.widgets import live_plot

    with Board(sim.port) as board:
        take = board.record(seconds=1)
        callback = live_plot(board.header, "PEN")
    callback(take, 0)  # outside a notebook IPython's display prints a text repr: it must not fail
    fig = plot_take(take.values, 50.0)
    assert [ax.get_ylabel() for ax in fig.axes] == ["g", "rad/s"] and len(fig.axes[0].lines) == 3
    with pytest.raises(ValueError, match="expected \\(n_samples, 6\\)"):
        plot_take(take.values[:, :2], 50.0)


def test_capture_and_ports_commands(sim, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "capture", "--port", sim.port, "--label", "PEN",
                           "--takes", "2", "--seconds", "0.5", "--pause", "0", "--person", "p42",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Board 'simulated': imu at 50 Hz" in proc.stdout and "2 sample(s) saved" in proc.stdout
    assert sorted(p.name for p in (out / "PEN").iterdir()) == ["PEN.p42.001.csv", "PEN.p42.002.csv"]
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "capture", "--port", str(tmp_path / "nope"),
                           "--label", "PEN"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot open serial port" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "ports"], capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1) and proc.stdout.strip()  # a list, or the plain-words 'none found'
