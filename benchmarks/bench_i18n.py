"""`make bench`: the translations (issue #18). Prints catalogue coverage per language (the share of
English words whose translation is complete, not fuzzy, for the current English text), overall and
for the documents that must be complete (modules 00-05, labs 01-06, the instructor's guide), the
per-document coverage below 100 %, and the time to build one translated tree and to regenerate one
language's labs with nbgrader. Targets (issue #18): 100 % for the priority documents, >= 95 %
overall. Measured here, never asserted in tests (tests/test_i18n.py checks completeness)."""

from __future__ import annotations

import shutil
import sys
import time

from _pipeline_run import ROOT, print_rows


def main() -> int:
    from tinymlkit import translations as tr

    rows = []
    for lang, name in tr.LANGUAGES.items():
        c = tr.coverage(lang)
        rows.append((f"{lang} ({name}) catalogue coverage",
                     f"{c['overall']:.1%} of {c['words']:,} English words; priority documents {c['priority']:.1%}"))
        rows += [(f"  {document}", f"{share:.1%}") for document, share in c["documents"].items() if share < 1.0]
        pkg = tr.catalogue_status(tr.read_catalogue(
            ROOT / "tinymlkit" / "locale" / lang / "LC_MESSAGES" / "tinymlkit.po", lang))
        rows.append((f"  package messages (doctor, CLI, widgets)", f"{pkg['translated']} of {pkg['messages']}"))
    out = ROOT / "build" / "bench" / "i18n"
    t0 = time.perf_counter()
    tr.build_tree("es", out / "tree")
    rows.append(("build one translated tree (es: modules, labs, book pages)", f"{time.perf_counter() - t0:.1f} s"))
    t0 = time.perf_counter()
    tr.release_labs("es", release_dir=out / "labs")
    rows.append(("regenerate one language's labs with nbgrader (es, 7 labs)", f"{time.perf_counter() - t0:.1f} s"))
    shutil.rmtree(out, ignore_errors=True)
    print_rows("Translations (es, pt_BR, fr)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
