"""`make bench`, keyword spotting: run `tinymlkit kws` (the reference model) as a student would and
print wall time, peak RAM and its figures; the real-voice ablation (what each step of the recipe
gives, leave-one-speaker-out on the shipped real speakers); a simulated class (the three shipped
speakers pooled as a workshop class, tested on held-back takes); then time the lab05 solution.

Speed and memory are measured here, never asserted in tests (timings vary between machines).

    python benchmarks/bench_kws.py [--skip-ablation] [--skip-class]
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from _pipeline_run import ROOT, print_rows, run_pipeline

OUT = ROOT / "build" / "bench" / "kws"
LAB = ROOT / "solutions" / "lab05_keyword_spotting" / "lab05_keyword_spotting.ipynb"


def ablation_configs():
    """``(step, KwsConfig)`` rows: each adds one thing to the row above; the last but one is the
    default, the last a step that was tried and not kept."""
    from tinymlkit.features import KitAudioConfig
    from tinymlkit.pipeline import KwsConfig

    full = KwsConfig()
    return [
        ("synthetic voices only (the earlier model)",
         dataclasses.replace(full, real_speakers=(), kit_audio=None, upper_band_hz=7500.0, stream_share=0.0)),
        ("+ the two other real speakers",
         dataclasses.replace(full, kit_audio=None, upper_band_hz=7500.0, stream_share=0.0)),
        ("+ filterbank 125-4000 Hz (8 kHz and 16 kHz look alike)",
         dataclasses.replace(full, kit_audio=None, stream_share=0.0)),
        ("+ simulated rooms and the MEMS microphone", dataclasses.replace(full, stream_share=0.0)),
        ("+ half the copies through a continuous frontend (the default)", full),
        ("+ pitch shift ±3 semitones (tried, not kept)",
         dataclasses.replace(full, kit_audio=KitAudioConfig(pitch_probability=0.8))),
    ]


def run_ablation() -> list[tuple[str, str]]:
    """Run every ablation row (about 4 minutes each on 2 cores) and return printable rows."""
    import tinymlkit as tk

    tk.import_tensorflow_quietly()
    rows = []
    for name, config in ablation_configs():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            r = tk.pipeline.run_kws(tmp, config, progress=False, log=lambda s: None)
            seconds = time.perf_counter() - start
        by = r["real_voice_accuracy_by_speaker"]
        streamed = r["real_voice_accuracy_continuous_frontend_by_speaker"]
        kit = f"{sum(streamed.values()) / len(streamed):.3f}" if streamed else "n/a"
        rows.append((name, f"real {r['real_voice_accuracy_mean']:.3f} ("
                     + ", ".join(f"{s} {a:.2f}" for s, a in by.items())
                     + f"), continuous frontend {kit}; synthetic {r['int8_accuracy']:.3f}; "
                     f"Allison {r['real_voice_correct']}/10; {seconds:.0f} s"))
        print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)
    return rows


def run_class() -> list[tuple[str, str]]:
    """The three shipped real speakers as a class: each records all 50 takes of every digit with
    consent, the instructor pools them, `run_kws(extra=...)` trains on synthetic voices + the class
    and tests every 5th take of each speaker and word (10 per digit and speaker)."""
    import tinymlkit as tk

    tk.import_tensorflow_quietly()
    real = tk.datasets.load_real_digits()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for student in sorted(set(real.speaker_ids)):
            folder = tmp / "submitted" / student / "recordings"
            tk.capture.record_consent(folder, "p01", uses=("class-model",))
            for audio, label, speaker in zip(real.audio, real.labels, real.speaker_ids):
                if speaker == student:
                    tk.capture.save_keyword_clip(folder, audio, label, "p01", source="fsdd")
        tk.capture.pool_keyword_recordings([tmp / "submitted"], tmp / "class_keywords")
        start = time.perf_counter()
        config = tk.pipeline.KwsConfig(real_speakers=())  # the class is the only real data
        r = tk.pipeline.run_kws(tmp / "out", config, extra=tmp / "class_keywords", progress=False,
                                log=lambda s: None)
        seconds = time.perf_counter() - start
    return [("class of 3 (shipped speakers), held-back takes",
             f"{r['class_accuracy_mean']:.3f} (" + ", ".join(f"{s} {a:.2f}" for s, a in
                                                         r["class_accuracy_by_speaker"].items())
             + f"; target ≥ 0.92); synthetic {r['int8_accuracy']:.3f}; {seconds:.0f} s")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument("--skip-class", action="store_true")
    args = parser.parse_args(argv)
    run = run_pipeline("kws", OUT)
    if isinstance(run, int):
        return run
    r, wall_s, peak_mb = run
    by = r["real_voice_accuracy_by_speaker"]
    rows = [
        ("tinymlkit kws wall time (incl. Python + TensorFlow start)", f"{wall_s:.1f} s (target ≤ 180 s)"),
        ("  of which training the shipped model", f"{r['train_seconds']:.1f} s"),
        ("peak RAM (largest process)", f"{peak_mb:,.0f} MB"),
        ("classes", ", ".join(r["classes"])),
        ("training clips incl. augmented copies", f"{r['training_clips_with_copies']:,}"),
        ("real voices never heard (leave-one-speaker-out, int8 TFLM)",
         f"mean {r['real_voice_accuracy_mean']:.4f} (target ≥ 0.75): "
         + ", ".join(f"{s} {a:.3f}" for s, a in by.items())),
        ("  the same through the kit's continuous frontend",
         ", ".join(f"{s} {a:.3f}" for s, a in r["real_voice_accuracy_continuous_frontend_by_speaker"].items())),
        ("synthetic speakers: train / test (split by speaker, per accent)", f"{r['train_speakers']} / {r['test_speakers']}"),
        ("float accuracy, synthetic test speakers", f"{r['float_accuracy']:.4f}"),
        ("int8 accuracy in TFLM, synthetic test speakers", f"{r['int8_accuracy']:.4f}"),
        ("float minus int8", f"{r['accuracy_drop_points']:+.2f} points"),
        ("  per voice (int8)", ", ".join(f"{v}: {a:.2f}" for v, a in sorted(r["accuracy_by_voice"].items()))),
        ("Allison (10 digits, never heard)", f"{r['real_voice_correct']} of {r['real_voice_clips']}: "
         + ", ".join(f"{w}→{p}" for w, p in r["real_voice_predictions"].items())),
        ("FA / FR at probability 0.5", f"{r['false_accept_rate_at_0.5']:.1%} / {r['false_reject_rate_at_0.5']:.1%}"),
        ("model size / in flash", f"{r['model_bytes']:,} B / {r['model_flash_bytes']:,} B (target ≤ 18 KB)"),
        ("tensor arena", f"{r['arena_bytes']:,} B ({r['arena_method']}; target ≤ 10 KB)"),
        ("parameters", f"{r['parameters']:,}"),
    ]
    print_rows("keyword spotting", rows)

    if not args.skip_ablation:
        print("\nReal-voice ablation (each row adds one step; leave-one-speaker-out, int8 in TFLM):", flush=True)
        print_rows("keyword spotting ablation", run_ablation())
    if not args.skip_class:
        print_rows("keyword spotting, a class's own recordings", run_class())

    start = time.perf_counter()
    lab = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                          "--execute", "--output-dir", str(OUT), str(LAB)],
                         cwd=LAB.parent, capture_output=True, text=True)
    lab_s = time.perf_counter() - start
    print_rows("keyword spotting lab", [
        ("lab05 solution notebook, executed", f"{lab_s:.1f} s ({'ok' if lab.returncode == 0 else 'FAILED'}; target ≤ 90 s)"),
        ("peak RAM of this benchmark process (ablation + class runs)",
         f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")])
    if lab.returncode != 0:
        print(lab.stderr[-2000:])
    return lab.returncode


if __name__ == "__main__":
    sys.exit(main())
