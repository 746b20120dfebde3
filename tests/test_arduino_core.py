"""Every Nano sketch of hardware/ compiled as the Arduino tools compile it, against the real pinned
core and libraries (issue #14): ``arduino:mbed_nano`` 4.5.0, Chirale_TensorFLowLite 2.0.0,
Arduino_LSM9DS1 1.1.1, Arduino_BMI270_BMM150 1.2.1, from ``../shared/arduino`` (its README gives
sources and versions), with the course's generated model files and the TinyMLKit library.

Objects only: the core's precompiled ``libmbed.a`` is not in ``shared/``, so nothing links. The
third-party sources are not compiled (20 minutes of TensorFlow Lite Micro that is not ours); their
headers are, in every file that includes them. A warning in the course's own code fails.

``../shared/arduino`` is a developer's and CI's, not a student's: without it these tests skip and
say so."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest

from tinymlkit.toolchain import CrossCompileError, compile_sketch, sketch_to_cpp

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "arduino"
CORE = SHARED / "ArduinoCore-mbed"
THIRD_PARTY = [SHARED / "Chirale_TensorFlowLite", SHARED / "Arduino_LSM9DS1", SHARED / "Arduino_BMI270_BMM150",
               SHARED / "Arduino_OV767X"]
TINYMLKIT = ROOT / "hardware" / "libraries" / "TinyMLKit"
NANO_SKETCHES = sorted(p.parent for p in ROOT.glob("hardware/nano33ble_sense_rev*/*/*.ino"))
MODEL_FILES = ("model_data.cc", "model_data.h", "model_settings.h")
CTAGS = shutil.which("ctags-universal") or shutil.which("ctags")

needs_tools = pytest.mark.skipif(
    shutil.which("arm-none-eabi-g++") is None or CTAGS is None,
    reason="arm-none-eabi-g++ or Universal Ctags not installed (scripts/system_deps.sh installs them)")
needs_core = pytest.mark.skipif(
    not CORE.is_dir(),
    reason=f"{SHARED} (the real Arduino core and libraries, trimmed) is not here: the compile "
           "against the real core is skipped; it is a developer's and CI's, not part of the course")
pytestmark = needs_tools


@pytest.fixture(scope="module")
def model_files(demo_run, anomaly_run, tmp_path_factory) -> dict[str, list[pathlib.Path]]:
    """The course's generated model files: the demo's motion model, a keyword DS-CNN (12
    classes, untrained: compiling needs its shape and settings, not its accuracy), the
    person-detection model exported as an image model, and the motion anomaly detector of
    ``tinymlkit anomaly``."""
    from tinymlkit import import_tensorflow_quietly

    import_tensorflow_quietly()
    from tinymlkit.export import KeywordModelSettings, write_model_files
    from tinymlkit.models import build_ds_cnn
    from tinymlkit.quantize import model_io, quantize_int8
    from tinymlkit.tflm import measure_arena

    out = tmp_path_factory.mktemp("kws_model")
    x = np.random.default_rng(0).uniform(0, 26, (64, 49, 40)).astype(np.float32)
    tflite = quantize_int8(build_ds_cnn(12), x, n_samples=64)
    io_ = model_io(tflite)
    labels = ("silence", "unknown", *[f"w{i}" for i in range(10)])
    write_model_files(out, tflite, KeywordModelSettings(
        labels=labels, input_quant=io_.input_quant, output_quant=io_.output_quant,
        arena_bytes=measure_arena(tflite).arena_bytes, silence_index=0, unknown_index=1))
    from tinymlkit.vision import export_person_detection

    person = tmp_path_factory.mktemp("person_model")
    export_person_detection(person)  # the largest image model: 300 KB of array
    anomaly = anomaly_run[0]
    return {"motion_inference": [demo_run[0] / f for f in MODEL_FILES],
            "kws_inference": [out / f for f in MODEL_FILES],
            "image_inference": [person / f for f in MODEL_FILES],
            "anomaly_inference": [anomaly / f for f in MODEL_FILES]}


def test_there_are_fourteen_nano_sketches():
    names = sorted(f"{p.parent.name}/{p.name}" for p in NANO_SKETCHES)
    assert len(names) == 14, names
    assert {p.name for p in NANO_SKETCHES} == {"imu_capture", "mic_capture", "image_capture", "motion_inference",
                                              "kws_inference", "image_inference", "anomaly_inference"}


@needs_core
@pytest.mark.parametrize("sketch", NANO_SKETCHES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sketch_compiles_against_the_real_core(sketch, model_files):
    build = compile_sketch(sketch, CORE, fqbn="arduino:mbed_nano:nano33ble", libraries=THIRD_PARTY,
                           own_libraries=[TINYMLKIT], extra_files=model_files.get(sketch.name, ()))
    used = {lib.name for lib in build.libraries}
    compiled = {p.name for p in build.compiled}
    print(f"\n{sketch.parent.name}/{sketch.name}: libraries {sorted(used)}; {len(compiled)} files compiled; "
          f"objects {build.sizes.text_bytes:,} B text, {build.sizes.bss_bytes:,} B bss")
    assert "TinyMLKit" in used and f"{sketch.name}.ino.cpp" in compiled
    assert {p.name for p in (TINYMLKIT / "src").glob("*.cpp")} <= compiled
    imu = "Arduino_LSM9DS1" if sketch.parent.name.endswith("rev1") else "Arduino_BMI270_BMM150"
    expected = {"imu_capture": {imu}, "mic_capture": {"PDM"}, "image_capture": {"Arduino_OV767X"},
                "image_inference": {"Arduino_OV767X", "Chirale_TensorFlowLite"},
                "motion_inference": {imu, "Chirale_TensorFlowLite"},
                "anomaly_inference": {imu, "Chirale_TensorFlowLite"},
                "kws_inference": {"PDM", "Chirale_TensorFlowLite"}}[sketch.name]
    assert expected <= used, used
    if sketch.name.endswith("_inference"):
        assert "model_data.cc" in compiled
    assert build.sizes.text_bytes > 0 and "-mcpu=cortex-m4" in build.command and "-DARDUINO_ARCH_MBED_NANO" in build.command


@needs_core
def test_anomaly_inference_refuses_a_classifiers_model_files(model_files):
    """A student copies the motion classifier's files into anomaly_inference by mistake: the compile
    stops at tmk_anomaly_runtime.h's #error, which says which files it needs and where they come from."""
    sketch = ROOT / "hardware" / "nano33ble_sense_rev1" / "anomaly_inference"
    with pytest.raises(CrossCompileError, match=r"(?s)not an anomaly detector's.*tinymlkit anomaly"):
        compile_sketch(sketch, CORE, fqbn="arduino:mbed_nano:nano33ble", libraries=THIRD_PARTY,
                       own_libraries=[TINYMLKIT], extra_files=model_files["motion_inference"])


