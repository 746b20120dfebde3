"""Make the course's shipped synthetic keyword set, ``tinymlkit/data/keywords/synthetic/``.

Says the ten digits with every speaker of ``speaker_settings(n_espeak=20, seed=2026)`` (12 espeak-ng
accents × 20 voice settings + 5 flite voices = 245 speakers) and ten "unknown" words (Speech
Commands' core words that are not digits) with 5 speakers per accent + the flite voices, using
:func:`tinymlkit.datasets.synthesize_keywords` with Ogg Opus clips (about 3 KB each) so the whole
set stays under 10 MB. Maintainers run it once (``apt-get install espeak-ng flite``; ~2 minutes)
and commit the output with its data card; students never need the engines.

    python scripts/make_synthetic_keywords.py [--out tinymlkit/data/keywords/synthetic]
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinymlkit.keywords import (DIGIT_WORDS, UNKNOWN_WORDS, speaker_settings,  # noqa: E402
                                 synthesize_keywords)

SEED = 2026
SPEAKERS_PER_ACCENT = 20
UNKNOWN_SPEAKERS_PER_ACCENT = 5


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path,
                        default=ROOT / "tinymlkit" / "data" / "keywords" / "synthetic")
    args = parser.parse_args(argv)
    speakers = speaker_settings(n_espeak=SPEAKERS_PER_ACCENT, seed=SEED)
    by_accent: dict[str, list] = {}
    for s in speakers:
        by_accent.setdefault(s.voice if s.engine == "espeak-ng" else "flite", []).append(s)
    unknown_speakers = [s for group, ss in by_accent.items()
                        for s in (ss if group == "flite" else ss[:UNKNOWN_SPEAKERS_PER_ACCENT])]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        rows = []
        for name, words, who in (("digits", DIGIT_WORDS, speakers),
                                 ("unknown", UNKNOWN_WORDS, unknown_speakers)):
            manifest = synthesize_keywords(words, tmp / name, speakers=who, audio_format="opus")
            with manifest.open(newline="") as f:
                rows += [(name, r) for r in csv.DictReader(f)]
        keep = {"DATACARD.md", "LICENSE.md"}
        if args.out.exists():
            for p in args.out.iterdir():
                if p.name not in keep:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        args.out.mkdir(parents=True, exist_ok=True)
        for name, r in rows:
            dst = args.out / r["path"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp / name / r["path"], dst)
        with (args.out / "manifest.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0][1]))
            writer.writeheader()
            writer.writerows(r for _, r in rows)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(rows)} clips from {len(speakers)} speakers, {size / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
