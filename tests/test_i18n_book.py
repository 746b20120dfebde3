"""The translated books (issue #18): `make book LANG=<lang>` builds from the translated tree, every
page in its language with a language switch, no solution, nothing loaded from another host
(headless Chromium, network blocked, as tests/test_book.py does for English)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tinymlkit import translations as tr

ROOT = pathlib.Path(__file__).resolve().parents[1]
LANGS = list(tr.LANGUAGES)
LABS = sorted(p.name for p in (ROOT / "solutions").glob("lab*") if p.is_dir())
#: Every book is built into build/i18n/<lang>/ (where `make book LANG=…` builds it): all of this file
#: runs on one pytest-xdist worker (`--dist loadfile` in make test, `loadgroup` in make test-i18n),
#: so two workers never write the same tree and each book is built once.
pytestmark = pytest.mark.xdist_group("translated_books")


def _nb(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


#: `make test` builds and checks the Spanish book; `make test-i18n` (TINYMLKIT_TEST_I18N=1) every language.
BOOK_LANGS = LANGS if os.environ.get("TINYMLKIT_TEST_I18N") == "1" else ["es"]


@pytest.fixture(scope="module", params=BOOK_LANGS)
def translated_book(request, tmp_path_factory):
    """The book of one language, built from its translated tree (execution off except the example
    page, as tests/test_book.py does for English)."""
    lang = request.param
    out = tmp_path_factory.mktemp(f"book_{lang}")
    source = ROOT / "build" / "i18n" / lang
    tr.build_tree(lang, source)
    env = dict(os.environ, BOOK_LANG=lang, BOOK_EXECUTE="off", BOOK_EXECUTE_ONLY="book/reading_offline.ipynb",
               BOOK_CACHE=str(out / "cache"))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", "book", str(source),
                           str(out / "html" / lang)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"sphinx-build ({lang}) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return lang, out / "html" / lang


def test_translated_book_builds_with_every_page_in_its_language(translated_book):
    lang, html = translated_book
    index = (html / "book" / "index.html").read_text(encoding="utf-8")
    assert f'lang="{lang.replace("_", "-")}"' in index or f'lang="{lang}"' in index, "Sphinx's language is not set"
    for page in ("modules/00_welcome_and_setup.html", "labs/lab01_motion_data/lab01_motion_data.html",
                 "book/instructor_guide/index.html", "grading/README.html", "hardware/README.html", "README.html"):
        assert (html / page).is_file(), f"the {lang} book has no {page}"
    title = _nb(ROOT / "build" / "i18n" / lang / "modules" / "00_welcome_and_setup.ipynb")["cells"][0]
    heading = _source(title).splitlines()[0].lstrip("# ").strip()
    import html as html_lib

    assert heading in html_lib.unescape((html / "modules" / "00_welcome_and_setup.html").read_text(encoding="utf-8"))
    switch = re.search(r'<nav class="tmk-language-switch".*?</nav>', index, flags=re.S).group(0)
    for code, name in (("en", "English"), ("es", "Español"), ("pt_BR", "Português"), ("fr", "Français")):
        assert name in switch
    assert 'href="../../book/index.html"' in switch, "the switch must lead back to the English book"


def test_translated_book_hides_solutions(translated_book):
    lang, html = translated_book
    for path in html.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".ipynb", ".txt", ".md"):
            text = path.read_text(errors="replace")
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
                assert marker not in text, f"{path}: {marker}"


@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                    reason="Debian's chromium is not installed (scripts/system_deps.sh)")
def test_translated_book_in_chromium_offline(translated_book, tmp_path):
    """As for English: the translated pages render with their navigation and load nothing from
    another host (network blocked)."""
    from urllib.parse import urlparse

    from test_book import LOCAL_HOSTS, _chromium, _Chromium

    lang, html = translated_book
    chrome = _Chromium(_chromium(), tmp_path / "profile")
    try:
        chrome.open((html / "book" / "reading_offline.html").as_uri(),
                    until="document.querySelectorAll('mjx-container').length >= 2")
        for rel in ("book/index.html", "modules/04_signal_processing.html", "labs/lab01_motion_data/lab01_motion_data.html"):
            chrome.open((html / rel).as_uri())
            assert chrome.evaluate("document.documentElement.lang").replace("-", "_").startswith(lang.split("_")[0])
            assert chrome.evaluate("document.querySelector('.tmk-language-switch') !== null")
            assert chrome.evaluate("document.querySelector('.bd-sidebar-primary, nav') !== null")
        outside = sorted({u for u in chrome.requests if urlparse(u).scheme not in ("file", "data", "blob", "about")
                          and (urlparse(u).hostname or "") not in LOCAL_HOSTS})
        assert not outside, f"pages requested other hosts: {outside}"
    finally:
        chrome.close()
