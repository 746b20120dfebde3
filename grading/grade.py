"""Grade a whole workshop offline: collect → autograde in parallel → feedback → grades CSV.

    make grade LAB=lab01                       # grade what is in grading/submitted/
    make grade LAB=lab01 FROM=~/Downloads/lab01_submissions.zip
    python grading/grade.py lab01 --from DIR_OR_ZIP --workers 2 --cell-timeout 120

Steps (each one a real nbgrader command; see grading/README.md):
1. ``--from``: copy the LMS zip or the USB-stick folder into grading/downloaded/<lab>/archive and
   run ``nbgrader zip_collect`` (files named ``<student id>_<anything>.ipynb``).
2. A student folder without ``<lab>.ipynb`` but with exactly one other notebook: that notebook is
   renamed (a wrong file name should not cost a student the lab) and the rename is reported.
3. ``nbgrader generate_assignment`` records the lab's cells and checksums in the gradebook (so
   edited or deleted tests are restored), and ``nbgrader db student import`` adds the students.
4. ``nbgrader autograde --student S`` for every student, N at a time. Each runs in its own process;
   the gradebook's SQLite lock (60 s timeout) orders their short writes. A broken submission, or a
   process that fails, is reported and the class goes on.
5. ``nbgrader generate_feedback`` (HTML without hidden tests) and ``nbgrader export`` (CSV).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

GRADING = pathlib.Path(__file__).resolve().parent
ROOT = GRADING.parent


@dataclasses.dataclass
class Outcome:
    """What happened to one student's submission."""

    student: str
    ok: bool
    seconds: float
    note: str = ""


def nbgrader(args: list[str], root: pathlib.Path, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command with this course's config, for the course at ``root``."""
    db = f"sqlite:///{root / 'grading' / 'gradebook.db'}?timeout=60"
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}",
           f"--CourseDirectory.db_url={db}"]
    # nbgrader runs the `alembic` program of its environment to create the gradebook
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    return subprocess.run(cmd, cwd=GRADING, capture_output=True, text=True, timeout=timeout, env=env)


def resolve_lab(name: str, root: pathlib.Path) -> str:
    """``lab01`` → ``lab01_motion_data`` (the folder in solutions/ that starts with the name)."""
    matches = sorted(p.name for p in (root / "solutions").glob(f"{name}*") if p.is_dir())
    if len(matches) != 1:
        known = sorted(p.name for p in (root / "solutions").glob("lab*"))
        raise SystemExit(f"'{name}' matches {matches or 'no lab'}; labs are: {', '.join(known)}")
    return matches[0]


def collect(lab: str, source: pathlib.Path, root: pathlib.Path) -> None:
    """Copy a zip or a folder of submissions into downloaded/ and run ``nbgrader zip_collect``."""
    archive = root / "grading" / "downloaded" / lab / "archive"
    if archive.parent.exists():
        shutil.rmtree(archive.parent)
    archive.mkdir(parents=True)
    if source.is_dir():
        for item in source.iterdir():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, archive / item.name)
    elif source.is_file():
        shutil.copy2(source, archive / source.name)
    else:
        raise SystemExit(f"'{source}': no such file or folder of submissions")
    proc = nbgrader(["zip_collect", lab, "--force"], root)
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader zip_collect failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")


def fix_file_names(lab: str, root: pathlib.Path) -> dict[str, str]:
    """Rename a lone, wrongly named notebook to ``<lab>.ipynb``; returns {student: note}."""
    notes = {}
    for folder in sorted((root / "grading" / "submitted").glob(f"*/{lab}")):
        expected = folder / f"{lab}.ipynb"
        others = [p for p in folder.glob("*.ipynb") if p != expected]
        if not expected.exists() and len(others) == 1:
            others[0].rename(expected)
            notes[folder.parent.name] = f"renamed '{others[0].name}' to '{expected.name}'"
        elif not expected.exists():
            notes[folder.parent.name] = (f"no '{expected.name}' and {len(others)} other notebooks: "
                                         "nothing graded")
    return notes


