"""`make bench` (part 2): autograde 40 submissions of a lab sequentially and in parallel.

Prints both wall times and the speed-up. The submissions are made from the released lab and its
solution (most complete, some partial or blank), in a temporary copy of the course.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from submissions import make_submission, solution_sources, write  # noqa: E402


def grade(lab: str, subs: pathlib.Path, workers: int) -> float:
    """Grade every submission in ``subs`` in a fresh course copy; wall time in s."""
    with tempfile.TemporaryDirectory() as tmp:
        course = pathlib.Path(tmp)
        for folder in ("solutions", "labs"):
            shutil.copytree(ROOT / folder, course / folder)
        (course / "grading").mkdir()
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "grading" / "grade.py"), lab, "--from", str(subs),
                               "--workers", str(workers), "--root", str(course), "--no-progress"],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0 or f"of {len(list(subs.glob('*.ipynb')))} graded" not in proc.stdout:
            raise SystemExit(f"grading failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", default="lab01_motion_data")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    tasks = sorted(g for g in solution_sources(args.lab))
    with tempfile.TemporaryDirectory() as tmp:
        subs = pathlib.Path(tmp)
        for i in range(args.students):
            solved = "all" if i % 4 else set(tasks[: i % 7])  # 3 in 4 complete, the rest partial
            write(make_submission(args.lab, solved=solved), subs / f"student{i:02d}_{args.lab}.ipynb")
        sequential = grade(args.lab, subs, 1)
        parallel = grade(args.lab, subs, args.workers)
    print(f"\nTinyML Lab Kit benchmark — autograding {args.students} submissions of {args.lab}")
    print(f"  sequential (1 worker):      {sequential:7.1f} s  ({sequential / args.students:.1f} s per student)")
    print(f"  parallel ({args.workers} workers):      {parallel:7.1f} s  ({parallel / args.students:.1f} s per student)")
    print(f"  speed-up:                   {sequential / parallel:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
