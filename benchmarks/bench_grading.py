"""`make bench` (part 2): autograde 40 submissions of a lab sequentially and in parallel, with
the grading sandbox (bubblewrap) on and off, side by side in one run.

Prints the wall times, the speed-up of the workers and what the sandbox costs. The submissions
are made from the released lab and its solution (most complete, some partial or blank), in a
temporary copy of the course.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from submissions import course_copy, make_submission, run_grade, solution_sources, write  # noqa: E402


def grade(lab: str, subs: pathlib.Path, workers: int, sandboxed: bool = True) -> float:
    """Grade every submission in ``subs`` in a fresh course copy; wall time in s."""
    with tempfile.TemporaryDirectory() as tmp:
        course = course_copy(pathlib.Path(tmp) / "course")
        start = time.perf_counter()
        proc = run_grade(course, lab, "--from", str(subs), "--workers", str(workers),
                         *([] if sandboxed else ["--unsandboxed"]), timeout=None)
        seconds = time.perf_counter() - start
        n = len(list(subs.glob("*.ipynb")))
        if proc.returncode != 0 or f"{n} of {n} graded" not in proc.stdout:
            raise SystemExit(f"grading failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", default="lab01_motion_data")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-sequential", action="store_true", help="skip the 1-worker run (the longest)")
    args = parser.parse_args()
    tasks = sorted(g for g in solution_sources(args.lab))
    with tempfile.TemporaryDirectory() as tmp:
        subs = pathlib.Path(tmp)
        for i in range(args.students):
            solved = "all" if i % 4 else set(tasks[: i % 7])  # 3 in 4 complete, the rest partial
            write(make_submission(args.lab, solved=solved), subs / f"student{i:02d}_{args.lab}.ipynb")
        parallel_on = grade(args.lab, subs, args.workers, sandboxed=True)
        parallel_off = grade(args.lab, subs, args.workers, sandboxed=False)
        sequential = None if args.no_sequential else grade(args.lab, subs, 1, sandboxed=True)
    n = args.students
    print(f"\nTinyML Lab Kit benchmark — autograding {n} submissions of {args.lab}")
    print(f"  parallel ({args.workers} workers), sandbox ON:   {parallel_on:7.1f} s  ({parallel_on / n:.1f} s per student)")
    print(f"  parallel ({args.workers} workers), sandbox OFF:  {parallel_off:7.1f} s  ({parallel_off / n:.1f} s per student)")
    print(f"  cost of the sandbox:                {100 * (parallel_on / parallel_off - 1):+6.1f} %  (target <= 15 %)")
    if sequential is not None:
        print(f"  sequential (1 worker), sandbox ON:   {sequential:7.1f} s  ({sequential / n:.1f} s per student)")
        print(f"  speed-up of {args.workers} workers:               {sequential / parallel_on:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
