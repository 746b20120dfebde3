"""``tinymlkit doctor`` on this machine: real checks, a PATH without the compiler, wrong pins, and a
port found by its device path (the simulated board's pseudo-terminal)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tinymlkit as tk
from tinymlkit.doctor import FAIL, INFO, OK, doctor
from tinymlkit.simboard import SimulatedBoard, SimulationConfig

EXPECTED = ["Python", "packages", "TensorFlow", "TFLM interpreter", "g++", "arm-none-eabi-g++",
            "espeak-ng, flite", "motion dataset", "real voice digits", "synthetic keywords",
            "real speakers' digits", "serial ports", "microphone", "disk space"]


@pytest.fixture(scope="module")
def report():
    return doctor(print_table=False)


def test_this_machine_is_ready(report):
    assert [c.name for c in report.checks] == EXPECTED
    assert report.ok, report.table()
    for name in ("Python", "packages", "TensorFlow", "TFLM interpreter", "g++", "motion dataset",
                 "real voice digits", "synthetic keywords", "real speakers' digits", "disk space"):
        assert report[name].status == OK, report.table()
    assert report["Python"].detail.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert "140 recordings" in report["motion dataset"].detail
    assert "3,100 clips" in report["synthetic keywords"].detail
    assert "1,500 clips" in report["real speakers' digits"].detail
    assert all(c.status in (OK, FAIL, INFO) for c in report.checks)
    assert all(c.fix for c in report.checks if c.status != OK), "every problem line says what to do"


def test_table_has_a_line_per_check_and_a_verdict(report):
    text = report.table()
    for c in report.checks:
        assert f"{c.status} {c.name}" in text
    assert text.endswith("Ready: every required check passed.")
    with pytest.raises(KeyError, match="checks: Python"):
        report["no such check"]


def test_cli_exit_status_zero_when_ready(capsys):
    assert tk.cli.doctor is doctor
    assert tk.cli.main(["doctor"]) == 0
    assert "Ready" in capsys.readouterr().out


def test_a_path_without_the_compiler_fails_with_a_fix(tmp_path):
    r = doctor(path=str(tmp_path), print_table=False)
    assert r["g++"].status == FAIL and r["g++"].required
    assert "apt-get install g++" in r["g++"].fix
    assert r["arm-none-eabi-g++"].status == INFO and not r["arm-none-eabi-g++"].required
    assert "gcc-arm-none-eabi" in r["arm-none-eabi-g++"].fix
    assert r["espeak-ng, flite"].status == INFO and "espeak-ng flite" in r["espeak-ng, flite"].fix
    assert not r.ok and [c.name for c in r.failed] == ["g++"]
    assert "Not ready: 1 required check(s) failed (g++)" in r.table()


def test_command_exits_1_when_the_compiler_is_missing(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # sys.executable is absolute: Python still runs
    env.pop("TINYMLKIT_PORT", None)
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "doctor"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "✖ g++" in proc.stdout and "sudo apt-get install g++" in proc.stdout


def test_wrong_and_missing_pins_are_named(tmp_path):
    pins = tmp_path / "constraints.txt"
    pins.write_text("# a comment\nnumpy==0.0.1\nnot-a-course-package==1.0  # absent\n"
                    "pyserial==3.5\nscipy==0.1; sys_platform == 'no-such-platform'\n")
    r = doctor(constraints=pins, print_table=False)
    c = r["packages"]
    assert c.status == FAIL and not r.ok
    assert "2 of 3 differ" in c.detail, "the marker line for another platform is skipped"
    assert "numpy" in c.detail and "not-a-course-package missing" in c.detail
    assert "make setup" in c.fix


def test_unreadable_constraints_line_names_file_and_line(tmp_path):
    pins = tmp_path / "constraints.txt"
    pins.write_text("numpy==2.0\nthis is not a requirement ==\n")
    c = doctor(constraints=pins, print_table=False)["packages"]
    assert c.status == FAIL and f"'{pins}' line 2" in c.detail


def test_simulated_board_found_by_device_path(monkeypatch, tmp_path):
    """pyserial's list_ports scans /dev/ttyS*, ttyUSB*, ttyACM*…, never /dev/pts: a pty (the
    simulated board) is invisible to it, so doctor checks a port given by path with a handshake."""
    missing = str(tmp_path / "ttyACM-not-there")
    monkeypatch.setenv("TINYMLKIT_PORT", missing)
    with SimulatedBoard(SimulationConfig(subject=9, speed=20)) as sim:
        r = doctor(ports=[sim.port], print_table=False)
    assert sim.port not in r["serial ports"].detail, "list_ports should not see a pty"
    found = r[f"port {sim.port}"]
    assert found.status == OK and "board 'simulated" in found.detail and "imu at 50 Hz" in found.detail
    bad = r[f"port {missing}"]
    assert bad.status == FAIL and not bad.required and "cannot open serial port" in bad.detail
    assert r.ok, "a port that does not answer is not a required check"
