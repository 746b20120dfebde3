"""`make bench`, keyword spotting: run `tinymlkit kws` (the reference synthetic-only model) as a
student would, print wall time, peak RAM and its figures; then time the lab05 solution notebook.

Speed and memory are measured here, never asserted in tests (timings vary between machines).
"""

from __future__ import annotations

import subprocess
import sys
import time

from _pipeline_run import ROOT, print_rows, run_pipeline

OUT = ROOT / "build" / "bench" / "kws"
LAB = ROOT / "solutions" / "lab05_keyword_spotting" / "lab05_keyword_spotting.ipynb"


def main() -> int:
    run = run_pipeline("kws", OUT)
    if isinstance(run, int):
        return run
    r, wall_s, peak_mb = run

    start = time.perf_counter()
    lab = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                          "--execute", "--output-dir", str(OUT), str(LAB)],
                         cwd=LAB.parent, capture_output=True, text=True)
    lab_s = time.perf_counter() - start
    rows = [
        ("tinymlkit kws wall time (incl. Python + TensorFlow start)", f"{wall_s:.1f} s"),
        ("  of which training", f"{r['train_seconds']:.1f} s"),
        ("peak RAM (largest process)", f"{peak_mb:,.0f} MB"),
        ("classes", ", ".join(r["classes"])),
        ("speakers: train / test (split by speaker, per accent)", f"{r['train_speakers']} / {r['test_speakers']}"),
        ("float accuracy, synthetic test speakers", f"{r['float_accuracy']:.4f}"),
        ("int8 accuracy in TFLM, synthetic test speakers", f"{r['int8_accuracy']:.4f}"),
        ("float minus int8", f"{r['accuracy_drop_points']:+.2f} points"),
        ("  per voice (int8)", ", ".join(f"{v}: {a:.2f}" for v, a in sorted(r["accuracy_by_voice"].items()))),
        ("real voice (Allison, 10 digits)", f"{r['real_voice_correct']} of {r['real_voice_clips']}: "
         + ", ".join(f"{w}→{p}" for w, p in r["real_voice_predictions"].items())),
        ("FA / FR at probability 0.5", f"{r['false_accept_rate_at_0.5']:.1%} / {r['false_reject_rate_at_0.5']:.1%}"),
        ("model size / in flash", f"{r['model_bytes']:,} B / {r['model_flash_bytes']:,} B (target ≤ 18 KB)"),
        ("tensor arena", f"{r['arena_bytes']:,} B ({r['arena_method']}; target ≤ 10 KB)"),
        ("parameters", f"{r['parameters']:,}"),
        ("lab05 solution notebook, executed", f"{lab_s:.1f} s ({'ok' if lab.returncode == 0 else 'FAILED'}; target ≤ 90 s)"),
    ]
    print_rows("keyword spotting", rows)
    if lab.returncode != 0:
        print(lab.stderr[-2000:])
    return lab.returncode


if __name__ == "__main__":
    sys.exit(main())
