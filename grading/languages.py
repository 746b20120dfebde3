"""Grading a class that did the labs in several languages (issue #18), with one gradebook.

The translated labs (``labs/<lang>/<lab>/<lab>.ipynb``, made by ``make release`` from the English
source and ``i18n/<lang>/``) keep the English grade_ids, points and locked flags, so nbgrader's
gradebook, built from the English ``solutions/``, grades every language. The only step that sees
the language is nbgrader's ``OverwriteCells`` (autograde's sanitising step): it puts back the
*English* source of every locked cell whose checksum differs from the gradebook's, which a
translated cell always does. :class:`LanguageAwareOverwriteCells` does the same job against the
release in the student's language (``metadata.tinymlkit.language`` of the submitted notebook):

* a locked cell that is exactly the translated release's is not a change (no warning);
* any other locked cell is put back as the *translated* release has it (tampering is undone, as in
  English, and nbgrader reports it);
* a translated code cell is used only if it differs from the gradebook's English source in
  comments and strings alone (``tinymlkit.translations.code_cell_differences``); otherwise the
  English source is used, so a stale or hand-edited translation can never change what a test does.

So the tests run with messages in the student's language and the feedback page shows the lab as
the student read it. Points are the gradebook's in every language.
"""

from __future__ import annotations

import json
import pathlib

from nbgrader import utils
from nbgrader.preprocessors import OverwriteCells


def submission_language(nb) -> str | None:
    """The course language a notebook was released in (``"es"``, ``"pt_BR"``, ``"fr"``), or None
    for English or an unknown value (str | None)."""
    meta = nb.get("metadata", {}).get("tinymlkit", {})
    lang = meta.get("language") if isinstance(meta, dict) else None
    from tinymlkit.i18n import COURSE_LANGUAGES

    return lang if lang in COURSE_LANGUAGES else None


class LanguageAwareOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells, restoring locked cells from the release in the student's language
    (module docstring). English submissions are handled exactly as by nbgrader."""

    def preprocess(self, nb, resources):
        """Load the translated release's cells (by grade_id) for this submission, then run
        OverwriteCells. Returns ``(nb, resources)``."""
        self._translated: dict[str, str] = {}
        lang = submission_language(nb)
        if lang:
            root = pathlib.Path(self.config.CourseDirectory.get("root", "") or ".")
            assignment = resources["nbgrader"]["assignment"]
            notebook = resources["nbgrader"]["notebook"]
            release = root / "labs" / lang / assignment / f"{notebook}.ipynb"
            if release.is_file():
                for cell in json.loads(release.read_text(encoding="utf-8"))["cells"]:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    if gid:
                        source = cell["source"]
                        self._translated[gid] = "".join(source) if isinstance(source, list) else source
            else:
                self.log.warning("Submission in %s but %s is missing: locked cells are restored in English",
                                 lang, release)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        """One cell: see the module docstring. Returns ``(cell, resources)``."""
        from tinymlkit.translations import code_cell_differences

        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        translated = self._translated.get(grade_id) if grade_id else None
        if translated is None:
            return super().preprocess_cell(cell, resources, cell_index)
        try:
            source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
        except Exception:  # MissingEntry: nbgrader's own handling (drops the grade_id, warns)
            return super().preprocess_cell(cell, resources, cell_index)
        usable = (source_cell.cell_type != "code"
                  or code_cell_differences(source_cell.source, translated) is None)
        if not usable:
            self.log.warning("Cell %s: the translated release differs from English in code; the English "
                             "source is used", grade_id)
        if usable and source_cell.locked and cell.source == translated:
            cell.source = source_cell.source  # unchanged from its release: no "checksum changed" report
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if usable and source_cell.locked and not utils.is_solution(cell):
            cell.source = translated
        return cell, resources
