"""The course in Spanish, Portuguese and French (issue #18): one English source, gettext catalogues,
translated notebooks, labs, book and messages.

The translated labs' generation and validation are in tests/test_i18n_labs.py, the translated
books in tests/test_i18n_book.py. `make test-i18n` adds every translated solution under nbval and
validates every translated lab (TINYMLKIT_TEST_I18N=1).
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tinymlkit import i18n
from tinymlkit import translations as tr

ROOT = pathlib.Path(__file__).resolve().parents[1]
LANGS = list(tr.LANGUAGES)
DOCUMENTS = tr.source_documents()
LABS = sorted(p.name for p in (ROOT / "solutions").glob("lab*") if p.is_dir())


def _nb(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """The translated course of every language, built once (tinymlkit translations build)."""
    # one folder per pytest-xdist worker (`make test-i18n` spreads this file's tests over both), at
    # the depth of build/i18n/<lang> so that relocated relative paths are the same
    where = ROOT / "build" / f"i18n-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    out = {}
    for lang in LANGS:
        out[lang] = tr.build_tree(lang, where / lang)
    yield out
    shutil.rmtree(where, ignore_errors=True)


# --- Catalogues --------------------------------------------------------------------------------

def test_every_english_document_has_a_catalogue_per_language():
    assert len(DOCUMENTS) >= 40, DOCUMENTS
    for pattern in ("modules/00_welcome_and_setup.ipynb", "solutions/lab01_motion_data/lab01_motion_data.ipynb",
                    "book/instructor_guide/index.md", "grading/README.md", "README.md", "hardware/README.md"):
        assert pattern in DOCUMENTS
    missing = [str(tr.catalogue_path(d, lang)) for lang in LANGS for d in DOCUMENTS
               if not tr.catalogue_path(d, lang).is_file()]
    assert not missing, f"run `make i18n-update`: no catalogue {missing[:5]}"
    stale = [p for lang in LANGS for p in (tr.I18N_DIR / lang / "LC_MESSAGES").rglob("*.po")
             if str(p.relative_to(tr.I18N_DIR / lang / "LC_MESSAGES").with_suffix("")) not in
             {str(pathlib.PurePosixPath(d).with_suffix("")) for d in DOCUMENTS}]
    assert not stale, f"catalogues whose English document is gone: {stale}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_catalogue_is_complete_and_correct(lang, document):
    """Every English message of the document has a translation that is neither empty nor fuzzy,
    keeps its placeholders, numbers, code and links, uses the glossary's terms, and leaves the code
    of every code cell as it is (tinymlkit.translations.check_catalogue)."""
    faults = tr.check_catalogue(document, lang)
    assert not faults, f"{len(faults)} fault(s):\n" + "\n".join(faults[:15])


@pytest.mark.parametrize("lang", LANGS)
def test_package_messages_are_translated(lang):
    faults = tr.check_package_catalogue(lang)
    assert not faults, "\n".join(faults[:15])


def test_a_changed_english_cell_marks_its_translations_fuzzy(tmp_path):
    """Edit one markdown cell of a module: after `make i18n-update` its translation is fuzzy (kept as
    a hint), the check names the cell, and the translated notebook shows English there until a
    translator revises it."""
    document = "modules/00_welcome_and_setup.ipynb"
    (tmp_path / "modules").mkdir()
    nb = _nb(ROOT / document)
    index = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown" and
                 len(_source(c)) > 200)
    cell = nb["cells"][index]
    first_block = _source(cell).split("\n\n")[0]
    changed = first_block.replace(" the ", " the very ", 1) if " the " in first_block else first_block + " Now."
    cell["source"] = _source(cell).replace(first_block, changed, 1)
    (tmp_path / document).write_text(json.dumps(nb), encoding="utf-8")
    i18n_dir = tmp_path / "i18n"
    shutil.copytree(tr.I18N_DIR / "es", i18n_dir / "es")
    shutil.copy(tr.I18N_DIR / "es" / "glossary.csv", i18n_dir / "es" / "glossary.csv")
    assert tr.check_catalogue(document, "es", root=tmp_path, i18n_dir=i18n_dir) != []  # not yet merged
    tr.update_catalogues(["es"], [document], root=tmp_path, i18n_dir=i18n_dir)
    faults = tr.check_catalogue(document, "es", root=tmp_path, i18n_dir=i18n_dir)
    assert len(faults) == 1 and "fuzzy" in faults[0] and f"cell {index}" in faults[0], faults
    entry = tr.read_catalogue(tr.catalogue_path(document, "es", i18n_dir), "es").get(changed)
    assert entry is not None and entry.fuzzy and entry.string, "the old translation is kept as a hint"
    built = json.loads(tr.translate_document(document, "es", tmp_path, i18n_dir))
    assert changed in _source(built["cells"][index]), "a fuzzy translation must not be shown"


def test_placeholder_and_glossary_checks_catch_real_faults():
    glossary = tr.load_glossary("es")
    assert tr.placeholder_faults("got {n} windows", "obtuve ventanas") == ["keep '{n}' as in English"]
    assert tr.placeholder_faults("run `make test` for 30 s", "ejecuta make test por 30 s") == \
        ["keep '`make test`' as in English"]
    assert tr.placeholder_faults("16,000 samples", "16.000 muestras") == []
    assert tr.placeholder_faults("16,000 samples", "1600 muestras") != []
    assert tr.glossary_faults("the tensor arena holds", "el área de trabajo guarda", glossary) == \
        ["tensor arena → arena de tensores", "tensor → tensor"]
    assert tr.glossary_faults("Windows laptops", "laptops con Windows", glossary) == []


@pytest.mark.parametrize("lang", LANGS)
def test_glossary_fixes_the_fields_terms(lang):
    terms = {t.term: t for t in tr.load_glossary(lang)}
    for term in ("tensor arena", "representative dataset", "zero point", "window", "stride", "microfrontend",
                 "PTQ", "QAT", "flash", "RAM", "quantization", "accuracy", "confusion matrix", "log-mel"):
        assert term in terms, f"i18n/{lang}/glossary.csv has no row for {term!r}"
    for kept in ("PTQ", "QAT", "RAM", "microfrontend", "log-mel"):
        assert terms[kept].translation == kept, f"{kept} is a name: keep it in {lang}"
    rows = list(csv.DictReader((tr.I18N_DIR / lang / "glossary.csv").open(encoding="utf-8")))
    assert [r["term"] for r in rows] == list(terms), "one row per term"


# --- Translated notebooks ------------------------------------------------------------------------

def _translated_notebooks(tree: pathlib.Path, lang: str):
    """(English path, translated path) of every translated notebook: the tree's and labs/<lang>/."""
    for path in sorted(tree.rglob("*.ipynb")):
        yield ROOT / path.relative_to(tree), path
    for lab in LABS:
        yield ROOT / "labs" / lab / f"{lab}.ipynb", ROOT / "labs" / lang / lab / f"{lab}.ipynb"


