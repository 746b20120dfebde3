"""Graded labs: solutions/ (nbgrader source) and labs/ (generated release) stay correct and in sync.

nbgrader itself validates every solution (the one execution of solutions/ in `make test`: with
tests/strict_validate.py an error in any cell fails too, as nbval would report), checks the
student versions, and checks the conventions of STYLE.md.
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GRADING = ROOT / "grading"
NBGRADER = [sys.executable, "-m", "nbgrader"]
LABS = sorted(p.name for p in (ROOT / "solutions").glob("lab*") if p.is_dir())


def _nb(path):
    return json.loads(path.read_text())


def _source(cell):
    return "".join(cell["source"])


def _nbgrader(*args, cwd=GRADING, timeout=600):
    return subprocess.run([*NBGRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_there_are_labs():
    assert LABS, "no lab in solutions/"
    for lab in LABS:
        assert (ROOT / "labs" / lab / f"{lab}.ipynb").exists(), f"labs/{lab} is missing: run `make release`"


@pytest.mark.parametrize("lab", LABS)
def test_solution_passes_its_own_tests(lab):
    """The model answer passes `nbgrader validate` (the course's configuration, hidden tests
    included) and no other cell raises: the one execution of solutions/ in `make test`."""
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "strict_validate.py"),
                           str(ROOT / "solutions" / lab / f"{lab}.ipynb")],
                          cwd=GRADING, capture_output=True, text=True, timeout=900)
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr[-3000:]


@pytest.mark.parametrize("lab", LABS)
def test_student_version_fails_every_test(lab):
    proc = _nbgrader("validate", "--invert", str(ROOT / "labs" / lab / f"{lab}.ipynb"))
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout + proc.stderr[-3000:]


@pytest.mark.parametrize("lab", LABS)
def test_student_version_hides_instructor_content(lab):
    text = (ROOT / "labs" / lab / f"{lab}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME",
                   "Model answer"):
        assert marker not in text, f"labs/{lab} contains '{marker}'"


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """What `make release` makes of solutions/ now: one nbgrader run for every lab (pathlib.Path of
    the course folder whose labs/ holds the release)."""
    course = tmp_path_factory.mktemp("release")
    shutil.copytree(ROOT / "solutions", course / "solutions")
    proc = _nbgrader("generate_assignment", "*", "--force", "--no-db", f"--CourseDirectory.root={course}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return course


@pytest.mark.parametrize("lab", LABS)
def test_student_version_is_not_stale(lab, fresh_release):
    fresh = (fresh_release / "labs" / lab / f"{lab}.ipynb").read_bytes()
    assert fresh == (ROOT / "labs" / lab / f"{lab}.ipynb").read_bytes(), \
        f"labs/{lab} differs from solutions/{lab}: run `make release` and commit labs/"


@pytest.mark.parametrize("lab", LABS)
def test_lab_anatomy(lab):
    cells = _nb(ROOT / "solutions" / lab / f"{lab}.ipynb")["cells"]
    header = _source(cells[0])
    assert "Learning objectives" in header and "Time" in header, "a lab starts with objectives and time"
    meta = [c["metadata"].get("nbgrader", {}) for c in cells]
    ids = [m["grade_id"] for m in meta if "grade_id" in m]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), f"grade_ids must be kebab-case: {ids}"
    tests = [(c, m) for c, m in zip(cells, meta) if m.get("grade") and not m.get("solution")]
    assert 4 <= len(tests) <= 8, f"{lab} has {len(tests)} autograded tasks; a lab has 4-8"
    for cell, m in tests:
        src = _source(cell)
        assert "### BEGIN HIDDEN TESTS" in src, f"{m['grade_id']} has no hidden tests"
        assert m.get("points", 0) > 0 and m.get("locked"), f"{m['grade_id']} needs points and must be locked"
        visible = src.split("### BEGIN HIDDEN TESTS")[0]
        assert "assert" in visible and (", \"" in visible or ", f\"" in visible), \
            f"{m['grade_id']}: visible tests need assert messages that tell the student what to fix"
    manual = [(c, m) for c, m in zip(cells, meta) if m.get("grade") and m.get("solution")
              and c["cell_type"] == "markdown"]
    reflection = [c for c, m in manual if "responsible" in m["grade_id"]]
    assert reflection, f"{lab} needs a manually graded responsible-AI reflection"
    prompt = " ".join(_source(c) for c in cells)
    assert "UNESCO" in prompt, "the reflection cites the UNESCO Recommendation on the Ethics of AI (2021)"
