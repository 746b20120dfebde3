"""Make the course's shipped real-voice digit set, ``tinymlkit/data/keywords/fsdd/``.

Reads three speakers of the Free Spoken Digit Dataset (``recordings/{digit}_{speaker}_{index}.wav``,
8 kHz mono PCM16; the maintainers' copy is ``../shared/data/fsdd_three_speakers/recordings.tar.gz``)
with :func:`tinymlkit.datasets.load_fsdd` — resampled to 16 kHz, centred by energy in 1 s, levels
unchanged — and writes every clip as Ogg Opus (libsndfile's default bitrate, about 3 KB a clip,
as the synthetic set) with a ``manifest.csv`` that :func:`tinymlkit.datasets.load_keyword_clips`
reads: ``path, label, speaker_id, voice, take``. ``voice`` is the speaker's accent from FSDD's
``metadata.py``; ``take`` is FSDD's recording index (0-49), for splits that hold back takes.
Maintainers run it once and commit the output beside its ``DATACARD.md``; students never need it.

    python scripts/make_fsdd_keywords.py [--source ../shared/data/fsdd_three_speakers/recordings.tar.gz]
"""

from __future__ import annotations

import argparse
import csv
import io
import pathlib
import re
import shutil
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinymlkit.audio_sources import load_fsdd  # noqa: E402

#: The speakers' accents, from FSDD's ``metadata.py`` (commit 26eb9aa).
ACCENTS = {"jackson": "en-US", "nicolas": "en-BE-fr", "lucas": "en-DE"}
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def main(argv=None) -> int:
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path,
                        default=ROOT.parent / "shared" / "data" / "fsdd_three_speakers" / "recordings.tar.gz")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "tinymlkit" / "data" / "keywords" / "fsdd")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.source) as tar:
            tar.extractall(tmp, filter="data")
        clips = load_fsdd(tmp)
        takes = sorted((m[2], int(m[1]), int(m[3])) for m in
                       (_NAME.match(p.name) for p in (pathlib.Path(tmp) / "recordings").glob("*.wav")))
    keep = {"DATACARD.md", "LICENSE-CC-BY-SA-4.0.txt"}
    if args.out.exists():
        for p in args.out.iterdir():
            if p.name not in keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    rows = []
    for audio, label, speaker, (speaker2, _, take) in zip(clips.audio, clips.labels, clips.speaker_ids, takes):
        assert speaker == speaker2, (speaker, speaker2)  # load_fsdd sorts by speaker, digit, index
        rel = f"{label}/{label}.{speaker}.{take:02d}.opus"
        (args.out / label).mkdir(parents=True, exist_ok=True)
        sf.write(args.out / rel, audio, clips.sample_rate_hz, format="OGG", subtype="OPUS")
        rows.append({"path": rel, "label": label, "speaker_id": speaker, "voice": ACCENTS[speaker],
                     "take": take})
    with (args.out / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(rows)} clips of {len(ACCENTS)} speakers, {size / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
