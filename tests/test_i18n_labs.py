"""The translated labs (issue #18) are made like the English ones: `make release` runs nbgrader on
the translated solutions; the model answers pass `nbgrader validate` and the student versions fail
it. `make test` validates one lab (``SAMPLED``); `make test-i18n` all of them
(TINYMLKIT_TEST_I18N=1). Split from tests/test_i18n.py so that pytest-xdist's two workers share
the load (--dist loadfile)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tinymlkit import translations as tr

ROOT = pathlib.Path(__file__).resolve().parents[1]
LANGS = list(tr.LANGUAGES)
LABS = sorted(p.name for p in (ROOT / "solutions").glob("lab*") if p.is_dir())
FULL = os.environ.get("TINYMLKIT_TEST_I18N") == "1"
#: What `make test` validates within its 30 minutes: the lab that runs fastest, in Spanish (the other
#: languages' code cells are checked cell by cell against English in every run). `make test-i18n`
#: validates every lab in every language.
SAMPLED = {"es": "lab01_motion_data"}
i18n_full = pytest.mark.skipif(not FULL, reason="run by `make test-i18n` (TINYMLKIT_TEST_I18N=1)")


# --- Translated labs: made by nbgrader like the English ones -------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_translated_labs_are_not_stale(lang, tmp_path):
    """labs/<lang>/ is what `make release` makes from solutions/ and i18n/<lang>/ (byte for byte)."""
    fresh = tr.release_labs(lang, release_dir=tmp_path / lang, work_dir=tmp_path / "nbgrader")
    assert len(fresh) == len(LABS)
    for path in fresh:
        committed = ROOT / "labs" / lang / path.parent.name / path.name
        assert committed.is_file(), f"{committed} is missing: run `make release`"
        assert path.read_bytes() == committed.read_bytes(), \
            f"{committed.relative_to(ROOT)} differs from solutions/ + i18n/{lang}/: run `make release` and commit labs/"


@pytest.mark.parametrize("lang", LANGS)
def test_translated_student_labs_hide_the_answers(lang):
    for lab in LABS:
        text = (ROOT / "labs" / lang / lab / f"{lab}.ipynb").read_text(encoding="utf-8")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
            assert marker not in text, f"labs/{lang}/{lab} contains '{marker}'"
        nb = json.loads(text)
        assert nb["metadata"]["tinymlkit"]["language"] == lang


def _validate(path: pathlib.Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", "validate", *flags, str(path)], cwd=ROOT / "grading",
                          capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("lang, lab", [(lang, lab) for lang, lab in SAMPLED.items()])
def test_sampled_translated_solution_passes_and_student_lab_fails_validation(lang, lab):
    _check_validation(lang, lab)


@i18n_full
@pytest.mark.parametrize("lang, lab", [(lang, lab) for lang in LANGS for lab in LABS if SAMPLED.get(lang) != lab])
def test_every_translated_solution_passes_and_student_lab_fails_validation(lang, lab):
    _check_validation(lang, lab)


def _check_validation(lang: str, lab: str) -> None:
    """As for English (tests/test_labs.py): the translated model answer passes `nbgrader validate`,
    the translated student version fails it (`--invert` succeeds)."""
    course = ROOT / "build" / "i18n" / "nbgrader" / lang
    solution = course / "solutions" / lab / f"{lab}.ipynb"
    if not solution.is_file():
        tr.release_labs(lang, [lab], release_dir=ROOT / "build" / "i18n" / "release-check" / lang)
    proc = _validate(solution)
    assert proc.returncode == 0 and "Success" in proc.stdout, f"{lang} {lab}:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    proc = _validate(ROOT / "labs" / lang / lab / f"{lab}.ipynb", "--invert")
    assert proc.returncode == 0, f"{lang} {lab} student version passes validation:\n{proc.stdout[-2000:]}"


