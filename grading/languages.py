"""Grading a class that did the labs in several languages (issue #18), with one gradebook.

The translated labs (``labs/<lang>/<lab>/<lab>.ipynb``, made by ``make release`` from the English
source and ``i18n/<lang>/``) keep the English grade_ids, points and locked flags, so nbgrader's
gradebook, built from the English ``solutions/``, grades every language. The only step that sees
the language is nbgrader's ``OverwriteCells`` (autograde's sanitising step): it puts back the
*English* source of every locked cell whose checksum differs from the gradebook's, which a
translated cell always does. :class:`LanguageAwareOverwriteCells` does the same job in the
student's language (``metadata.tinymlkit.language`` of the submitted notebook):

* every locked cell is run and shown as the gradebook records it (a test cell *with* its hidden
  tests), translated with the lab's catalogue (``tinymlkit.translations.translate_cell_source``):
  tampering is undone as in English, and the tests speak the student's language;
* a locked cell that is exactly the translated release's (``labs/<lang>/``) is not a change (no
  warning); any other is reported by nbgrader, as in English;
* a test cell the student deleted comes back translated, with nbgrader's notice in their language;
* a translated code cell is used only if it differs from the gradebook's English source in
  comments and strings alone (``tinymlkit.translations.code_cell_differences``); otherwise the
  English source is used, so a stale catalogue can never change what a test does.

So the feedback page shows the lab as the student read it. Points are the gradebook's in every
language.
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
    """nbgrader's OverwriteCells, restoring locked cells in the student's language (module
    docstring). English submissions are handled exactly as by nbgrader."""

    def preprocess(self, nb, resources):
        """Note this submission's language and load its release's cells (by grade_id), then run
        OverwriteCells. Returns ``(nb, resources)``."""
        self._lang = submission_language(nb)
        self._released: dict[str, str] = {}
        if self._lang:
            root = pathlib.Path(self.config.CourseDirectory.get("root", "") or ".")
            assignment = resources["nbgrader"]["assignment"]
            notebook = resources["nbgrader"]["notebook"]
            self._document = f"solutions/{assignment}/{notebook}.ipynb"  # its catalogue's English source
            self._target = f"labs/{self._lang}/{assignment}/{notebook}.ipynb"
            release = root / self._target
            if release.is_file():
                for cell in json.loads(release.read_text(encoding="utf-8"))["cells"]:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    if gid:
                        source = cell["source"]
                        self._released[gid] = "".join(source) if isinstance(source, list) else source
            else:
                self.log.warning("Submission in %s but %s is missing: unchanged locked cells are reported "
                                 "as changed", self._lang, release)
        return super().preprocess(nb, resources)

    def _translated(self, source_cell) -> str | None:
        """The gradebook's cell in the submission's language (str), or None to keep English."""
        from tinymlkit.translations import TranslationError, translate_cell_source

        try:
            return translate_cell_source(source_cell.source, source_cell.cell_type, self._document, self._lang,
                                         target=self._target)
        except TranslationError as error:
            self.log.warning("Cell %s: %s; the English source is used", source_cell.name, error)
            return None

    def preprocess_cell(self, cell, resources, cell_index):
        """One cell: see the module docstring. Returns ``(cell, resources)``."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not self._lang or not grade_id:
            return super().preprocess_cell(cell, resources, cell_index)
        try:
            source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
        except Exception:  # MissingEntry: nbgrader's own handling (drops the grade_id, warns)
            return super().preprocess_cell(cell, resources, cell_index)
        if not source_cell.locked:
            return super().preprocess_cell(cell, resources, cell_index)
        translated = self._translated(source_cell)
        if translated is not None and cell.source == self._released.get(grade_id):
            cell.source = source_cell.source  # unchanged from its release: no "checksum changed" report
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if translated is not None and not utils.is_solution(cell):
            cell.source = translated
        return cell, resources

    def missing_cell_transform(self, source_cell, max_score, is_solution=False, is_task=False):
        """nbgrader's re-added cell, in the submission's language (notice and source)."""
        cell = super().missing_cell_transform(source_cell, max_score, is_solution=is_solution, is_task=is_task)
        translated = self._translated(source_cell) if self._lang else None
        if translated is not None:
            from tinymlkit.i18n import translation
            from tinymlkit.translations import MISSING_CELL_NOTICE

            notice = translation(self._lang).gettext(MISSING_CELL_NOTICE).format(cell_id=source_cell.name)
            cell.source = ("# " if cell.cell_type == "code" else "") + notice + "\n\n" + translated
        return cell