@pytest.mark.parametrize("lang", LANGS)
def test_translated_code_cells_differ_only_in_comments_and_strings(trees, lang):
    """Cell by cell: same cells, same types, same metadata (nbgrader's grade_id, points, locked
    flag), and code that parses and differs from English in comments and string literals only."""
    checked = 0
    for english_path, path in _translated_notebooks(trees[lang], lang):
        english, translated = _nb(english_path)["cells"], _nb(path)["cells"]
        assert len(english) == len(translated), f"{path}: {len(translated)} cells, English has {len(english)}"
        for index, (a, b) in enumerate(zip(english, translated)):
            where = f"{path.relative_to(ROOT)} cell {index}"
            assert a["cell_type"] == b["cell_type"], where
            meta_a = {k: v for k, v in a["metadata"].get("nbgrader", {}).items() if k != "checksum"}
            meta_b = {k: v for k, v in b["metadata"].get("nbgrader", {}).items() if k != "checksum"}
            assert meta_a == meta_b, f"{where}: nbgrader metadata changed"
            if a["cell_type"] == "code":
                fault = tr.code_cell_differences(_source(a), _source(b))
                assert fault is None, f"{where}: {fault}"
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("lang", LANGS)
def test_no_markdown_cell_is_left_in_english(trees, lang):
    """A markdown cell with prose that reads exactly as in English was not translated (cells that
    are only code, formulas or names are allowed)."""
    same = []
    for english_path, path in _translated_notebooks(trees[lang], lang):
        for index, (a, b) in enumerate(zip(_nb(english_path)["cells"], _nb(path)["cells"])):
            if a["cell_type"] == "markdown" and _source(a) == _source(b) and tr.has_prose(_source(a), 4):
                same.append(f"{path.relative_to(ROOT)} cell {index}: {_source(a)[:60]!r}")
    assert not same, f"{len(same)} markdown cell(s) still in English:\n" + "\n".join(same[:10])


@pytest.mark.parametrize("lang", LANGS)
def test_translations_read_and_write_the_same_files_as_english(trees, lang):
    """A translated notebook lives deeper (labs/<lang>/<lab>/, build/i18n/<lang>/modules/): its
    relative paths are rewritten so that they name the same files as the English ones, and links
    between translated pages stay in the translated tree."""
    pattern = re.compile(r"""["'](\.\./[^"'\s]*)["']""")
    for english_path, path in _translated_notebooks(trees[lang], lang):
        for a, b in zip(_nb(english_path)["cells"], _nb(path)["cells"]):
            if a["cell_type"] != "code":
                continue
            old = [os.path.normpath(english_path.parent / p) for p in pattern.findall(_source(a))]
            new = [os.path.normpath(path.parent / p) for p in pattern.findall(_source(b))]
            assert old == new, f"{path}: {old} vs {new}"
    module = (trees[lang] / "modules" / "01_pipeline_tour.ipynb").read_text(encoding="utf-8")
    assert "](../tinymlkit/data/motion/DATACARD.md)" in module, "links between book pages stay in the tree"


