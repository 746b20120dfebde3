"""`make bench`: run the anomaly track (`tinymlkit anomaly`) as a student would and print wall
time, peak RAM and its figures (AUC of K-means and of the float and int8 autoencoders on unseen
people, per kind of anomaly; false alarms per hour; the ECG excerpt's AUC; bytes and arena), then
the leave-one-exercise-out table: the K-means AUC when each exercise alone is the anomaly.
Measured here, never asserted in tests."""

from __future__ import annotations

import sys
import time

from _pipeline_run import ROOT, print_rows, run_pipeline

OUT = ROOT / "build" / "bench" / "anomaly"


def _leave_one_exercise_out() -> list[tuple[str, str]]:
    """K-means AUC (normal vs that exercise by unseen people) with each exercise held out alone."""
    from tinymlkit.anomaly import leave_one_exercise_out

    t0 = time.perf_counter()
    aucs = leave_one_exercise_out()
    seconds = time.perf_counter() - t0
    return [(f"  K-means, {code} held out alone", f"AUC {auc:.3f}") for code, auc in aucs.items()] + \
        [("  leave-one-exercise-out, all seven", f"{seconds:.1f} s")]


def main() -> int:
    run = run_pipeline("anomaly", OUT)
    if isinstance(run, int):
        return run
    r, wall_s, peak_mb = run
    m, e = r["motion"], r["ecg"]
    rows = [
        ("anomaly wall time (incl. Python + TensorFlow start)", f"{wall_s:.1f} s"),
        ("anomaly time reported by the pipeline", f"{r['seconds']:.1f} s"),
        ("  of which autoencoder training", f"{r['train_seconds']:.1f} s"),
        ("peak RAM (largest process)", f"{peak_mb:,.0f} MB"),
        ("motion data", f"{m['train_windows']} normal training, {m['validation_windows']} validation, "
                        f"{m['test_windows']} test windows ({m['test_anomalous']} anomalous)"),
        ("threshold target", f"{m['false_alarm_rate_target']:.3%} of normal validation windows (10 per hour)"),
    ]
    for name in ("kmeans", "autoencoder_float", "autoencoder_int8"):
        s = m[name]
        rows.append((f"motion {name}: AUC, found, false alarms/h",
                     f"{s['auc']:.3f}; {s['detection_rate']:.1%}; {s['false_alarms_per_hour']:.1f} per hour"))
        rows += [(f"  {name} AUC {kind}", f"{auc:.3f} (found {s['detection_by_kind'][kind]:.0%})")
                 for kind, auc in s["auc_by_kind"].items()]
    for name in ("kmeans", "autoencoder_float"):
        rows.append((f"ECG {name}: AUC on the last 25 %", f"{e[name]['auc']:.3f} ({e['test_beats']} beats, "
                                                          f"{e['test_anomalous']} anomalous)"))
    rows += [
        ("autoencoder parameters", f"{r['parameters']:,}"),
        ("model size", f"{r['model_bytes']:,} B (flash {r['model_flash_bytes']:,} B)"),
        ("tensor arena", f"{r['arena_bytes']:,} B ({r['arena_method']})"),
        ("sketch buffers (window + settings)", f"{r['buffer_bytes']:,} B"),
    ]
    rows += [(f"fit: {bid}", f["message"]) for bid, f in r["boards"].items()]
    rows += _leave_one_exercise_out()
    print_rows("anomaly", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
