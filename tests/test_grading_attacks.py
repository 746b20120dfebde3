"""Students are also adversaries: a class zip full of the tricks a clever student would try,
graded by ``grading/grade.py`` with the real nbgrader, the bubblewrap sandbox and the integrity
guard, beside honest classmates.

Every trick below was seen on an unprotected grader (issue 12). For each one the test shows:
no point gained, nobody else's grade changed, no file outside that student's folder changed (a
hash of the course and of the package before and after), no process left behind, and the
honest students keep their full marks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

from submissions import ROOT, course_copy, make_submission, run_grade

LAB = "lab01_motion_data"
FULL = 15.0
MARKER = f"tmk-leftover-{os.getpid()}"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
    reason="the grading sandbox needs Linux and bubblewrap ('apt-get install bubblewrap'; make setup does it as root)")


def _tree_hash(*folders: pathlib.Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _hidden_test_lines() -> list[str]:
    """Distinctive source lines of lab01's hidden tests."""
    nb = json.loads((ROOT / "solutions" / LAB / f"{LAB}.ipynb").read_text())
    lines = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", src, re.S):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) > 20]
    assert lines, "lab01 has hidden tests"
    return lines


def _blank_with(code_in_first_answer: str, extra_cells: tuple[str, ...] = ()) -> dict:
    """A blank submission whose first answer cell runs ``code`` (the student's own early cell)."""
    first = "count-per-class"
    return make_submission(LAB, solved=set(), edits={first: code_in_first_answer + "\n"
                                                     "def count_per_class(labels, class_names):\n"
                                                     "    raise NotImplementedError()\n"},
                           extra_cells=list(extra_cells))


