"""Grade a whole workshop offline: collect → autograde in a sandbox → feedback → grades CSV.

    make grade LAB=lab01                       # grade what is in grading/submitted/
    make grade LAB=lab01 FROM=~/Downloads/lab01_submissions.zip
    python grading/grade.py lab01 --from DIR_OR_ZIP --workers 2 --cell-timeout 120

Steps (see grading/README.md):
1. ``--from``: collect the LMS zip or the USB-stick folder safely (``grading/collect.py``: size
   limits, no nested archives or links, student id from the top-level name, duplicates reported).
2. ``nbgrader generate_assignment`` records the lab's cells and checksums in the gradebook (so
   edited or deleted tests are restored), and ``nbgrader db student import`` adds the students.
3. ``nbgrader autograde --student S`` for every student, N at a time, each student's kernel in
   the bubblewrap sandbox (``grading/sandbox.py``) and every test under the integrity guard
   (``grading/integrity.py``). A student who was already graded with the same notebook and the
   same lab is not graded again (``--regrade`` forces it), so a re-run after a stop resumes.
4. ``nbgrader generate_feedback`` (sanitised HTML without hidden tests; nothing else is left in
   a feedback folder) and ``nbgrader export``, extended with the columns ``status``,
   ``integrity`` and ``sandbox``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

GRADING = pathlib.Path(__file__).resolve().parent
ROOT = GRADING.parent
sys.path.insert(0, str(GRADING))

import collect as collecting  # noqa: E402
import sandbox  # noqa: E402
from integrity import ENV_REPORT  # noqa: E402

_RUNNING: set[int] = set()                  # process groups of the nbgrader commands running now
STATUS_FILE = "grading_status_{lab}.json"   # in grading/autograded/: what each student's last grading gave


@dataclasses.dataclass
class Outcome:
    """What happened to one student's submission."""

    student: str
    ok: bool
    seconds: float
    note: str = ""
    integrity: list[str] = dataclasses.field(default_factory=list)
    submission_sha256: str = ""
    lab_sha256: str = ""
    reused: bool = False


