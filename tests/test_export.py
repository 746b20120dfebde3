"""Stage 7: generated C files round-trip, compile, and carry the right settings."""

import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinymlkit.export import (c_array_header, sketch_arena_bytes, c_array_source, check_op_resolver,
                              parse_c_array, resolver_ops, write_atomic)
from tinymlkit.tflm import model_ops

ROOT = pathlib.Path(__file__).resolve().parents[1]

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None,
                               reason="g++ not installed (make setup installs it when run as root)")


def test_c_array_parses_back_to_the_tflite_bytes(demo_run, demo_model):
    out, _ = demo_run
    source = (out / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_model_data[]" in source
    assert parse_c_array(source) == demo_model
    assert f"g_model_data_size = {len(demo_model)};" in source


def test_c_array_of_arbitrary_bytes():
    data = bytes(range(256)) * 3 + b"\x00"
    assert parse_c_array(c_array_source(data, "g_test")) == data
    with pytest.raises(ValueError, match="not a valid C identifier"):
        c_array_source(data, "9lives")
    with pytest.raises(ValueError, match="says 5 bytes but the array holds 3"):
        parse_c_array("const unsigned char g_x[] = {0x01, 0x02, 0x03};\nconst unsigned int g_x_size = 5;")


@needs_gxx
def test_generated_files_compile_with_gxx(demo_run, tmp_path):
    out, report = demo_run
    obj = tmp_path / "model_data.o"
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-c",
                           str(out / "model_data.cc"), "-o", str(obj)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    check = tmp_path / "settings_check.cc"
    check.write_text(
        '#include "model_settings.h"\n#include "model_data.h"\n'
        f'static_assert(kWindowSamples == {report["window_samples"]}, "window");\n'
        f'static_assert(kCategoryCount == {len(report["dataset"]["classes"])}, "labels");\n'
        f'static_assert(kInputZeroPoint == {report["input_quantization"]["zero_point"]}, "zp");\n'
        'static_assert(kTensorArenaBytes % 1024 == 0, "arena rounded to KB");\n'
        'int settings_probe() { return kInputElementCount + (int)(kInputScale > 0.0f); }\n')
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
                           "-I", str(out), "-c", str(check), "-o", str(tmp_path / "check.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_settings_header_values_match_the_report(demo_run):
    out, report = demo_run
    text = (out / "model_settings.h").read_text()

    def value(name):
        return re.search(rf"{name} = ([^;]+);", text).group(1)

    assert float(value("kInputScale").rstrip("f")) == pytest.approx(report["input_quantization"]["scale"], rel=1e-6)
    assert int(value("kOutputZeroPoint")) == report["output_quantization"]["zero_point"]
    means = [float(v.rstrip("f")) for v in re.search(r"kChannelMean\[kChannelCount\] = \{([^}]+)\}", text).group(1).split(",")]
    assert np.allclose(means, report["normalization"]["mean"], rtol=1e-6)
    assert '{"PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"}' in text
    allocated = int(value("kTensorArenaBytes").split("*")[0]) * 1024
    assert allocated == sketch_arena_bytes(report["arena_bytes"]) >= report["arena_bytes"]
    # one value: the fit report counts the RAM the sketch allocates, not the unrounded measurement
    from tinymlkit.boards import load_boards
    for bid, board in load_boards().items():
        assert report["boards"][bid]["ram_bytes"] == board.runtime_ram_bytes + allocated + report["buffer_bytes"]


def test_sketch_arena_bytes_rounds_up_to_whole_kb():
    assert [sketch_arena_bytes(n) for n in (0, 1, 1024, 1025, 9504)] == [0, 1024, 1024, 2048, 10240]
    with pytest.raises(ValueError, match="negative"):
        sketch_arena_bytes(-1)


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "model_data.cc"
    write_atomic(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new contents")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model_data.cc"]  # no temp file left behind


def test_header_declares_array_and_size():
    h = c_array_header("g_motion")
    assert "extern const unsigned char g_motion[];" in h and "g_motion_size" in h


MOTION_SKETCHES = sorted((ROOT / "hardware").glob("*/motion_inference/motion_inference.ino"))
#: The op list every kit's motion_inference shares (issue #14: it was copied into each sketch).
MOTION_RUNTIME = ROOT / "hardware" / "libraries" / "TinyMLKit" / "src" / "tmk_motion_runtime.h"


def test_motion_sketches_share_one_op_list_that_has_every_op_of_the_demo_model(demo_model):
    assert len(MOTION_SKETCHES) == 3
    for sketch in MOTION_SKETCHES:
        text = sketch.read_text()
        assert "#include <tmk_motion_runtime.h>" in text and "MicroMutableOpResolver" not in text, sketch
    assert check_op_resolver(demo_model, MOTION_RUNTIME) == []


def test_op_resolver_check_names_the_missing_op_and_a_full_resolver(demo_model):
    ops = model_ops(demo_model)
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    text = MOTION_RUNTIME.read_text()
    without_mean = text.replace("ops_.AddMean();", "")
    assert check_op_resolver(demo_model, without_mean) == ["the sketch does not register MEAN: add the "
                                                           "resolver's AddMean() call"]
    too_small = text.replace("MicroMutableOpResolver<10>", "MicroMutableOpResolver<4>")
    problems = check_op_resolver(demo_model, too_small)
    assert len(problems) == 1 and "MicroMutableOpResolver<4> holds 4" in problems[0]
    ops_found, capacities = resolver_ops(text)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "RELU"} <= ops_found and capacities == [10]
    with pytest.raises(ValueError, match="no MicroMutableOpResolver"):
        check_op_resolver(demo_model, "void setup() {}")
    with pytest.raises(ValueError, match="not a .tflite model"):
        model_ops(b"not a model")