def attacks(course: pathlib.Path) -> dict[str, dict]:
    """{student id: notebook} — each a blank lab with one trick."""
    wrong = ("import numpy as _np\n"
             "def make_windows(recording, window, stride):\n    return _np.zeros((1, window, 2))\n")
    return {
        "a01customexc": _blank_with("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
        "a02ast": _blank_with(
            "import ast\n"
            "class Wrap(ast.NodeTransformer):\n"
            "    def visit_Module(self, node):\n"
            "        handler = ast.ExceptHandler(type=ast.Name('BaseException', ast.Load()), name=None, body=[ast.Pass()])\n"
            "        return ast.fix_missing_locations(ast.Module(body=[ast.Try(body=node.body or [ast.Pass()], "
            "handlers=[handler], orelse=[], finalbody=[])], type_ignores=[]))\n"
            "get_ipython().ast_transformers.append(Wrap())"),
        "a03hooks": _blank_with(
            "ip = get_ipython()\n"
            "ip.showtraceback = lambda *a, **k: None\n"
            "ip._showtraceback = lambda *a, **k: None\n"
            "def _post(result):\n    result.error_in_exec = None\n"
            "ip.events.register('post_run_cell', _post)\n"
            "import IPython.core.interactiveshell as _s\n"
            "_s.InteractiveShell.showtraceback = lambda *a, **k: None"),
        "a04numpy": make_submission(LAB, solved=set(), edits={"make-windows": wrong, "count-per-class": (
            "import numpy as _np\n"
            "_np.allclose = lambda *a, **k: True\n_np.array_equal = lambda *a, **k: True\n"
            "_np.testing.assert_array_equal = lambda *a, **k: None\n"
            "_np.testing.assert_allclose = lambda *a, **k: None\n"
            "import builtins\nbuiltins.all = lambda *a, **k: True\n"
            "isinstance = lambda *a, **k: True\n"
            "def count_per_class(labels, class_names):\n    return {}\n")}),
        "a05readsolutions": _blank_with(
            "import glob, os, json\n"
            f"_found = glob.glob({str(course)!r} + '/**/*.ipynb', recursive=True)\n"
            "for _up in range(1, 8):\n"
            "    _found += glob.glob('../' * _up + 'solutions/*/*.ipynb') + glob.glob('../' * _up + 'grading/*.db')\n"
            "    _found += glob.glob('../' * _up + 'submitted/*/*/*.ipynb')\n"
            "print('FOUND', sorted(set(_found)))\n"
            "for _path in _found:\n"
            "    if 'solutions' in _path:\n"
            "        for _c in json.load(open(_path))['cells']:\n"
            "            if _c['cell_type'] == 'code' and _c['metadata'].get('nbgrader', {}).get('solution'):\n"
            "                exec(''.join(_c['source']))"),
        "a06history": make_submission(LAB, solved=set(), edits={"count-per-class": (
            "import sys, inspect, linecache, glob\n"
            "def count_per_class(labels, class_names):\n"
            "    ip = get_ipython()\n"
            "    print('IH', ip.user_ns.get('_ih'), ip.user_ns.get('In'))\n"
            "    print('HIST', list(ip.history_manager.input_hist_raw))\n"
            "    print('CACHE', [''.join(v[2]) for v in linecache.cache.values() if isinstance(v, tuple) and len(v) > 2])\n"
            "    try:\n        print('SRC', inspect.getsource(sys._getframe(1)))\n    except Exception as e:\n        print('nosrc', e)\n"
            "    for f in glob.glob('/tmp/**/*.py', recursive=True):\n        print('TMP', open(f).read())\n"
            "    open('stolen_tests.txt', 'w').write(str(ip.user_ns.get('_ih')))\n"
            "    return {}\n")}),
        "a07gradebook": _blank_with(
            "import sqlite3, glob\n"
            f"_dbs = glob.glob({str(course)!r} + '/grading/*.db') + glob.glob('../../../../*.db') + glob.glob('../../*.db')\n"
            "print('DBS', _dbs)\n"
            "for _db in _dbs:\n"
            "    _c = sqlite3.connect(_db)\n"
            "    _c.execute(\"UPDATE grade SET manual_score = 100, auto_score = 100\")\n"
            "    _c.commit()"),
        "a08writes": _blank_with(
            "import tinymlkit, os, glob\n"
            "_targets = [tinymlkit.__file__, os.path.join(os.path.dirname(tinymlkit.__file__), 'datasets.py')]\n"
            f"_targets += [{str(ROOT / 'grading' / 'nbgrader_config.py')!r}, {str(course / 'grading' / 'gradebook.db')!r}]\n"
            f"_targets += glob.glob({str(course)!r} + '/**/*.ipynb', recursive=True)\n"
            f"_targets += [{str(course / 'solutions' / LAB / (LAB + '.ipynb'))!r}]\n"
            "for _t in _targets:\n"
            "    try:\n"
            "        open(_t, 'a').write('\\n# tampered\\n')\n        print('WROTE', _t)\n"
            "    except OSError as _e:\n        print('refused', _t, type(_e).__name__)"),
        "a09memory": _blank_with(
            "try:\n    _hog = bytearray(int(17.5 * 2**30))\n    _hog[::4096] = b'x' * len(_hog[::4096])\n"
            "except MemoryError:\n    print('no memory for that')"),
        "a10fork": _blank_with(
            "import subprocess, sys\n"
            "for _i in range(40):\n"
            f"    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)  # {MARKER}'],\n"
            "                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"),
        "a11kill": _blank_with(
            "import os, signal\n"
            "for _pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    if _pid != os.getpid():\n"
            "        try:\n            os.kill(_pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
            "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass"),
        "a12forkbomb": _blank_with(
            "import os\n_n = 0\n"
            "try:\n    while _n < 5000:\n        if os.fork() == 0:\n            import time; time.sleep(600); os._exit(0)\n"
            "        _n += 1\nexcept OSError as _e:\n    print('fork refused after', _n, _e)"),
        "a13result": make_submission(LAB, solved=set(), edits={"count-per-class": (
            "def count_per_class(labels, class_names):\n"
            "    get_ipython().displayhook(2.0)\n"
            "    return {}\n")}),
        "a14guardcall": _blank_with(
            "import builtins\n"
            "_real = builtins.__tmk_guard__ if hasattr(builtins, '__tmk_guard__') else None\n"
            "builtins.__tmk_guard__ = lambda *a, **k: print('⟦tinymlkit-integrity⟧ {\"verdict\": {}, \"mac\": \"0\"}')"),
        "a15xss": make_submission(LAB, extra_cells=[
            "from IPython.display import HTML, display\n"
            "display(HTML('<script>alert(\"xss-script\")</script><img src=x onerror=\"alert(1337)\">'))"]),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = course_copy(tmp_path_factory.mktemp("course"))
    subs = tmp_path_factory.mktemp("lms")
    archive = subs / "class.zip"
    students = {"h01honest": make_submission(LAB), "h02honest": make_submission(LAB), **attacks(course)}
    originals = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for sid, nb in students.items():
            text = json.dumps(nb)
            originals[sid] = hashlib.sha256(text.encode()).hexdigest()
            zf.writestr(f"{sid}_{LAB}.ipynb", text)
        # collection tricks
        with zf.open("z01bomb_lab01.ipynb", "w", force_zip64=True) as member:   # 1 GiB of zeros, ~1 MB zipped
            block = b"\0" * (1 << 24)
            for _ in range(64):
                member.write(block)
        inner = pathlib.Path(subs / "inner.zip")
        with zipfile.ZipFile(inner, "w") as nested:
            nested.writestr(f"h01honest_{LAB}.ipynb", json.dumps(make_submission(LAB, solved=set())))
        zf.write(inner, "z02nested_lab01.zip")
        zf.writestr("z03path/../../../escaped.ipynb", json.dumps(make_submission(LAB)))
        link = zipfile.ZipInfo(f"z04link/{LAB}.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(f"z05dup_{LAB}.ipynb", json.dumps(make_submission(LAB)))
        zf.writestr(f"z05dup_{LAB} (1).ipynb", json.dumps(make_submission(LAB)))
        zf.writestr(f"z06broken_{LAB}.ipynb", '{"cells": [ this is not json')
    watched = (course / "solutions", course / "labs", ROOT / "tinymlkit", ROOT / "grading")
    before = _tree_hash(*watched)
    start = time.time()
    proc = run_grade(course, "lab01", "--from", str(archive), "--workers", "2", "--cell-timeout", "60",
                     "--student-timeout", "400", timeout=1800)
    seconds = time.time() - start
    time.sleep(1)
    leftovers = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    rows = {}
    csv_path = course / "grading" / f"grades_{LAB}.csv"
    if csv_path.exists():
        rows = {r["student_id"]: r for r in csv.DictReader(csv_path.open())}
    return {"course": course, "proc": proc, "rows": rows, "before": before, "after": _tree_hash(*watched),
            "leftovers": leftovers, "originals": originals, "seconds": seconds}


def _score(graded, student):
    row = graded["rows"].get(student)
    assert row is not None, f"{student} missing from the CSV:\n{graded['proc'].stdout}\n{graded['proc'].stderr[-3000:]}"
    return float(row["score"]) if row["score"] else None


def test_grading_finishes_and_honest_students_keep_full_marks(graded):
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    for honest in ("h01honest", "h02honest"):
        assert _score(graded, honest) == FULL, proc.stdout
        assert graded["rows"][honest]["integrity"] == "ok", proc.stdout
        assert graded["rows"][honest]["status"].startswith("graded"), proc.stdout
    assert _score(graded, "a15xss") == FULL and graded["rows"]["a15xss"]["integrity"] == "ok"


@pytest.mark.parametrize("student", ["a01customexc", "a02ast", "a03hooks", "a13result", "a14guardcall"])
def test_tampering_with_error_reporting_gains_nothing_and_is_flagged(graded, student):
    assert _score(graded, student) == 0.0, graded["proc"].stdout
    assert graded["rows"][student]["integrity"] != "ok", graded["proc"].stdout


def test_each_way_of_hiding_errors_is_named(graded):
    flags = graded["rows"]["a03hooks"]["integrity"]
    assert "post_run_cell" in flags and "InteractiveShell.showtraceback of the running kernel was replaced" in flags \
        and "IPython.core.interactiveshell.InteractiveShell.showtraceback was replaced" in flags, flags
    assert "set_custom_exc" in graded["rows"]["a01customexc"]["integrity"]
    assert "AST transformer" in graded["rows"]["a02ast"]["integrity"]


def test_replacing_comparison_functions_gains_nothing_and_is_flagged(graded):
    assert _score(graded, "a04numpy") == 0.0, graded["proc"].stdout
    flags = graded["rows"]["a04numpy"]["integrity"]
    assert "numpy.allclose" in flags and "builtins.all" in flags and "'isinstance' hides the builtin" in flags, flags


@pytest.mark.parametrize("student", ["a05readsolutions", "a06history", "a07gradebook", "a08writes",
                                     "a09memory", "a10fork", "a11kill", "a12forkbomb"])
def test_sandboxed_tricks_gain_nothing(graded, student):
    score = _score(graded, student)
    assert score in (0.0, None), graded["proc"].stdout        # None: NOT GRADED, with the reason


def _printed(graded, student: str) -> str:
    """Everything the student's cells printed during autograding."""
    nb = json.loads((graded["course"] / "grading" / "autograded" / student / LAB / f"{LAB}.ipynb").read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_instructor_files_are_invisible_to_student_code(graded):
    assert "FOUND []" in _printed(graded, "a05readsolutions"), "the sandbox showed the student instructor files"
    assert "DBS []" in _printed(graded, "a07gradebook")
    printed = _printed(graded, "a08writes")
    assert "refused" in printed and "WROTE" not in printed, printed


def test_nothing_outside_the_students_folders_changed(graded):
    assert graded["before"] == graded["after"], sorted(
        k for k in set(graded["before"]) | set(graded["after"]) if graded["before"].get(k) != graded["after"].get(k))
    submitted = graded["course"] / "grading" / "submitted"
    for sid, digest in graded["originals"].items():
        path = submitted / sid / LAB / f"{LAB}.ipynb"
        if path.exists():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{sid}'s submission was changed"


def test_no_process_is_left_behind(graded):
    assert graded["leftovers"] == [], f"{len(graded['leftovers'])} processes of a10fork still run"
    ps = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True).stdout.split()
    assert not [u for u in ps if 61000 <= int(u) < 61256], "a sandbox user still has processes"


def test_feedback_holds_no_hidden_test_and_no_other_file(graded):
    feedback = graded["course"] / "grading" / "feedback"
    lines = _hidden_test_lines()
    for folder in feedback.glob(f"*/{LAB}"):
        names = {p.name for p in folder.iterdir()}
        # beside the page, only nbgrader's two small files for release_feedback (a date, a random secret)
        assert f"{LAB}.html" in names and names <= {f"{LAB}.html", "timestamp.txt", "submission_secret.txt"}, \
            f"{folder}: more than the feedback page: {sorted(names)}"
        if "timestamp.txt" in names:
            assert re.fullmatch(r"[0-9 :.\-]+(UTC)?\s*", (folder / "timestamp.txt").read_text()), folder
        if "submission_secret.txt" in names:
            assert re.fullmatch(r"[0-9a-f]{16,64}\s*", (folder / "submission_secret.txt").read_text()), folder
        html = (folder / f"{LAB}.html").read_text()
        import html as html_module
        text = html_module.unescape(html)
        for line in lines:
            assert line not in text, f"{folder.parent.name}'s feedback shows a hidden test line: {line}"
        assert "__tmk_setup__" not in text, f"{folder.parent.name}: the grader's inserted cell is in the feedback"
        assert not re.search(r'"mac": "[0-9a-f]{64}"', text), f"{folder.parent.name}: a verdict line is in the feedback"


def test_feedback_is_sanitised(graded):
    """The student's HTML output is shown without its script and event handler (the same text
    in the student's code listing is escaped, which is harmless)."""
    html = (graded["course"] / "grading" / "feedback" / "a15xss" / LAB / f"{LAB}.html").read_text()
    assert '<script>alert("xss-script")' not in html
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", html), "an event-handler attribute survived"
    assert "alert(1337)" in html, "the output itself should still be shown (escaped)"


@pytest.mark.parametrize("student, words", [
    ("z01bomb", "limit"),
    ("z02nested", "archive inside the submission"),
    ("z04link", "is a link"),
    ("z05dup", "2 submissions"),
    ("z06broken", "not a readable notebook (NotJSONError"),
])
def test_collection_tricks_are_reported_by_student(graded, student, words):
    row = graded["rows"].get(student)
    assert row is not None and row["status"].startswith("NOT GRADED") and words in row["status"], \
        graded["proc"].stdout
    assert _score(graded, "h01honest") == FULL   # the nested file named after h01honest changed nothing


def test_path_trick_is_reported_and_nothing_escapes(graded):
    assert "points outside its folder" in graded["proc"].stdout, graded["proc"].stdout
    assert not list(graded["course"].rglob("escaped.ipynb"))


def test_rerun_resumes_without_grading_again(graded):
    """A second run finds every graded student unchanged and only rebuilds feedback and the CSV."""
    course = graded["course"]
    proc = run_grade(course, "lab01", "--workers", "2", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "(unchanged: not graded again)" in proc.stdout
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grading" / f"grades_{LAB}.csv").open())}
    assert float(rows["h01honest"]["score"]) == FULL


def test_a_notebook_that_wedges_its_kernel_is_not_graded_and_the_class_is(tmp_path):
    """A notebook that stops its kernel answering (every later cell would wait for its timeout)
    is stopped at the per-student limit and marked NOT GRADED with the reason; the classmate is
    graded, and a re-run grades only the one that is not done."""
    course = course_copy(tmp_path / "course")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / f"h01honest_{LAB}.ipynb").write_text(json.dumps(make_submission(LAB)))
    wedge = _blank_with("get_ipython().kernel.shell_handlers.clear()   # no request is answered any more")
    (subs / f"w01wedge_{LAB}.ipynb").write_text(json.dumps(wedge))
    # The limits leave an honest notebook room on a loaded 2-core machine (its slowest cell takes a few
    # seconds, the whole lab about 30 s) while the wedged one, whose 14 later code cells would each wait
    # the 20 s cell timeout (280 s), can only be stopped by the 90 s per-student limit.
    args = ["--workers", "2", "--cell-timeout", "20", "--student-timeout", "90"]
    proc = run_grade(course, "lab01", "--from", str(subs), *args, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grading" / f"grades_{LAB}.csv").open())}
    assert float(rows["h01honest"]["score"]) == FULL
    assert rows["w01wedge"]["status"].startswith("NOT GRADED: grading this notebook took over 90 s"), proc.stdout
    # the re-run grades only the wedged notebook: a shorter limit stops it sooner, as well
    again = run_grade(course, "lab01", *args[:-1], "30", timeout=600)
    assert "h01honest" in again.stdout and "(unchanged: not graded again)" in again.stdout
    assert again.stdout.count("(unchanged: not graded again)") == 1, again.stdout   # only the honest one
