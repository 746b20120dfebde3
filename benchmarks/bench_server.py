"""`make bench` (server part, root only): a class of N simulated students (default 40) on the
workshop server (grading/server.py) of this machine, all at once, as at the start of a workshop:

1. every student logs in (their server starts), fetches lab01 and opens it: **time to first notebook**;
2. every student runs lab01's solution, cell by cell, in their kernel at the same time: **time to
   finish lab01** per student;
3. memory (sampled every second): **peak per user** (PSS of their processes) **and in total** (the
   machine's used memory above its use before the class);
4. **failures**: servers that did not start, cells that failed, kernels that died.

From these it prints a capacity rule (students per core and per GB for lab01), which
book/instructor_guide/workshop_server.md quotes. Run: sudo .venv/bin/python benchmarks/bench_server.py
[--students 40]. Accounts are temporary (removed at the end).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import pathlib
import pwd
import signal
import statistics
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "grading"))


class MemorySampler(threading.Thread):
    """Memory of the class, sampled every second: per user, the PSS (proportional set size: shared
    libraries such as TensorFlow's counted once across processes, not once per process as RSS
    would) of all their processes; in total, the machine's used memory above what it used before."""

    def __init__(self, users: list[str]):
        import psutil

        super().__init__(daemon=True)
        self.uids = {pwd.getpwnam(u).pw_uid: u for u in users}
        self.peak_user: dict[str, int] = collections.defaultdict(int)
        self.baseline = psutil.virtual_memory().used
        self.peak_total = 0
        self.stop = threading.Event()

    def run(self):
        import psutil

        while not self.stop.is_set():
            per_user: dict[str, int] = collections.defaultdict(int)
            for proc in psutil.process_iter(["uids"]):
                try:
                    user = self.uids.get(proc.info["uids"].real)
                    if user:
                        per_user[user] += proc.memory_full_info().pss
                except (psutil.Error, TypeError, AttributeError):
                    continue
            for user, pss in per_user.items():
                self.peak_user[user] = max(self.peak_user[user], pss)
            self.peak_total = max(self.peak_total, psutil.virtual_memory().used - self.baseline)
            self.stop.wait(1.0)


def student_session(hub, student: str, lab: str, cells: list[str], start_barrier: threading.Barrier) -> dict:
    """One student's lab: log in, fetch, open, run every cell. Returns the figures and failures."""
    result = {"student": student, "first_notebook_s": None, "lab_s": None, "failure": ""}
    start_barrier.wait()
    t0 = time.perf_counter()
    try:
        hub.start_server(student, timeout=900)
        hub.assignments(student, "fetch", lab)
        hub.get_file(student, f"{lab}/{lab}.ipynb")
        result["first_notebook_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        kernel = hub.kernel(student, lab)
        try:
            for source in cells:
                ran = kernel.run(source, timeout=1800)
                if ran.status != "ok":
                    result["failure"] = f"a cell failed: {ran.ename}: {ran.evalue}"[:200]
                    break
        finally:
            try:
                kernel.close()
            except Exception:
                pass
        result["lab_s"] = time.perf_counter() - t1
    except Exception as exc:  # a benchmark reports every failure and goes on with the class
        result["failure"] = f"{type(exc).__name__}: {exc}"[:300]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--lab", default="lab01_motion_data")
    parser.add_argument("--memory-gb", type=float, default=3.0)
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    args = parser.parse_args()
    from test_server import _why_not, running_class

    reason = _why_not()
    if reason:
        print(f"bench_server: skipped: {reason}")
        return 0
    # Ctrl+C or a kill still removes the temporary class (running_class's cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    solution = json.loads((ROOT / "solutions" / args.lab / f"{args.lab}.ipynb").read_text())
    cells = ["".join(c["source"]) for c in solution["cells"] if c["cell_type"] == "code"]
    cores = os.cpu_count() or 1
    import psutil

    total_gb = psutil.virtual_memory().total / 1024**3
    with running_class(students=args.students, memory_gb=args.memory_gb) as klass:
        hub = klass.hub
        hub.start_server(klass.instructor)
        hub.as_user(klass.instructor, f"/formgrader/api/assignment/{args.lab}/release", "POST", {})
        for student in klass.students:          # tokens first: not part of what a student waits for
            hub.user_token(student)
        sampler = MemorySampler(klass.students)
        sampler.start()
        barrier = threading.Barrier(len(klass.students))
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(klass.students)) as pool:
            results = list(pool.map(lambda s: student_session(hub, s, args.lab, cells, barrier), klass.students))
        wall = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()

    ok = [r for r in results if not r["failure"]]
    first = [r["first_notebook_s"] for r in results if r["first_notebook_s"] is not None]
    lab_times = [r["lab_s"] for r in ok]
    peaks = [sampler.peak_user[s] / 1024**3 for s in sampler.peak_user]
    figures = {
        "students": args.students, "cores": cores, "memory_gb": round(total_gb, 1), "wall_s": round(wall, 1),
        "first_notebook_s": {"median": round(statistics.median(first), 1), "max": round(max(first), 1)} if first else None,
        "lab_s": {"median": round(statistics.median(lab_times), 1), "max": round(max(lab_times), 1)} if lab_times else None,
        "peak_gb_per_user": {"median": round(statistics.median(peaks), 2), "max": round(max(peaks), 2)} if peaks else None,
        "peak_gb_total": round(sampler.peak_total / 1024**3, 2),
        "failures": [f"{r['student']}: {r['failure']}" for r in results if r["failure"]],
    }
    print(f"Workshop server, {args.students} students at once, {args.lab}, {cores} cores, {total_gb:.0f} GB:")
    print(f"  time to first notebook: median {figures['first_notebook_s']}")
    print(f"  time to finish the lab: {figures['lab_s']}")
    print(f"  peak memory per user (GB): {figures['peak_gb_per_user']}, in total {figures['peak_gb_total']} GB")
    print(f"  failures: {len(figures['failures'])} {figures['failures'][:5]}")
    if peaks and lab_times:
        # memory: what the class used in total per student (students do not all peak at the same
        # moment, even when they start together), 2 GB kept for the system and the hub
        per_user = figures["peak_gb_total"] / len(results)
        by_memory = int((total_gb - 2) / per_user)
        cpu_s = statistics.median(lab_times) * min(cores, len(ok)) / max(len(ok), 1)
        figures["rule"] = {"students_per_gb": round(1 / per_user, 2), "students_by_memory": by_memory,
                           "cpu_s_per_student": round(cpu_s, 1)}
        print(f"  capacity: {1 / per_user:.2f} students per GB of RAM ({by_memory} on this machine); "
              f"lab01 costs about {cpu_s:.0f} CPU-s per student, so a class of S students on C cores waits "
              f"about S x {cpu_s:.0f} / C s when everyone runs it at once")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not figures["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