@pytest.mark.parametrize("lang", LANGS)
def test_anchors_follow_translated_headings(trees, lang):
    """`PROTOCOL.md#commands`-style links name the translated heading's anchor."""
    broken = []
    for page in trees[lang].rglob("*.md"):
        for target, anchor in re.findall(r"\]\(([^)#\s]+\.md)#([^)\s]+)\)", page.read_text(encoding="utf-8")):
            linked = (page.parent / target).resolve()
            if linked.is_file() and linked.is_relative_to(trees[lang].resolve()):
                slugs = {tr.heading_slug(h) for h in re.findall(r"^#{1,6}\s+(.*?)\s*$", linked.read_text(
                    encoding="utf-8"), flags=re.M)}
                if anchor not in slugs:
                    broken.append(f"{page.relative_to(trees[lang])}: {target}#{anchor}")
    assert not broken, f"anchors that name no heading: {broken[:10]}"


# --- Messages of the package: doctor, CLI, widgets -----------------------------------------------

@pytest.mark.parametrize("environ, expected", [
    ({"TINYMLKIT_LANG": "es"}, "es"), ({"TINYMLKIT_LANG": "pt-BR"}, "pt_BR"), ({"TINYMLKIT_LANG": "fr_FR.UTF-8"}, "fr"),
    ({"TINYMLKIT_LANG": "de", "LANG": "es_MX.UTF-8"}, "en"), ({"LANG": "pt_BR.UTF-8"}, "pt_BR"),
    ({"LC_ALL": "fr_CA.UTF-8", "LANG": "es_ES.UTF-8"}, "fr"), ({"LANG": "C.UTF-8"}, "en"), ({}, "en"),
    ({"LANGUAGE": "sw:es"}, "es"),
])
def test_language_comes_from_tinymlkit_lang_or_the_system_locale(environ, expected):
    assert i18n.current_language(environ) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_doctor_and_cli_speak_the_students_language(lang):
    env = {**os.environ, "TINYMLKIT_LANG": lang}
    proc = subprocess.run([sys.executable, "-m", "tinymlkit", "--help"], capture_output=True, text=True, env=env,
                          timeout=120)
    english = subprocess.run([sys.executable, "-m", "tinymlkit", "--help"], capture_output=True, text=True,
                             env={**os.environ, "TINYMLKIT_LANG": "en"}, timeout=120)
    assert proc.returncode == 0 and english.returncode == 0
    assert "train → int8 → TFLM → C files on the motion dataset" in english.stdout
    assert "train → int8 → TFLM → C files on the motion dataset" not in proc.stdout, "the --help is not translated"
    code = ("import tinymlkit.doctor as d; r = d.DoctorReport((d.Check('packages', d.OK, 'x'), "
            "d.Check('disk space', d.FAIL, 'y'))); print(r.table())")
    table = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    english_table = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                   env={**os.environ, "TINYMLKIT_LANG": "en"})
    assert "Not ready: 1 required check(s) failed (disk space)." in english_table.stdout, english_table.stdout
    verdict = table.stdout.strip().splitlines()[-1]
    assert "Not ready" not in verdict and "1" in verdict, f"the doctor's verdict is not translated: {verdict!r}"
    assert "packages" not in table.stdout.splitlines()[0], "the check names are not translated"


def test_widget_labels_are_translated(monkeypatch):
    monkeypatch.setenv("TINYMLKIT_LANG", "fr")
    assert i18n.gettext("Record") != "Record"
    assert "{n}" in i18n.gettext("{n} takes")
    monkeypatch.setenv("TINYMLKIT_LANG", "en")
    assert i18n.gettext("Record") == "Record"


# --- JupyterLab and the book ---------------------------------------------------------------------

def test_jupyterlab_language_packs_are_installed_and_pinned():
    from jupyterlab_server.translation_utils import get_language_packs

    packs, _ = get_language_packs()
    for locale in ("es_ES", "pt_BR", "fr_FR"):
        assert locale in packs, f"JupyterLab language pack {locale} is not installed: run make setup"
    pins = (ROOT / "constraints.txt").read_text()
    for name in ("es-es", "pt-br", "fr-fr"):
        assert re.search(rf"^jupyterlab-language-pack-{name}==\S+$", pins, flags=re.M)
    sys.path.insert(0, str(ROOT / "grading"))
    import jupyter_lab

    folder = jupyter_lab.language_settings_dir("pt_BR")
    overrides = json.loads((folder / "overrides.json").read_text())
    assert overrides["@jupyterlab/translation-extension:plugin"]["locale"] == "pt_BR"
    assert jupyter_lab.language_settings_dir("en") is None


def test_make_routes_lang_only_from_the_command_line():
    """`make book LANG=es` builds the Spanish book; a shell whose locale variable LANG is es_ES
    still gets the English `make book`."""
    dry = subprocess.run(["make", "-n", "book", "LANG=es"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "BOOK_LANG=es" in dry.stdout and "build/book/html/es" in dry.stdout, dry.stdout + dry.stderr
    env = {**os.environ, "LANG": "es_ES.UTF-8"}
    dry = subprocess.run(["make", "-n", "book"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert "BOOK_LANG" not in dry.stdout and "build/book/html" in dry.stdout, dry.stdout


