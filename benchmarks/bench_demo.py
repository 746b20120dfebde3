"""`make bench`: run the demo as a student would and print wall time, peak RAM and its figures.

Speed and memory are measured here, never asserted in tests (timings vary between machines).
"""

from __future__ import annotations

import sys

from _pipeline_run import ROOT, print_rows, run_pipeline

OUT = ROOT / "build" / "bench" / "demo"


def main() -> int:
    run = run_pipeline("demo", OUT)
    if isinstance(run, int):
        return run
    r, wall_s, peak_mb = run
    change = 100 * (r["int8_accuracy"] - r["float_accuracy"])
    rows = [
        ("demo wall time (incl. Python + TensorFlow start)", f"{wall_s:.1f} s"),
        ("demo time reported by the pipeline", f"{r['seconds']:.1f} s"),
        ("  of which training", f"{r['train_seconds']:.1f} s"),
        ("peak RAM (largest process)", f"{peak_mb:,.0f} MB"),
        ("test subjects (never seen in training)", ", ".join(map(str, r["test_subjects"]))),
        ("float accuracy, unseen subjects", f"{r['float_accuracy']:.4f}"),
        ("int8 accuracy in TFLM, unseen subjects", f"{r['int8_accuracy']:.4f}"),
        ("  per test subject", ", ".join(f"{s}: {a:.3f}" for s, a in r["int8_accuracy_per_subject"].items())),
        ("int8 minus float accuracy", f"{change:+.2f} points (negative = lost to int8)"),
        ("TFLM vs LiteRT same class", f"{r['litert_argmax_agreement']:.2%} (max diff "
                                      f"{r['litert_max_output_difference_steps']} step)"),
        ("model size", f"{r['model_bytes']:,} B"),
        ("tensor arena", f"{r['arena_bytes']:,} B ({r['arena_method']}; recorded "
                         f"{r['arena_recorded_bytes']} B)"),
        ("parameters", f"{r['parameters']:,}"),
    ]
    rows += [(f"fit: {bid}", f["message"]) for bid, f in r["boards"].items()]
    print_rows("motion demo", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
