"""The offline install bundle (``make bundle`` / ``make install-offline``), built and installed for real.

One bundle per test session in ``build/test-bundle/`` (kept between sessions: the first build
downloads ~590 MB from the index, later ones complete it from itself with ``--prefer-offline`` and
touch no network). The install goes into a fresh venv in ``tmp_path`` with pip's index off, its
configuration files ignored and every proxy pointing at the closed port 127.0.0.1:9, so any
network attempt fails. Slow: about 1.5 min to install on 2 cores, plus ~40 s for the check.
If pyproject.toml and constraints.txt disagree the build fails and says to run ``make lock``; to
try the machinery against a candidate lock, set ``TINYMLKIT_BUNDLE_CONSTRAINTS=/path/to/file``.

That bundle is the student bundle (issue #12): no solutions/, and its build scanned it for answers.
The scan is also shown to fail, on a small fake bundle with answers planted in nested archives
(seconds); the instructor bundle is built from the same wheelhouse, hard-linked (~30 s).
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import importlib.util
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "build" / "test-bundle"
NO_NETWORK = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull,
              "PIP_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
              "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
              "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}

#: Run inside the offline-installed venv: real data, a real model, int8 in the real TFLM.
CHECK = """
import json, numpy as np
import tinymlkit as tk
tk.setup(seed=0)
ds = tk.datasets.load_motion()
train_mask, _ = tk.datasets.subject_split(ds.subject_ids)
train = tk.features.window_recordings(ds.recordings, ds.labels, ds.subject_ids, 100, 50,
                                      sides=ds.sides, indices=train_mask)
x = tk.features.fit_normalization(train.x).apply(train.x)
model = tk.models.build_cnn1d(100, 6, 7, filters=4, seed=0)
tk.train.train_classifier(model, x, train.y, epochs=1, progress=False)
tflite = tk.quantize.quantize_int8(model, x, n_samples=64)
io_ = tk.quantize.model_io(tflite)
xq = tk.quantize.quantize(x[:32], io_.input_quant)
tflm_out = tk.tflm.tflm_predict(tflite, xq)
arena = tk.tflm.measure_arena(tflite)
print(json.dumps({"recordings": len(ds.recordings), "package": tk.__file__,
                  "input_dtype": np.dtype(io_.input_dtype).name, "tflm_shape": list(tflm_out.shape),
                  "tflm_equals_litert": bool(np.array_equal(tflm_out, tk.tflm.litert_predict(tflite, xq))),
                  "arena_bytes": int(arena.arena_bytes), "arena_method": arena.method}))
