"""The package's own messages in the student's language: ``tinymlkit doctor``, the command line and
the widgets' labels, through GNU gettext (Python's :mod:`gettext`).

The language is ``TINYMLKIT_LANG`` if set (``es``, ``pt-BR``, ``fr``, ``en``), else the system
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as gettext itself looks them up); a language the
course does not have falls back to English. The catalogues are
``tinymlkit/locale/<lang>/LC_MESSAGES/tinymlkit.po``, compiled in memory by Babel on first use (no
``.mo`` build output to keep in step). ``make i18n-update`` re-extracts the English messages (the
strings wrapped in ``_()``/``gettext()``) with Babel's extractor.

Usage inside the package::

    from .i18n import gettext as _
    print(_("Your computer is ready for the course."))
    print(_("{n} checks failed").format(n=3))   # format *after* translating
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
import os
import pathlib

__all__ = ["LOCALE_DIR", "COURSE_LANGUAGES", "current_language", "translation", "gettext", "ngettext", "N_"]

#: Where the package's catalogues live.
LOCALE_DIR = pathlib.Path(__file__).resolve().parent / "locale"
#: The languages the course is translated into (gettext codes); English is the source.
COURSE_LANGUAGES = ("es", "pt_BR", "fr")


def current_language(environ: dict | None = None) -> str:
    """The language for the package's messages: ``"en"`` or one of :data:`COURSE_LANGUAGES`.

    Args:
        environ: the environment to read (default ``os.environ``): ``TINYMLKIT_LANG`` first, then
            ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (gettext's order,
            https://www.gnu.org/software/gettext/manual/html_node/Locale-Environment-Variables.html).
    Returns:
        str; unknown or unset languages give ``"en"``.
    """
    env = os.environ if environ is None else environ
    for name in ("TINYMLKIT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip()
        if not value:
            continue
        for part in value.split(":"):  # LANGUAGE may list several
            code = part.split(".")[0].split("@")[0].replace("-", "_")
            base = code.split("_")[0].lower()
            if base in ("en", "c", "posix"):
                return "en"
            if base == "pt":
                return "pt_BR"
            if base in COURSE_LANGUAGES:
                return base
        if name == "TINYMLKIT_LANG":
            return "en"  # set to a language we do not have: English, not the system's
    return "en"


@functools.lru_cache(maxsize=None)
def translation(lang: str) -> _gettext.NullTranslations:
    """The compiled catalogue of one language (``gettext.GNUTranslations``), or English
    (``NullTranslations``) for ``"en"`` or a language without a catalogue. Compiled from the
    ``.po`` with Babel (``babel.messages.mofile.write_mo``); fuzzy entries are left out."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "tinymlkit.po"
    if lang == "en" or not po.is_file():
        return _gettext.NullTranslations()
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:  # Babel is a dependency; without it, English rather than a crash
        return _gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str) -> str:
    """``message`` (English, str) in the current language (:func:`current_language`, read at each
    call so that ``TINYMLKIT_LANG`` set in a notebook takes effect at once)."""
    return translation(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for count ``n``, in the current language."""
    return translation(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (gettext's ``N_`` convention):
    for strings defined once at import time and translated where they are shown."""
    return message