def _sketch(tmp_path: pathlib.Path, name: str, body: str) -> pathlib.Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.ino").write_text(body)
    return folder


@needs_core
def test_a_warning_in_the_course_code_fails_with_its_file_and_line(tmp_path):
    sketch = _sketch(tmp_path, "warns", "#include <TinyMLKit.h>\n\nvoid setup() {\n  int unused;\n}\n\nvoid loop() {}\n")
    with pytest.raises(CrossCompileError, match=r"(?s)warnings.*warns\.ino:4: unused variable 'unused'"):
        compile_sketch(sketch, CORE, libraries=THIRD_PARTY, own_libraries=[TINYMLKIT])


@needs_core
def test_a_header_no_library_has_is_named(tmp_path):
    sketch = _sketch(tmp_path, "lost", "#include <NoSuchLibrary.h>\nvoid setup() {}\nvoid loop() {}\n")
    with pytest.raises(CrossCompileError, match="no library has NoSuchLibrary.h"):
        compile_sketch(sketch, CORE, libraries=THIRD_PARTY, own_libraries=[TINYMLKIT])


@needs_core
def test_a_sketch_that_does_not_compile_shows_the_compiler(tmp_path):
    sketch = _sketch(tmp_path, "broken", "void setup() { undefined_call(); }\nvoid loop() {}\n")
    with pytest.raises(CrossCompileError, match=r"(?s)broken.*does not compile for arduino:mbed_nano:nano33ble"
                                                r".*undefined_call"):
        compile_sketch(sketch, CORE)


def test_a_folder_without_its_ino_or_a_bad_board_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CrossCompileError, match=r"no empty\.ino"):
        compile_sketch(tmp_path / "empty", tmp_path)
    sketch = _sketch(tmp_path, "ok", "void setup() {}\nvoid loop() {}\n")
    with pytest.raises(CrossCompileError, match="vendor:architecture:board"):
        compile_sketch(sketch, tmp_path, fqbn="nano33ble")
    with pytest.raises(CrossCompileError, match="platform.txt' *: *file not found|platform.txt': file not found"):
        compile_sketch(sketch, tmp_path)


def test_ino_gets_arduino_h_prototypes_and_line_directives(tmp_path):
    """As the Arduino tools: prototypes for file-scope functions before the first of them (so loop()
    may call a function defined below it), none for a namespace's functions or declared ones."""
    sketch = _sketch(tmp_path, "protos", (
        "#include <TinyMLKit.h>\n"              # 1
        "namespace {\n"                          # 2
        "int hidden(int x) { return x; }\n"     # 3
        "}\n"                                    # 4
        "float declared(float);\n"               # 5
        "void setup() { helper(1, nullptr); }\n"  # 6
        "void loop() { declared(hidden(2)); }\n"  # 7
        "static int helper(int a, const char* b) { return a + (b != nullptr); }\n"  # 8
        "float declared(float v) { return v; }\n"))  # 9
    cpp = sketch_to_cpp(sketch / "protos.ino")
    lines = cpp.splitlines()
    assert lines[0] == "#include <Arduino.h>" and lines[1].startswith("#line 1 ") and lines[1].endswith('protos.ino"')
    protos = [l for l in lines if l.endswith(");") and not l.startswith(("void setup() {", "void loop() {"))]
    assert any(l.startswith("static int helper(int a,const char * b)") for l in protos), protos
    assert "void setup();" in lines and "void loop();" in lines
    assert not any(l.startswith("int hidden(") for l in protos) and lines.count("float declared(float);") == 1
    # the prototypes sit before setup(), after the namespace, and the text after them is back on line 6
    first = lines.index("void setup();")
    assert lines.index("}") < first < lines.index("void setup() { helper(1, nullptr); }")
    assert lines[lines.index("void setup() { helper(1, nullptr); }") - 1].startswith("#line 6 ")