"""


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bundle_build() -> tuple[pathlib.Path, str]:
    """``scripts/make_bundle.py --prefer-offline`` into build/test-bundle (timed); (folder, stdout)."""
    started = time.perf_counter()
    constraints = os.environ.get("TINYMLKIT_BUNDLE_CONSTRAINTS", str(ROOT / "constraints.txt"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bundle.py"), "--out",
                           str(BUNDLE), "--prefer-offline", "--constraints", constraints], capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, f"make_bundle failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    print(f"\nbundle built in {time.perf_counter() - started:.0f} s:\n{proc.stdout}")
    return BUNDLE, proc.stdout


@pytest.fixture(scope="session")
def bundle(bundle_build) -> pathlib.Path:
    """The student bundle in build/test-bundle."""
    return bundle_build[0]


def test_manifest_lists_every_file_with_its_hash(bundle):
    files = {p.relative_to(bundle).as_posix(): p for p in bundle.rglob("*") if p.is_file()}
    rows = [line.split() for line in (bundle / "MANIFEST.txt").read_text().splitlines()
            if not line.startswith("#")]
    listed = {rel: (int(size), digest) for size, digest, rel in rows}
    assert set(listed) == set(files) - {"MANIFEST.txt", "SHA256SUMS"}
    for rel, (size, digest) in listed.items():
        assert files[rel].stat().st_size == size, f"{rel}: size differs from MANIFEST.txt"
        assert hashlib.sha256(files[rel].read_bytes()).hexdigest() == digest, f"{rel}: hash differs"
    total = sum(p.stat().st_size for p in files.values())
    assert total <= _load_script("make_bundle").TARGET_BYTES, f"bundle is {total / 1e6:.0f} MB"


def test_wheelhouse_has_a_wheel_for_every_pin_and_the_datasets(bundle):
    mb = _load_script("make_bundle")
    wheels = {(n, str(v)) for n, v, *_ in map(mb.parse_wheel_filename,
                                              (p.name for p in (bundle / "wheelhouse").glob("*.whl")))}
    pins = [r for r in mb.read_pins(bundle / "constraints.txt") if r.marker is None or r.marker.evaluate()]
    missing = [str(r) for r in pins
               if (mb.canonicalize_name(r.name), str(next(iter(r.specifier)).version)) not in wheels]
    assert not missing, f"no wheel in the bundle for {missing}"
    assert not list((bundle / "wheelhouse").glob("*.tar.gz")), "source archives must be built into wheels"
    [wheel] = (bundle / "wheelhouse").glob("tinymlkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tinymlkit/data/motion/DATACARD.md" in names
    assert sum(n.endswith(".opus") for n in names) >= 3000, "the synthetic keyword clips ship in the wheel"
    install_md = (bundle / "INSTALL.md").read_text()
    assert "--no-index" in install_md and "py -3.11" in install_md and "cp311" in install_md


def test_marker_environment_picks_each_platforms_tensorflow():
    mb = _load_script("make_bundle")
    pins = mb.read_pins(ROOT / "constraints.txt")

    def names(tag):
        env = mb.marker_environment(tag, "3.11")
        return {r.name for r in pins if r.marker is None or r.marker.evaluate(env)}

    assert {"tensorflow", "tflite-micro"} <= names("manylinux2014_x86_64")
    assert "tensorflow-cpu" not in names("manylinux2014_x86_64"), "one TensorFlow wheel, not two"
    for tag in ("win_amd64", "macosx_11_0_arm64", "manylinux2014_aarch64"):
        assert "tensorflow" in names(tag) and "tflite-micro" not in names(tag), tag
    with pytest.raises(mb.BundleError, match="platform tag 'solaris'"):
        mb.marker_environment("solaris", "3.11")


def test_prune_drops_wheels_an_older_lock_left(tmp_path):
    mb = _load_script("make_bundle")
    pins = mb.read_pins(ROOT / "constraints.txt")
    numpy = next(r for r in pins if r.name == "numpy")
    version = str(next(iter(numpy.specifier)).version)
    names = [f"numpy-{version}-cp311-cp311-manylinux_2_17_x86_64.whl",         # pinned: kept
             "numpy-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",              # older pin: removed
             "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",    # no longer pinned: removed
             "setuptools-84.2.1-py3-none-any.whl", "wheel-0.48.0-py3-none-any.whl",  # build backend
             "tinymlkit-0.1.0-py3-none-any.whl"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = mb.prune(tmp_path, pins, keep=mb.build_requirements())
    assert sorted(removed) == sorted(names[1:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[:1] + names[3:])


def test_offline_install_in_a_fresh_venv_runs_tflm(bundle, tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env.update(NO_NETWORK)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(bundle / "install_offline.py"), "--bundle",
                           str(bundle), "--venv", str(venv)], capture_output=True, text=True,
                          env=env, timeout=1800)
    install_s = time.perf_counter() - started
    assert proc.returncode == 0, f"offline install failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Looking in links: " + str(bundle / "wheelhouse") in proc.stdout, "only the bundle is a source"
    print(f"\noffline install (verify + venv + pip) took {install_s:.0f} s")
    python = venv / "bin" / "python"
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, f"broken dependencies after the offline install:\n{check.stdout}"
    run = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=600)
    assert run.returncode == 0, f"tinymlkit failed in the offline venv:\n{run.stderr[-3000:]}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(venv)), "tinymlkit must come from the bundle's wheel"
    assert result["recordings"] == 140
    assert result["input_dtype"] == "int8" and result["tflm_shape"] == [32, 7]
    assert result["tflm_equals_litert"], "TFLM and LiteRT disagree in the offline venv"
    assert result["arena_method"] == "tflm-minimal-search" and result["arena_bytes"] > 0


def test_incomplete_bundle_is_refused_with_the_file_named(bundle, tmp_path):
    installer = [sys.executable, str(bundle / "install_offline.py"), "--venv", str(tmp_path / "v")]
    missing = subprocess.run([*installer, "--bundle", str(tmp_path / "nowhere")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "nowhere' does not exist" in missing.stderr
    broken = tmp_path / "broken"
    (broken / "wheelhouse").mkdir(parents=True)
    shutil.copy2(bundle / "constraints.txt", broken / "constraints.txt")
    [numpy] = (bundle / "wheelhouse").glob("numpy-*.whl")
    sums = [line for line in (bundle / "SHA256SUMS").read_text().splitlines()
            if line.endswith(("  constraints.txt", f"  wheelhouse/{numpy.name}"))]
    (broken / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    (broken / "wheelhouse" / numpy.name).write_bytes(numpy.read_bytes()[:1000])  # half-copied
    damaged = subprocess.run([*installer, "--bundle", str(broken)], capture_output=True, text=True)
    assert damaged.returncode == 1, damaged.stderr
    assert f"{numpy.name}' is damaged" in damaged.stderr
    (broken / "wheelhouse" / numpy.name).unlink()
    gone = subprocess.run([*installer, "--bundle", str(broken)], capture_output=True, text=True)
    assert gone.returncode == 1 and "listed in SHA256SUMS but missing" in gone.stderr
    assert not (tmp_path / "v").exists(), "nothing is installed from an incomplete bundle"


# --- student and instructor bundles (issue #12) -------------------------------------------------

LAB = "lab01_motion_data"
COURSE_TAR = "course/tinymlkit-course.tar.gz"


def test_student_bundle_has_no_solutions_and_scans_clean(bundle_build, tmp_path):
    bundle, stdout = bundle_build
    mb = _load_script("make_bundle")
    assert "kind: student bundle; answer scan: clean" in stdout, stdout
    assert (bundle / "MANIFEST.txt").read_text().startswith("# kind: student bundle")
    assert "(student bundle)" in (bundle / "INSTALL.md").read_text().splitlines()[0]
    names = tarfile.open(bundle / COURSE_TAR).getnames()
    left_in = [n for n in names for path in mb.STUDENT_EXCLUDES   # paths may hold wildcards (i18n/*/...)
               if fnmatch.fnmatch(n, f"tinymlkit-course/{path}") or fnmatch.fnmatch(n, f"tinymlkit-course/{path}/*")]
    assert not left_in, f"the student course archive holds instructor material: {left_in[:5]}"
    assert f"tinymlkit-course/labs/{LAB}/{LAB}.ipynb" in names, "students need the released labs"
    assert f"tinymlkit-course/labs/es/{LAB}/{LAB}.ipynb" in names, "and the translated ones (issue #18)"
    assert not [n for n in names if "/LC_MESSAGES/solutions" in n], "translated model answers left in"
    assert "tinymlkit-course/i18n/es/LC_MESSAGES/modules/00_welcome_and_setup.po" in names
    assert any(n.startswith("tinymlkit-course/modules/") for n in names)
    # The build scanned the whole folder (above); again here, the files the course makes itself.
    own = tmp_path / "own"
    for rel in (COURSE_TAR, *(p.relative_to(bundle) for p in (bundle / "wheelhouse").glob("tinymlkit-*.whl"))):
        (own / rel).parent.mkdir(parents=True, exist_ok=True)
        (own / rel).symlink_to(bundle / rel)
    mb.check_student_bundle(own)  # raises BundleError naming the file and the leaked line


def _fake_bundle(root: pathlib.Path) -> pathlib.Path:
    """A small clean bundle: INSTALL.md, a tinymlkit wheel, the released lab01 in the course archive."""
    (root / "wheelhouse").mkdir(parents=True)
    with zipfile.ZipFile(root / "wheelhouse" / "tinymlkit-0.1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("tinymlkit/__init__.py", '"""The course package."""\n')
    (root / "course").mkdir()
    with tarfile.open(root / COURSE_TAR, "w:gz") as tar:
        tar.add(ROOT / "labs" / LAB / f"{LAB}.ipynb", arcname=f"tinymlkit-course/labs/{LAB}/{LAB}.ipynb")
    (root / "INSTALL.md").write_text("# TinyML Lab Kit - offline install (student bundle)\n")
    return root


def _tar_gz(path: pathlib.Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_scan_names_a_hidden_test_line_inside_nested_archives(tmp_path):
    mb = _load_script("make_bundle")
    bundle = _fake_bundle(tmp_path / "bundle")
    assert mb.scan_for_answers(bundle, ROOT / "solutions") == [], "the released lab is no leak"
    answers = _load_script("answer_scan").answer_lines(ROOT / "solutions")
    line = next(a for a, where in answers.items() if where.startswith(f"hidden test in solutions/{LAB}/"))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:  # one hidden-test line, no marker, two archives deep
        z.writestr("notes.py", f"# revision notes\n    {line}\n")
    (bundle / "datasets").mkdir()
    _tar_gz(bundle / "datasets" / "extra.tar.gz", {"extra/inner.zip": inner.getvalue()})
    problems = mb.scan_for_answers(bundle, ROOT / "solutions")
    assert len(problems) == 1, problems
    assert problems[0].startswith("datasets/extra.tar.gz!extra/inner.zip!notes.py: hidden test in "
                                  f"solutions/{LAB}/{LAB}.ipynb") and repr(line[:120]) in problems[0]
    with pytest.raises(mb.BundleError, match=r"(?s)holds model answers.*datasets/extra\.tar\.gz!extra/inner\.zip!notes\.py"):
        mb.check_student_bundle(bundle)


def test_scan_finds_a_solutions_notebook_a_solved_lab_and_a_gradebook(tmp_path):
    mb = _load_script("make_bundle")
    sys.path.insert(0, str(ROOT / "tests"))
    from submissions import make_submission

    bundle = _fake_bundle(tmp_path / "bundle")
    solution = (ROOT / "solutions" / LAB / f"{LAB}.ipynb").read_bytes()
    wheel = bundle / "wheelhouse" / "tinymlkit-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "a") as z:  # the model answers shipped inside the course's wheel
        z.writestr(f"tinymlkit/data/{LAB}.ipynb", solution)
    solved = json.dumps(make_submission(LAB, "all")).encode()  # answers filled in, no marker
    prose = next(a for a, where in _load_script("answer_scan").answer_lines(ROOT / "solutions").items()
                 if where.endswith("cell 'question-random-split'"))  # a written model answer
    _tar_gz(bundle / "course" / "shared.tar.gz", {f"shared/alice_{LAB}.ipynb": solved,
                                                  "shared/grading/gradebook.db": b"SQLite format 3\0",
                                                  "shared/answers.md.gz": gzip.compress(prose.encode())})
    problems = mb.scan_for_answers(bundle, ROOT / "solutions")
    in_wheel = [p for p in problems if p.startswith(f"wheelhouse/{wheel.name}!tinymlkit/data/{LAB}.ipynb: ")]
    assert any("nbgrader marker 'BEGIN SOLUTION'" in p for p in in_wheel), in_wheel
    assert any("solution cell 'count-per-class' holds an answer" in p for p in in_wheel), in_wheel
    solved_nb = [p for p in problems if p.startswith(f"course/shared.tar.gz!shared/alice_{LAB}.ipynb: ")]
    assert any("holds an answer, not the stub" in p for p in solved_nb), problems
    assert not any("marker" in p for p in solved_nb), "a solved lab has no marker: found by its cells"
    assert "course/shared.tar.gz!shared/grading/gradebook.db: a database file" in "\n".join(problems)
    assert (f"course/shared.tar.gz!shared/answers.md.gz!answers.md: model answer in solutions/{LAB}/"
            f"{LAB}.ipynb cell 'question-random-split': {prose[:120]!r}") in problems
    assert not any(p.startswith(COURSE_TAR) for p in problems), "the released lab is no leak"


def test_instructor_bundle_holds_solutions_and_says_so(bundle, tmp_path):
    make = subprocess.run(["make", "-n", "bundle", "INSTRUCTOR=1"], cwd=ROOT, capture_output=True, text=True)
    assert 'make_bundle.py --out "build/bundle-instructor" --instructor' in make.stdout, make.stdout[-500:]
    out = tmp_path / "instructor"
    shutil.copytree(bundle / "wheelhouse", out / "wheelhouse", copy_function=os.link)  # no download
    started = time.perf_counter()
    constraints = os.environ.get("TINYMLKIT_BUNDLE_CONSTRAINTS", str(ROOT / "constraints.txt"))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_bundle.py"), "--out", str(out),
                           "--prefer-offline", "--constraints", constraints, "--instructor"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"make_bundle --instructor failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    print(f"\ninstructor bundle built in {time.perf_counter() - started:.0f} s")
    assert "kind: INSTRUCTOR bundle, not for students; answer scan: skipped" in proc.stdout
    assert (out / "MANIFEST.txt").read_text().startswith("# kind: INSTRUCTOR bundle")
    install_md = (out / "INSTALL.md").read_text()
    assert "never copy it onto a student's stick" in install_md and "(INSTRUCTOR bundle" in install_md
    names = tarfile.open(out / COURSE_TAR).getnames()
    assert f"tinymlkit-course/solutions/{LAB}/{LAB}.ipynb" in names
    assert "tinymlkit-course/tests/submissions.py" in names
    mb = _load_script("make_bundle")
    assert any("solutions" in p for p in mb.scan_for_answers(out / "course", ROOT / "solutions"))
