"""Make the course's real-voice keyword test set from Debian's asterisk-core-sounds-en-wav.

Reads the ten digit prompts of Allison Smith (``/usr/share/asterisk/sounds/en_US_f_Allison/digits/
0.wav`` … ``9.wav``: 8 kHz mono PCM16, CC BY-SA 3.0), resamples them to 16 kHz
(``scipy.signal.resample_poly``, so nothing above 4 kHz: telephone bandwidth), centres each in a 1 s
clip exactly as synthesised keywords are, and writes
``tinymlkit/data/keywords/real_voice/<word>/<word>.allison.wav`` + ``manifest.csv`` and the
license text taken from the package's copyright file. Maintainers run it once
(``apt-get install asterisk-core-sounds-en-wav``); the output is committed with its data card.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinymlkit.keywords import KEYWORD_SAMPLE_RATE_HZ, fit_clip  # noqa: E402  (maintainer script)

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SOURCE = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")
COPYRIGHT = pathlib.Path("/usr/share/doc/asterisk-core-sounds-en-wav/copyright")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "tinymlkit/data/keywords/real_voice")
    args = ap.parse_args(argv)
    if not SOURCE.is_dir():
        print(f"{SOURCE} not found: sudo apt-get install asterisk-core-sounds-en-wav", file=sys.stderr)
        return 1
    rows = ["path,label,speaker_id,engine,voice,variant,pitch,speed_wpm"]
    for k, word in enumerate(DIGITS):
        audio, rate = sf.read(SOURCE / f"{k}.wav", dtype="float32")
        clip = fit_clip(audio, rate, KEYWORD_SAMPLE_RATE_HZ)  # level kept as recorded
        rel = f"{word}/{word}.allison.wav"
        (args.out / word).mkdir(parents=True, exist_ok=True)
        sf.write(args.out / rel, clip, KEYWORD_SAMPLE_RATE_HZ, subtype="PCM_16")
        rows.append(f"{rel},{word},allison,human,en-US,,0,0")
    (args.out / "manifest.csv").write_text("\n".join(rows) + "\n")
    text = COPYRIGHT.read_text()
    license_text = re.search(r"^License: CC-BY-SA-3\.0\n( THE WORK.*?)(?=^License: |\Z)", text, re.S | re.M).group(1)
    (args.out / "LICENSE-CC-BY-SA-3.0.txt").write_text(
        "Audio: Copyright 2003-2010 Allison Smith (http://www.theivrvoice.com), asterisk-core-sounds "
        "(financial contributions by Digium, Inc.).\nLicense: CC-BY-SA-3.0, full text as in Debian's "
        f"{COPYRIGHT}:\n\n" + "\n".join(line[1:] if line.startswith(" ") else line
                                        for line in license_text.splitlines()).replace("\n.\n", "\n\n"))
    print(f"wrote {len(DIGITS)} clips, manifest.csv and the license to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