def sha256_file(path: pathlib.Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nbgrader(args: list[str], root: pathlib.Path, timeout: float | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command with this course's config, for the course at ``root``.

    The command runs in its own session; on a timeout its whole process group is killed and
    ``subprocess.TimeoutExpired`` is raised.
    """
    db = f"sqlite:///{root / 'grading' / 'gradebook.db'}?timeout=60"
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}",
           f"--CourseDirectory.db_url={db}"]
    # nbgrader runs the `alembic` program of its environment to create the gradebook
    full_env = {**os.environ, **(env or {}),
                "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    with subprocess.Popen(cmd, cwd=GRADING, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=full_env, start_new_session=True) as proc:
        _RUNNING.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise
        finally:
            _kill_group(proc.pid)   # nothing of this command outlives it
            _RUNNING.discard(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def resolve_lab(name: str, root: pathlib.Path) -> str:
    """``lab01`` → ``lab01_motion_data`` (the folder in solutions/ that starts with the name)."""
    matches = sorted(p.name for p in (root / "solutions").glob(f"{name}*") if p.is_dir())
    if len(matches) != 1:
        known = sorted(p.name for p in (root / "solutions").glob("lab*"))
        raise SystemExit(f"'{name}' matches {matches or 'no lab'}; labs are: {', '.join(known)}")
    return matches[0]


def fix_file_names(lab: str, root: pathlib.Path) -> tuple[dict[str, str], dict[str, str]]:
    """Folders put into submitted/ by hand: rename a lone, wrongly named notebook to
    ``<lab>.ipynb`` and check every notebook can be read. Returns ({student: note},
    {student: problem})."""
    notes, problems = {}, {}
    for folder in sorted((root / "grading" / "submitted").glob(f"*/{lab}")):
        expected = folder / f"{lab}.ipynb"
        others = [p for p in folder.glob("*.ipynb") if p != expected]
        if not expected.exists() and len(others) == 1:
            others[0].rename(expected)
            notes[folder.parent.name] = f"renamed '{others[0].name}' to '{expected.name}'"
        elif not expected.exists():
            problems[folder.parent.name] = (f"no '{expected.name}' and {len(others)} other notebooks: "
                                            "not graded")
            continue
        unreadable = collecting.read_problem(expected)
        if unreadable:
            problems[folder.parent.name] = unreadable + ": not graded"
    return notes, problems


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


@dataclasses.dataclass
class Run:
    """Settings of one grading run (shared by the workers)."""

    lab: str
    root: pathlib.Path
    cell_timeout: int
    work: pathlib.Path            # temporary folder of this run: kernelspec, sockets, scratch, reports
    sandboxed: bool
    limits: sandbox.Limits
    lab_sha256: str
    student_timeout: int


def autograde(run: Run, student: str) -> Outcome:
    """``nbgrader autograde`` one student (sandboxed kernel, guarded tests); never raises."""
    start = time.perf_counter()
    notebook = run.root / "grading" / "submitted" / student / run.lab / f"{run.lab}.ipynb"
    outcome = Outcome(student, False, 0.0, submission_sha256=sha256_file(notebook), lab_sha256=run.lab_sha256)
    runtime = run.work / "runtime" / student
    runtime.mkdir(parents=True, exist_ok=True)
    report = run.work / "integrity" / f"{student}.json"
    report.parent.mkdir(exist_ok=True)
    report.unlink(missing_ok=True)
    env = {ENV_REPORT: str(report), "JUPYTER_RUNTIME_DIR": str(runtime)}
    args = ["autograde", run.lab, "--student", student, "--force", f"--Execute.timeout={run.cell_timeout}"]
    if run.sandboxed:
        env.update({"JUPYTER_PATH": os.pathsep.join([str(run.work / "jupyter"), os.environ.get("JUPYTER_PATH", "")]),
                    sandbox.ENV_SCRATCH: str(run.work / "scratch"),
                    sandbox.ENV_LIMITS: json.dumps(dataclasses.asdict(run.limits)),
                    sandbox.ENV_PACKAGE: str(sandbox.package_folder())})
        args += [f"--Execute.kernel_name={sandbox.KERNEL_NAME}", "--KernelManager.transport=ipc",
                 f"--KernelManager.ip={runtime / 'kernel'}"]
    try:
        proc = nbgrader(args, run.root, timeout=run.student_timeout, env=env)
    except subprocess.TimeoutExpired:
        outcome.seconds = time.perf_counter() - start
        outcome.note = (f"grading this notebook took over {run.student_timeout} s and was stopped (the notebook "
                        "may have broken its own kernel)")
        return outcome
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    outcome.seconds = time.perf_counter() - start
    if report.exists():
        outcome.integrity = json.loads(report.read_text()).get("flags", [])
    if proc.returncode != 0:
        last = [line for line in proc.stderr.splitlines() if "ERROR" in line or "Error" in line]
        outcome.note = (last[-1] if last else proc.stderr[-300:]).strip()
        if "DeadKernelError" in proc.stderr or "Kernel died" in proc.stderr:
            outcome.note = "the notebook's kernel died while running it (the notebook stopped Python)"
        return outcome
    outcome.ok = True
    if "Timeout" in proc.stderr or "CellTimeoutError" in proc.stderr:
        outcome.note = "a cell timed out and was stopped"
    return outcome


def load_status(path: pathlib.Path) -> dict[str, dict]:
    """{student: last outcome as a dict} from the status file, or {} when there is none."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_status(path: pathlib.Path, status: dict[str, dict]) -> None:
    """Write the status file atomically (a stop in the middle never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".status-")
    with os.fdopen(fd, "w") as f:
        json.dump(status, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


#: what nbgrader 0.9's release_feedback reads beside a feedback page (nbgrader/exchange/default/release_feedback.py)
RELEASE_FEEDBACK_FILES = ("timestamp.txt", "submission_secret.txt")


def clean_feedback(lab: str, root: pathlib.Path) -> None:
    """Leave only the feedback page in each ``feedback/<student>/<lab>/`` folder, and nbgrader's
    ``timestamp.txt`` and ``submission_secret.txt`` (small regular files), which
    ``nbgrader release_feedback`` needs on the workshop server (grading/server.py grade)."""
    for folder in (root / "grading" / "feedback").glob(f"*/{lab}"):
        for path in folder.iterdir():
            keep = path.name == f"{lab}.html" or (path.name in RELEASE_FEEDBACK_FILES and path.is_file()
                                                  and not path.is_symlink() and path.stat().st_size < 200)
            if not keep:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def write_grades(lab: str, root: pathlib.Path, nbgrader_csv: pathlib.Path, students: list[str],
                 outcomes: dict[str, Outcome], problems: dict[str, str], sandbox_label: str) -> pathlib.Path:
    """nbgrader's export plus ``status``, ``integrity`` and ``sandbox`` columns, one row per
    student (NOT GRADED ones too), written atomically to ``grading/grades_<lab>.csv``."""
    rows = [r for r in csv.DictReader(nbgrader_csv.open()) if r["assignment"] == lab] if nbgrader_csv.exists() else []
    fields = list(rows[0]) if rows else ["assignment", "student_id", "score", "max_score"]
    by_id = {r["student_id"]: r for r in rows}
    out = []
    for student in sorted(set(students) | set(problems) | set(by_id)):
        if student not in students and student not in problems:
            continue                                   # in the gradebook from another collection
        row = dict(by_id.get(student, {"assignment": lab, "student_id": student}))
        outcome = outcomes.get(student)
        if student in problems:
            status = f"NOT GRADED: {problems[student]}"
        elif outcome is None or not outcome.ok:
            status = f"NOT GRADED: {outcome.note if outcome else 'not graded'}"
        else:
            status = "graded" + (f" ({outcome.note})" if outcome.note else "")
        if not status.startswith("graded"):
            row["score"] = ""
        row["status"] = status
        row["integrity"] = " | ".join(outcome.integrity) if outcome and outcome.integrity else "ok"
        row["sandbox"] = sandbox_label
        out.append(row)
    path = root / "grading" / f"grades_{lab}.csv"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".grades-")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*fields, "status", "integrity", "sandbox"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(out)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module text). Returns the exit status: 0 graded (each student's
    outcome is in the summary and the CSV), 1 nothing to grade, 3 the sandbox cannot start and the
    grader did not choose --unsandboxed, 130 stopped by Ctrl-C (re-run to resume)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lab", help="lab name or prefix, e.g. lab01")
    parser.add_argument("--from", dest="source", type=pathlib.Path,
                        help="a zip file or folder of submissions to collect first")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="students graded at the same time (default: number of cores)")
    parser.add_argument("--cell-timeout", type=int, default=120,
                        help="seconds one cell may run before it is stopped (default 120)")
    parser.add_argument("--student-timeout", type=int, default=1200,
                        help="seconds one student's whole notebook may take (default 1200)")
    parser.add_argument("--memory-gb", type=float, default=sandbox.Limits.memory_bytes / 1024**3,
                        help="address space one process of a student's kernel may use, GiB (default 6)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="grade without the sandbox where it cannot start (student code can then read "
                             "and change everything you can); the summary and the CSV say so")
    parser.add_argument("--regrade", action="store_true",
                        help="autograde every student again, even those already graded with the same notebook")
    parser.add_argument("--root", type=pathlib.Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    lab = resolve_lab(args.lab, root)
    start = time.perf_counter()
    limits = sandbox.Limits(memory_bytes=int(args.memory_gb * 1024**3))

    sandboxed = not args.unsandboxed
    if sandboxed:
        try:
            how = sandbox.check(limits, sandbox.package_folder())
        except sandbox.SandboxError as exc:
            print(f"The grading sandbox cannot start on this machine: {exc}.\n"
                  "Without it, a student's notebook could read the solutions and change grades. Either "
                  "grade on a Linux machine where it starts (python grading/sandbox.py check), or choose "
                  "to grade without it: make grade LAB=... UNSANDBOXED=1 (grade.py --unsandboxed).")
            return 3
    sandbox_label = "bubblewrap" if sandboxed else "OFF (unsandboxed by the grader's choice)"
    print(f"Sandbox: bubblewrap; {how}" if sandboxed else
          "Sandbox: OFF by the grader's choice: student code can read and change what you can")

    notes: dict[str, str] = {}
    problems: dict[str, str] = {}
    if args.source:
        try:
            got = collecting.collect(args.source.expanduser().resolve(), lab, root / "grading" / "submitted")
        except collecting.CollectionError as exc:
            raise SystemExit(f"Nothing collected: {exc}")
        notes.update(got.notes)
        problems.update(got.problems)
    more_notes, more_problems = fix_file_names(lab, root)
    notes.update({k: v for k, v in more_notes.items() if k not in notes})
    problems.update(more_problems)
    students = sorted(p.parent.name for p in (root / "grading" / "submitted").glob(f"*/{lab}")
                      if (p / f"{lab}.ipynb").exists() and p.parent.name not in problems)
    if not students and not problems:
        print(f"No submissions of {lab} in grading/submitted/. Collect some first (see grading/README.md).")
        return 1
    print(f"Grading {len(students)} submissions of {lab} with {args.workers} workers"
          + ("" if sandboxed else " — WITHOUT the sandbox"))
    if students:
        prepare_gradebook(lab, students, root)

    status_path = root / "grading" / "autograded" / STATUS_FILE.format(lab=lab)
    status = load_status(status_path)
    lab_sha = sha256_file(root / "solutions" / lab / f"{lab}.ipynb")
    outcomes: dict[str, Outcome] = {}
    todo = []
    for student in students:
        last = status.get(student, {})
        sub = sha256_file(root / "grading" / "submitted" / student / lab / f"{lab}.ipynb")
        graded = root / "grading" / "autograded" / student / lab / f"{lab}.ipynb"
        if (not args.regrade and last.get("ok") and last.get("submission_sha256") == sub
                and last.get("lab_sha256") == lab_sha and last.get("sandboxed") == sandboxed and graded.exists()):
            outcomes[student] = Outcome(**{k: v for k, v in last.items() if k in Outcome.__dataclass_fields__},
                                        reused=True)
        else:
            todo.append(student)

    with tempfile.TemporaryDirectory(prefix="tinymlkit-grading-") as tmp:
        work = pathlib.Path(tmp)
        os.chmod(work, 0o755)
        (work / "scratch").mkdir()
        sandbox.write_kernelspec(work / "jupyter")
        run = Run(lab, root, args.cell_timeout, work, sandboxed, limits, lab_sha, args.student_timeout)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.workers))
        try:
            futures = [pool.submit(autograde, run, s) for s in todo]
            done = concurrent.futures.as_completed(futures)
            if not args.no_progress and futures:
                from tqdm import tqdm
                done = tqdm(done, total=len(futures), desc="autograding", unit="student")
            for future in done:
                o = future.result()
                outcomes[o.student] = o
                entry = {**dataclasses.asdict(o), "sandboxed": sandboxed}
                entry.pop("reused")
                status[o.student] = entry
                save_status(status_path, status)     # a stop here loses nobody already graded
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for pgid in list(_RUNNING):
                _kill_group(pgid)
            print(f"\nStopped. {len(status)} student(s) are saved in {status_path}; "
                  "run the same command again to go on from there.")
            return 130
        finally:
            sandbox.sweep_cgroups(work)
        pool.shutdown(wait=True)
    grading_seconds = time.perf_counter() - start

    nbgrader_csv = root / "grading" / f".nbgrader_export_{lab}.csv"
    if students:
        proc = nbgrader(["generate_feedback", lab, "--force"], root)
        if proc.returncode != 0:
            print(f"warning: nbgrader generate_feedback failed:\n{proc.stderr[-2000:]}")
        clean_feedback(lab, root)
        proc = nbgrader(["export", "--to", str(nbgrader_csv), "--assignment", lab], root)
        if proc.returncode != 0:
            print(f"warning: nbgrader export failed (the CSV has no scores):\n{proc.stderr[-2000:]}")
    grades_csv = write_grades(lab, root, nbgrader_csv, students, outcomes, problems, sandbox_label)
    nbgrader_csv.unlink(missing_ok=True)

    rows = {r["student_id"]: r for r in csv.DictReader(grades_csv.open())}
    print(f"\n{'student':<20} {'score':>7} {'max':>5}  notes")
    for student in sorted(rows):
        row, o = rows[student], outcomes.get(student)
        note = [notes.get(student, "")]
        if student in problems:
            note.append(f"NOT GRADED: {problems[student]}")
        elif o is not None:
            note += [o.note, "" if o.ok else "NOT GRADED", "(unchanged: not graded again)" if o.reused else ""]
            if o.integrity:
                note.append("INTEGRITY: " + " | ".join(o.integrity[:3]))
        print(f"{student:<20} {row.get('score') or '-':>7} {row.get('max_score') or '-':>5}  "
              + "; ".join(n for n in note if n))
    for entry, problem in problems.items():
        if entry not in rows:
            print(f"{entry:<20} {'-':>7} {'-':>5}  {problem}")
    graded = [o for o in outcomes.values() if o.ok]
    flagged = [o.student for o in outcomes.values() if o.integrity]
    print(f"\n{len(graded)} of {len(students) + len([p for p in problems if p not in students])} graded "
          f"in {grading_seconds:.0f} s; grades: {grades_csv}; feedback: grading/feedback/<student>/{lab}/")
    if flagged:
        print(f"Integrity flags for {len(flagged)} student(s): {', '.join(sorted(flagged))} — see the 'integrity' "
              "column and grading/README.md ('What to do with a flag').")
    if not sandboxed:
        print("WARNING: graded WITHOUT the sandbox: student code could read and change files of this machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
