"""Make realistic lab submissions from the released notebook and the solution (for grading tests)."""

from __future__ import annotations

import copy
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def solution_sources(lab: str) -> dict[str, str]:
    """{grade_id: what a student who solved the task would have written} from solutions/."""
    out = {}
    for cell in _load(ROOT / "solutions" / lab / f"{lab}.ipynb")["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            src = "".join(cell["source"])
            if cell["cell_type"] == "code":
                src = "\n".join(l for l in src.splitlines() if "### BEGIN SOLUTION" not in l
                                and "### END SOLUTION" not in l)
            else:
                src = "My answer: " + src
            out[meta["grade_id"]] = src
    return out


def make_submission(lab: str, solved: set[str] | str = "all", edits: dict[str, str] | None = None,
                    drop: set[str] = frozenset(), extra_cells: list[str] = (), lang: str | None = None) -> dict:
    """The released notebook with some tasks solved.

    Args:
        solved: grade_ids of solution cells to fill in ("all" for every one).
        edits: {grade_id: new source} applied to any cell (e.g. a tampered test).
        drop: grade_ids of cells the student deleted.
        extra_cells: code cells the student added at the end.
        lang: the release to start from: None for English (labs/<lab>/), else "es", "pt_BR" or
            "fr" (labs/<lang>/<lab>/, issue #18).
    """
    release = ROOT / "labs" / lab if lang is None else ROOT / "labs" / lang / lab
    nb = copy.deepcopy(_load(release / f"{lab}.ipynb"))
    answers = solution_sources(lab)
    if solved == "all":
        solved = set(answers)
    cells = []
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in drop:
            continue
        if gid in solved:
            cell["source"] = answers[gid]
        if edits and gid in edits:
            cell["source"] = edits[gid]
        cells.append(cell)
    for src in extra_cells:
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                      "source": src})
    nb["cells"] = cells
    return nb


def write(nb: dict, path: pathlib.Path) -> pathlib.Path:
    """Write a notebook dict as a student's file."""
    path.write_text(json.dumps(nb, indent=1))
    return path


def course_copy(folder: pathlib.Path) -> pathlib.Path:
    """A course to grade in ``folder``: copies of solutions/ and labs/, and an empty grading/
    (grade.py --root folder); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("solutions", "labs"):
        shutil.copytree(ROOT / name, folder / name)
    (folder / "grading").mkdir()
    return folder


def run_grade(course: pathlib.Path, lab: str, *args: str, timeout: float = 1200,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """``grading/grade.py <lab> --root <course> --no-progress <args>`` as a grader runs it."""
    return subprocess.run([sys.executable, str(ROOT / "grading" / "grade.py"), lab, "--root", str(course),
                           "--no-progress", *args], capture_output=True, text=True, timeout=timeout, env=env)
