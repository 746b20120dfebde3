"""A whole class graded offline, end to end, with the real nbgrader: `grading/grade.py`.

Eight made-up students, in one LMS-style zip: complete, partial, blank, tests edited and deleted,
a syntax error, an infinite loop, a cell printing megabytes, and a wrong file name.
"""

import csv
import json
import os
import re
import shutil
import sys
import zipfile

import pytest

from submissions import ROOT, course_copy, make_submission, run_grade, write

LAB = "lab01_motion_data"
FULL = 15.0  # autograded points of lab01 (manual answers are marked later by the instructor)
# The sandbox needs bubblewrap (make setup installs it as root); without it these tests say so and
# grade unsandboxed, and tests/test_grading_attacks.py (the tricks the sandbox stops) is skipped.
SANDBOX = [] if shutil.which("bwrap") else ["--unsandboxed"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    course = course_copy(tmp_path_factory.mktemp("course"))
    subs = tmp_path_factory.mktemp("lms_export")
    loop = "def count_per_class(labels, class_names):\n    while True:\n        pass\n"
    students = {
        "s01complete": make_submission(LAB),
        "s02partial": make_submission(LAB, solved={"count-per-class", "find-gaps", "make-windows"}),
        "s03blank": make_submission(LAB, solved=set()),
        "s04tamper": make_submission(LAB, solved=set(), drop={"make-windows-tests"},
                                     edits={gid: "assert True" for gid in (
                                         "count-per-class-tests", "find-gaps-tests", "fill-gaps-tests",
                                         "find-unit-errors-tests", "split-by-subject-tests")}),
        "s05syntax": make_submission(LAB, edits={"fill-gaps": "def fill_gaps(recording)\n    return recording\n"}),
        "s06loop": make_submission(LAB, edits={"count-per-class": loop}),
        "s07bigprint": make_submission(LAB, extra_cells=['print("x" * 3_000_000)']),
        # A mixed class (issue #18): the same lab done in Spanish, Portuguese and French, graded by
        # the one English gradebook; a Spanish student's edited tests are restored in Spanish.
        "s09es": make_submission(LAB, lang="es"),
        "s10ptbr": make_submission(LAB, lang="pt_BR"),
        "s11fr": make_submission(LAB, lang="fr", solved={"count-per-class", "find-gaps", "make-windows"}),
        "s12estamper": make_submission(LAB, lang="es", solved=set(), drop={"make-windows-tests"},
                                       edits={"count-per-class-tests": "assert True"}),
    }
    for sid, nb in students.items():
        write(nb, subs / f"{sid}_{LAB}.ipynb")
    write(make_submission(LAB), subs / "s08wrongname_Lab 1 final (1).ipynb")
    archive = subs / "lms_download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in subs.glob("*.ipynb"):
            zf.write(path, path.name)
    proc = run_grade(course, "lab01", "--from", str(archive), "--workers", "2", "--cell-timeout", "30", *SANDBOX,
                     timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grading" / f"grades_{LAB}.csv").open())}
    return course, proc.stdout, rows


@pytest.mark.parametrize("student, score", [
    ("s01complete", FULL),
    ("s02partial", 2 + 2 + 3),   # count-per-class, find-gaps, make-windows
    ("s03blank", 0.0),
    ("s04tamper", 0.0),          # edited and deleted tests are restored: scored as if intact
    ("s05syntax", FULL - 3),     # fill-gaps does not compile; everything else still runs
    ("s06loop", FULL - 2),       # the loop is stopped after 30 s; the rest of the notebook runs
    ("s07bigprint", FULL),
    ("s08wrongname", FULL),      # 'Lab 1 final (1).ipynb' renamed and graded
    ("s09es", FULL),             # Spanish release, same points as English
    ("s10ptbr", FULL),
    ("s11fr", 2 + 2 + 3),
    ("s12estamper", 0.0),        # edited and deleted tests restored (in Spanish)
])
def test_each_student_gets_the_right_score(graded_class, student, score):
    _, stdout, rows = graded_class
    assert student in rows, f"{student} missing from the grades CSV:\n{stdout}"
    assert float(rows[student]["score"]) == score, stdout
    assert float(rows[student]["max_score"]) == FULL + 8  # + three answers marked by hand


def test_summary_reports_the_rename_and_every_student(graded_class):
    _, stdout, rows = graded_class
    assert len(rows) == 12 and "12 of 12 graded" in stdout
    assert "renamed 'Lab 1 final (1).ipynb' to 'lab01_motion_data.ipynb'" in stdout


def test_feedback_hides_hidden_tests(graded_class):
    course, _, _ = graded_class
    pages = list((course / "grading" / "feedback").glob(f"*/{LAB}/{LAB}.html"))
    assert len(pages) == 12
    for page in pages:
        html = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "_toy" not in html, f"{page} shows hidden tests"


def _cell_text(lab: str, lang: str | None, grade_id: str) -> str:
    """The source of one cell of the English (``lang`` None) or a translated release (str)."""
    nb = json.loads((ROOT / "labs" / (lang or "") / lab / f"{lab}.ipynb").read_text())
    return next("".join(c["source"]) for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.parametrize("student, lang", [("s09es", "es"), ("s10ptbr", "pt_BR"), ("s11fr", "fr"), ("s12estamper", "es")])
def test_feedback_is_in_the_students_language(graded_class, student, lang):
    """A student who did the lab in Spanish, Portuguese or French gets feedback in that language:
    the instructions and the (restored) visible tests are the translated release's, not English."""
    import html as html_lib

    course, stdout, rows = graded_class
    raw = (course / "grading" / "feedback" / student / LAB / f"{LAB}.html").read_text()
    page = html_lib.unescape(raw)
    english = json.loads((ROOT / "labs" / LAB / f"{LAB}.ipynb").read_text())["cells"][0]["source"][0].strip()
    first = json.loads((ROOT / "labs" / lang / LAB / f"{LAB}.ipynb").read_text())["cells"][0]["source"][0].strip()
    assert first != english, f"labs/{lang}/{LAB} starts like the English lab: is it translated?"
    assert first.lstrip("# ").strip() in page, f"{student}'s feedback does not show the {lang} lab's first line {first!r}"
    assert english.lstrip("# ").strip() not in page, f"{student}'s feedback shows the English instructions"
    assert rows[student]["integrity"] == "ok", f"{student} ({lang}) was flagged: {rows[student]}"
    if student == "s12estamper":  # the edited visible test is back, as the Spanish release has it
        code = html_lib.unescape(re.sub(r"<[^>]+>", "", raw))  # code cells are highlighted token by token
        english_test = _cell_text(LAB, None, "count-per-class-tests").splitlines()
        restored = [line.strip() for line in _cell_text(LAB, lang, "count-per-class-tests").splitlines()
                    if line.startswith("assert") and line not in english_test]
        assert restored, f"labs/{lang}/{LAB}'s count-per-class-tests has no translated assert message"
        missing = [line for line in restored if line not in code]
        assert not missing, f"the tampered test was not restored from the Spanish release: {missing}"


@pytest.mark.parametrize("lab, partial, solved, full_score, partial_score", [
    ("lab04_collect_your_data", "k02nofalsealarm", {"take-problems", "add-recordings", "person-split"}, 10.0, 8.0),
    ("lab05_keyword_spotting", "k02nothreshold", {"to-classes", "speaker-split", "fa-fr"}, 8.0, 6.0),
])
def test_kit_lab_grades_in_parallel_with_simulated_boards(tmp_path, lab, partial, solved, full_score,
                                                          partial_score):
    """lab04 and lab05 start simulated boards and record data while they are graded; two students
    graded at once must not share ports or folders."""
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    write(make_submission(lab), subs / f"k01complete_{lab}.ipynb")
    write(make_submission(lab, solved=solved), subs / f"{partial}_{lab}.ipynb")
    proc = run_grade(course, lab[:5], "--from", str(subs), "--workers", "2", "--cell-timeout", "300", *SANDBOX)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grading" / f"grades_{lab}.csv").open())}
    assert float(rows["k01complete"]["score"]) == full_score, proc.stdout   # every autograded task
    assert float(rows[partial]["score"]) == partial_score, proc.stdout     # the last task unsolved


def test_without_a_sandbox_grading_refuses_until_the_grader_chooses(tmp_path):
    """No bubblewrap on PATH: grade.py says so plainly and grades nothing; with --unsandboxed it
    grades and the summary and every CSV row say the sandbox was off."""
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    write(make_submission(LAB), subs / f"h01_{LAB}.ipynb")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}     # no /usr/bin: no bwrap
    args = ["--from", str(subs), "--workers", "1"]
    refused = run_grade(course, "lab01", *args, timeout=300, env=env)
    assert refused.returncode == 3, refused.stdout + refused.stderr[-2000:]
    assert "The grading sandbox cannot start on this machine" in refused.stdout
    assert "UNSANDBOXED=1" in refused.stdout
    assert not (course / "grading" / "submitted").exists(), "nothing is collected or graded before the choice"
    chosen = run_grade(course, "lab01", *args, "--unsandboxed", timeout=600, env=env)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr[-2000:]
    assert "WARNING: graded WITHOUT the sandbox" in chosen.stdout
    rows = list(csv.DictReader((course / "grading" / f"grades_{LAB}.csv").open()))
    assert [r["sandbox"].startswith("OFF") for r in rows] == [True]
    assert float(rows[0]["score"]) == FULL


def _autograded_points(lab: str) -> float:
    """Points of a lab's autograded test cells, read from its nbgrader source."""
    nb = json.loads((ROOT / "solutions" / lab / f"{lab}.ipynb").read_text())
    return sum(float(c["metadata"]["nbgrader"]["points"]) for c in nb["cells"]
               if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade")
               and not c["metadata"]["nbgrader"].get("solution"))


@pytest.mark.parametrize("lab", ["lab02_train_evaluate", "lab03_quantize_deploy"])
def test_model_answers_score_full_marks_with_no_integrity_flag(tmp_path, lab):
    """The labs that train and quantize TensorFlow models, graded with the sandbox and the
    integrity guard: the model answer gets every autograded point and no flag."""
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    write(make_submission(lab), subs / f"m01model_{lab}.ipynb")
    proc = run_grade(course, lab[:5], "--from", str(subs), "--workers", "1", "--cell-timeout", "300", *SANDBOX)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    row = next(csv.DictReader((course / "grading" / f"grades_{lab}.csv").open()))
    assert float(row["score"]) == _autograded_points(lab) > 0, proc.stdout
    assert row["integrity"] == "ok" and row["status"] == "graded", proc.stdout
