"""The main job: `tinymlkit demo` writes every promised file and a complete report."""

import json
import subprocess
import sys

from tinymlkit.boards import load_boards
from tinymlkit.pipeline import REPORT_KEYS


def test_demo_writes_all_files(demo_run):
    out, _ = demo_run
    for name in ("model_int8.tflite", "model_data.cc", "model_data.h", "model_settings.h",
                 "confusion_matrix.png", "report.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp*"))  # atomic writes left no temp files


def test_report_has_every_key_and_honest_figures(demo_run, demo_model):
    _, report = demo_run
    assert set(REPORT_KEYS) <= set(report)
    assert not set(report["train_subjects"]) & set(report["test_subjects"])
    assert report["model_bytes"] == len(demo_model)
    assert report["int8_runtime"] == "tflm" and report["arena_method"] == "tflm-minimal-search"
    assert report["litert_argmax_agreement"] == 1.0
    # even 4 test epochs learn far above chance (1/7) on people the model never saw
    assert report["int8_accuracy"] > 0.6 and report["float_accuracy"] > 0.6
    assert set(report["boards"]) == set(load_boards())
    for fit in report["boards"].values():
        assert {"fits", "flash_bytes", "ram_bytes"} <= set(fit)
    assert report["boards"]["nano33ble_sense_rev2"]["fits"] is True
    assert json.loads(json.dumps(report)) == report


def test_cli_lists_boards():
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "boards"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    assert "nano33ble_sense_rev2" in proc.stdout and "256 KB RAM" in proc.stdout
