"""`make bench`: run the vision track (`tinymlkit vision`) as a student would and print wall time,
peak RAM and its figures (Fashion-MNIST accuracy float and int8 in TFLM, bytes, arena; person
detection's arena and fit). Measured here, never asserted in tests."""

from __future__ import annotations

import sys

from _pipeline_run import ROOT, print_rows, run_pipeline

OUT = ROOT / "build" / "bench" / "vision"


def main() -> int:
    run = run_pipeline("vision", OUT)
    if isinstance(run, int):
        return run
    r, wall_s, peak_mb = run
    p = r["person_detection"]
    rows = [
        ("vision wall time (incl. Python + TensorFlow start)", f"{wall_s:.1f} s"),
        ("vision time reported by the pipeline", f"{r['seconds']:.1f} s"),
        ("  of which training", f"{r['train_seconds']:.1f} s"),
        ("peak RAM (largest process)", f"{peak_mb:,.0f} MB"),
        ("data", f"{r['dataset']['source']}: {r['train_images']:,} train, {r['test_images']:,} test images"),
        ("float accuracy, Fashion-MNIST test", f"{r['float_accuracy']:.4f}"),
        ("int8 accuracy in TFLM", f"{r['int8_accuracy']:.4f} ({-r['accuracy_drop_points']:+.2f} points)"),
        ("TFLM vs LiteRT same class", f"{r['litert_argmax_agreement']:.2%}"),
        ("model size", f"{r['model_bytes']:,} B (flash {r['model_flash_bytes']:,} B)"),
        ("tensor arena", f"{r['arena_bytes']:,} B ({r['arena_method']})"),
        ("parameters", f"{r['parameters']:,}"),
        ("person detection: model, arena", f"{p['model_bytes']:,} B, {p['arena_bytes']:,} B "
                                           f"(example budget {p['example_arena_bytes']:,} B)"),
        ("person detection on its reference images", "right" if p["reference_correct"] else "WRONG"),
    ]
    rows += [(f"fit, classifier: {bid}", f["message"]) for bid, f in r["boards"].items()]
    rows += [(f"fit, person detection: {bid}", f["message"]) for bid, f in p["boards"].items()]
    print_rows("vision", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