def prepare_gradebook(lab: str, students: list[str], root: pathlib.Path) -> None:
    """Record the lab's cells in the gradebook and add every student (sequentially, once)."""
    release = root / "grading" / "release"  # keep labs/ untouched
    proc = nbgrader(["generate_assignment", lab, "--force",
                     f"--CourseDirectory.release_directory={release.relative_to(root)}"], root)
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{proc.stderr[-3000:]}")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id"])
        writer.writerows([s] for s in students)
    try:
        proc = nbgrader(["db", "student", "import", f.name], root)
        if proc.returncode != 0:
            raise SystemExit(f"nbgrader db student import failed:\n{proc.stderr[-3000:]}")
    finally:
        os.unlink(f.name)


def autograde(lab: str, student: str, root: pathlib.Path, cell_timeout: int) -> Outcome:
    """``nbgrader autograde`` one student; never raises."""
    start = time.perf_counter()
    try:
        proc = nbgrader(["autograde", lab, "--student", student, "--force",
                         f"--Execute.timeout={cell_timeout}"], root, timeout=cell_timeout * 60 + 600)
    except subprocess.TimeoutExpired:
        return Outcome(student, False, time.perf_counter() - start, "autograde took too long; skipped")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = [line for line in proc.stderr.splitlines() if "ERROR" in line or "Error" in line]
        return Outcome(student, False, seconds, (last[-1] if last else proc.stderr[-300:]).strip())
    timed_out = "Timeout" in proc.stderr or "CellTimeoutError" in proc.stderr
    return Outcome(student, True, seconds, "a cell timed out and was stopped" if timed_out else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lab", help="lab name or prefix, e.g. lab01")
    parser.add_argument("--from", dest="source", type=pathlib.Path,
                        help="a zip file or folder of submissions to collect first")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="students graded at the same time (default: number of cores)")
    parser.add_argument("--cell-timeout", type=int, default=120,
                        help="seconds one cell may run before it is stopped (default 120)")
    parser.add_argument("--root", type=pathlib.Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    lab = resolve_lab(args.lab, root)
    start = time.perf_counter()

    if args.source:
        collect(lab, args.source.expanduser().resolve(), root)
    notes = fix_file_names(lab, root)
    students = sorted(p.parent.name for p in (root / "grading" / "submitted").glob(f"*/{lab}")
                      if (p / f"{lab}.ipynb").exists())
    if not students:
        print(f"No submissions of {lab} in grading/submitted/. Collect some first (see grading/README.md).")
        return 1
    print(f"Grading {len(students)} submissions of {lab} with {args.workers} workers")
    prepare_gradebook(lab, students, root)

    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [pool.submit(autograde, lab, s, root, args.cell_timeout) for s in students]
        done = concurrent.futures.as_completed(futures)
        if not args.no_progress:
            from tqdm import tqdm
            done = tqdm(done, total=len(futures), desc="autograding", unit="student")
        for future in done:
            outcomes.append(future.result())
    grading_seconds = time.perf_counter() - start

    proc = nbgrader(["generate_feedback", lab, "--force"], root)
    if proc.returncode != 0:
        print(f"warning: nbgrader generate_feedback failed:\n{proc.stderr[-2000:]}")
    grades_csv = root / "grading" / f"grades_{lab}.csv"
    proc = nbgrader(["export", "--to", str(grades_csv), "--assignment", lab], root)
    if proc.returncode != 0:
        raise SystemExit(f"nbgrader export failed:\n{proc.stderr[-3000:]}")

    scores = {row["student_id"]: row for row in csv.DictReader(grades_csv.open())
              if row["assignment"] == lab}
    print(f"\n{'student':<20} {'score':>7} {'max':>5}  notes")
    for o in sorted(outcomes, key=lambda o: o.student):
        row = scores.get(o.student, {})
        note = "; ".join(n for n in (notes.get(o.student, ""), o.note, "" if o.ok else "NOT GRADED") if n)
        print(f"{o.student:<20} {row.get('score', '-'):>7} {row.get('max_score', '-'):>5}  {note}")
    for student, note in notes.items():
        if student not in students:
            print(f"{student:<20} {'-':>7} {'-':>5}  {note}")
    failed = [o.student for o in outcomes if not o.ok]
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} graded in {grading_seconds:.0f} s; "
          f"grades: {grades_csv}; feedback: grading/feedback/<student>/{lab}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
