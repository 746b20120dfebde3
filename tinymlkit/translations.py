"""The course in other languages: gettext catalogues (``.po``) of the English notebooks and guides,
and the build step that makes translated copies from them (issue #18).

English is the only hand-edited source. Each English document has one catalogue per language::

    i18n/<lang>/LC_MESSAGES/<document path without its suffix>.po
    e.g. i18n/es/LC_MESSAGES/modules/04_signal_processing.po

The catalogues are read and written with Babel (https://babel.pocoo.org, ``babel.messages``), the
library Sphinx itself uses; ``update`` merges a new English template into them with
:meth:`babel.messages.catalog.Catalog.update`, which marks a changed English paragraph *fuzzy*
(keeping the old translation as a hint) so that the tests name it until a translator revises it.

What is a message:

- **Markdown** (notebook markdown cells and ``.md`` guides): one message per block, i.e. lines
  between blank lines, a whole list or table being one block. Fenced code, ``$$`` math, HTML
  comments and nbgrader's markers are not messages; neither is a block with no words outside code
  spans, links and math. A fenced directive's ``:caption:`` is a message.
- **Code cells**: comments (consecutive full-line comments at one indent are one message) and the
  string literals a student reads: the arguments of ``print``, plot titles, axis labels and legend
  entries (``label=`` of matplotlib's plotting calls, ``labels=``/``titles=`` of ``tk.plots``),
  ``Markdown(...)``, widget ``description=``, assertion and exception messages. Every other
  string (data keys, labels compared in code, paths) stays English, so a translated cell runs
  exactly as the English one; :func:`code_cell_differences` checks it token by token.
  nbgrader's solution and hidden-test markers are never translated.

Languages: ``es`` (Spanish, tú), ``pt_BR`` (Brazilian Portuguese, você), ``fr`` (French, tu). The
course's terms per language are fixed by ``i18n/<lang>/glossary.csv``.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import difflib
import functools
import io
import json
import pathlib
import re
import tokenize

from .files import write_atomic
from .i18n import COURSE_LANGUAGES, N_

__all__ = [
    "LANGUAGES", "ROOT", "I18N_DIR", "TranslationError", "Message", "GlossaryTerm",
    "normalize_language", "source_documents", "catalogue_path", "extract_messages", "template_for",
    "read_catalogue", "write_catalogue", "update_catalogues", "translate_document",
    "translate_notebook", "translate_markdown", "translate_cell_source", "MISSING_CELL_NOTICE", "code_cell_differences", "placeholder_faults",
    "load_glossary", "glossary_faults", "catalogue_status", "coverage", "export_todo", "export_package_todo", "import_todo",
    "has_prose", "PRIORITY_DOCUMENTS", "check_catalogue", "relocate_path", "heading_slug", "anchor_map", "build_tree", "release_labs",
    "update_package_catalogues", "check_package_catalogue", "main",
]

#: Language code → its own name (shown in the book's language switch). Codes are gettext's
#: (``pt_BR``); ``pt-BR`` and ``pt_br`` are accepted everywhere (:func:`normalize_language`).
LANGUAGES = dict(zip(COURSE_LANGUAGES, ("Español", "Português (Brasil)", "Français"), strict=True))
#: The repository (the package is installed editable from it; see README).
ROOT = pathlib.Path(__file__).resolve().parents[1]
I18N_DIR = ROOT / "i18n"

#: The English documents that have catalogues, as glob patterns relative to the repository root.
SOURCE_PATTERNS = (
    "README.md", "book/index.md", "book/reading_offline.ipynb", "book/instructor_guide/*.md",
    "modules/*.ipynb", "solutions/*/*.ipynb",
    "grading/README.md", "hardware/README.md", "hardware/PROTOCOL.md", "hardware/*/README.md",
    "hardware/libraries/*/README.md",
)
#: Documents whose catalogues must be complete (issue #18: modules 00-05, labs 01-06, the
#: instructor's guide), as glob patterns.
PRIORITY_DOCUMENTS = (
    "modules/0[0-5]_*.ipynb", "solutions/lab0[1-6]_*/*.ipynb", "book/instructor_guide/*.md",
)

#: nbgrader's markers (https://nbgrader.readthedocs.io/en/stable/user_guide/creating_and_grading_assignments.html):
#: they must stay exactly as they are.
_NBGRADER_MARKERS = re.compile(
    r"^\s*(#+\s*)?(=+\s*)?(BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)(\s*=+)?\s*$|"
    r"YOUR CODE HERE|YOUR ANSWER HERE")
_PRAGMA = re.compile(r"^(noqa|type:|pragma|pylint|fmt:|%%|!)")

#: Calls whose string arguments a student reads, and keyword arguments that are read wherever
#: they appear (matplotlib titles/labels, ipywidgets descriptions).
_READ_CALLS = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel",
               "ylabel", "set_text", "text", "Markdown", "warn", "input", "set_description"}
_READ_KEYWORDS = {"title", "xlabel", "ylabel", "suptitle", "description", "placeholder", "msg",
                  "message", "prompt", "tooltip"}
#: Plotting calls (matplotlib's and the course's ``tk.plots.plot_*``) whose ``label=`` (a legend
#: entry) and ``labels=``/``titles=`` (one title per panel, a list or tuple) are read, not data.
_PLOT_CALLS = {"plot", "scatter", "bar", "barh", "hist", "axhline", "axvline", "axhspan", "axvspan",
               "fill_between", "step", "errorbar", "stem", "semilogx", "semilogy", "loglog"}
_PLOT_KEYWORDS = {"label", "labels", "titles"}


#: Catalogue header dates are fixed, so that `make i18n-update` changes a file only when its
#: messages change (git keeps the real history).
_FIXED_DATE = __import__("datetime").datetime(2026, 12, 1, tzinfo=__import__("datetime").timezone.utc)


class TranslationError(ValueError):
    """A catalogue or a translated document is wrong; the message names the file and the fault."""


@dataclasses.dataclass(frozen=True)
class Message:
    """One translatable piece of an English document.

    Attributes:
        msgid: the English text (markdown block, comment text without ``#``, or a string
            literal's inner source text, escapes as written).
        kind: ``"markdown"``, ``"comment"`` or ``"string"``.
        location: ``"cell 7"`` (notebooks, 0-based) or ``"line 12"`` (markdown files).
    """

    msgid: str
    kind: str
    location: str


def normalize_language(lang: str) -> str:
    """``"pt-BR"``/``"pt_br"``/``"es-ES"`` → the course's code (``"pt_BR"``, ``"es"``).

    Raises:
        TranslationError: the course has no such language (the message lists the ones it has).
    """
    raw = str(lang).strip().replace("-", "_")
    for code in LANGUAGES:
        if raw.lower() == code.lower():
            return code
    base = raw.split("_")[0].split(".")[0].lower()
    if base == "pt":
        return "pt_BR"
    if base in LANGUAGES:
        return base
    raise TranslationError(f"language {lang!r}: the course is translated into "
                           f"{', '.join(LANGUAGES)} (and English, the source)")


def source_documents(root: pathlib.Path = ROOT) -> list[str]:
    """The English documents that have catalogues, as sorted paths relative to ``root`` (str)."""
    found = {str(p.relative_to(root)) for pat in SOURCE_PATTERNS for p in root.glob(pat)}
    return sorted(found)


def catalogue_path(document: str, lang: str, i18n_dir: pathlib.Path = I18N_DIR) -> pathlib.Path:
    """``i18n/<lang>/LC_MESSAGES/<document without suffix>.po`` for a document path relative to
    the repository root (str)."""
    return i18n_dir / normalize_language(lang) / "LC_MESSAGES" / pathlib.PurePosixPath(document).with_suffix(".po")


# ---------------------------------------------------------------------------------------------
# Markdown


def _fence_marker(line: str) -> str | None:
    stripped = line.lstrip()
    for mark in ("```", "~~~"):
        if stripped.startswith(mark):
            return stripped[:len(stripped) - len(stripped.lstrip(mark[0]))]
    return None


_CODE_SPAN = re.compile(r"`[^`]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)|<[^>]+>|https?://\S+")
_MATH = re.compile(r"\$[^$]+\$")


def has_prose(text: str, min_words: int = 1) -> bool:
    """True if ``text`` has at least ``min_words`` words of 3+ letters outside code spans, link
    targets, URLs, HTML tags and ``$math$`` (i.e. something a translator must translate)."""
    bare = _MATH.sub(" ", _LINK_TARGET.sub(" ", _CODE_SPAN.sub(" ", text)))
    return len(re.findall(r"[^\W\d_]{3,}", bare)) >= min_words


def _markdown_segments(text: str) -> list[tuple[str, bool]]:
    """Split markdown into ``(piece, translatable)`` pieces whose concatenation is ``text``.

    Translatable pieces are whole blocks without their line ends; the separators, fences, math and
    markers are untranslatable pieces."""
    lines = text.splitlines(keepends=True)
    pieces: list[tuple[str, bool]] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        joined = "".join(block)
        body = joined.rstrip("\n")
        ending = joined[len(body):]
        if (has_prose(body) and not _NBGRADER_MARKERS.search(_CODE_SPAN.sub(" ", body))
                and not body.lstrip().startswith("<!--")):
            pieces.append((body, True))
            if ending:
                pieces.append((ending, False))
        else:
            pieces.append((joined, False))
        block.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _fence_marker(line)
        if fence:
            flush()
            pieces.append((line, False))
            i += 1
            while i < len(lines):
                inner = lines[i]
                caption = (re.match(r"^(:caption:\s+)(.*?)(\s*)$", inner.rstrip("\n"))
                           or re.match(r"^()([^:<>][^<>]*?)(\s+<[^<>]+>\s*)$", inner.rstrip("\n")))
                if _fence_marker(inner) and inner.strip().startswith(fence) and inner.strip().strip(fence[0]) == "":
                    pieces.append((inner, False))
                    i += 1
                    break
                if caption and has_prose(caption.group(2)):
                    pieces.append((caption.group(1), False))
                    pieces.append((caption.group(2), True))
                    pieces.append((inner[len(caption.group(1)) + len(caption.group(2)):], False))
                else:
                    pieces.append((inner, False))
                i += 1
            continue
        if line.strip() == "$$":
            flush()
            pieces.append((line, False))
            i += 1
            while i < len(lines):
                pieces.append((lines[i], False))
                i += 1
                if lines[i - 1].strip() == "$$":
                    break
            continue
        if not line.strip() or _NBGRADER_MARKERS.search(_CODE_SPAN.sub(" ", line)):
            flush()
            pieces.append((line, False))
        else:
            block.append(line)
        i += 1
    flush()
    return pieces


def _markdown_messages(text: str, where: str) -> list[Message]:
    return [Message(piece, "markdown", where) for piece, ok in _markdown_segments(text) if ok]


_MD_LINK = re.compile(r"(\]\(|<img [^>]*src=\"|<a [^>]*href=\")([^)\"\s]+)")


def _is_relative(target: str) -> bool:
    return not re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|#|/)", target)


def heading_slug(title: str) -> str:
    """The anchor MyST gives a heading (GitHub's rule: ``myst_parser.slugs.github_slugify``; the
    same rule is written out here when myst-parser is not installed)."""
    try:
        from myst_parser.slugs import github_slugify
    except ImportError:  # the same rule: lower case, punctuation dropped, spaces to hyphens
        return re.sub(r"[^\w\- ]", "", title.strip().lower().replace(" ", "-"))
    return github_slugify(title)


def _headings(text: str) -> list[str]:
    """ATX headings (``## Title``) of markdown outside fenced code, in order."""
    out, fence = [], None
    for line in text.splitlines():
        mark = _fence_marker(line)
        if mark:
            fence = None if fence and line.strip().startswith(fence) else (fence or mark)
            continue
        if fence is None:
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                out.append(m.group(1))
    return out


def _document_text(data: bytes, name: str) -> str:
    if name.endswith(".md"):
        return data.decode("utf-8")
    cells = json.loads(data.decode("utf-8")).get("cells", [])
    return "\n\n".join(_cell_source(c) for c in cells if c.get("cell_type") == "markdown")


def anchor_map(english: str, translated: str) -> dict[str, str]:
    """{English heading anchor: translated heading anchor} of one document, pairing the headings in
    order (a translation has the same headings as its English source)."""
    a, b = _headings(english), _headings(translated)
    if len(a) != len(b):
        return {}
    return {heading_slug(x): heading_slug(y) for x, y in zip(a, b) if heading_slug(x) != heading_slug(y)}


def relocate_path(target: str, english_dir: str, new_dir: str, mirrored=None, anchors=None) -> str:
    """A relative link or path written in a document in ``english_dir`` (repository-relative, str),
    rewritten so that it names the same file from ``new_dir``. ``mirrored(repo_path) -> str | None``
    may map a repository file to its copy in a translated tree (links between translated pages stay
    inside the tree); ``anchors(repo_path) -> {English anchor: translated anchor}`` renames the
    ``#anchor`` of a link to a translated page (its headings are translated). Absolute paths and
    URLs are returned unchanged; ``english_dir`` is the folder of the linking document, and a bare
    ``#anchor`` refers to ``anchors("")`` (the document itself)."""
    import posixpath

    if target.startswith("#") and anchors is not None:
        return "#" + anchors("").get(target[1:], target[1:])
    if not _is_relative(target) or english_dir == new_dir and mirrored is None:
        return target
    path, sep, anchor = target.partition("#")
    if not path:
        return target
    repo_path = posixpath.normpath(posixpath.join(english_dir, path))
    if repo_path.startswith(".."):
        return target
    mapped = mirrored(repo_path) if mirrored else None
    if mapped and anchor and anchors is not None:
        anchor = anchors(repo_path).get(anchor, anchor)
    new_target = posixpath.relpath(mapped or repo_path, new_dir)
    if path.endswith("/") and not new_target.endswith("/"):
        new_target += "/"
    return new_target + sep + anchor


def translate_markdown(text: str, translations: dict[str, str], relocate=None) -> str:
    """``text`` with every translatable block replaced by its translation (str → str); blocks
    without a translation stay English. ``relocate(target) -> target`` rewrites relative link
    targets (see :func:`relocate_path`) when the translation lives in another folder."""
    out = "".join(translations.get(piece) or piece if ok else piece
                  for piece, ok in _markdown_segments(text))
    if relocate is not None:
        out = _MD_LINK.sub(lambda m: m.group(1) + relocate(m.group(2)), out)
    return out


# ---------------------------------------------------------------------------------------------
# Code cells


def _mask_magics(source: str) -> str:
    """IPython magics and shell lines (``%matplotlib``, ``!ls``) replaced by comments of the same
    length, so that ``ast`` and ``tokenize`` can read the cell and positions stay valid."""
    out = []
    for line in source.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = len(line) - len(stripped)
            out.append(line[:indent] + "#" + stripped[1:])
        else:
            out.append(line)
    return "".join(out)


def _line_offsets(source: str) -> list[int]:
    offsets, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line)
        offsets.append(total)
    return offsets


def _char_col(source_lines: list[str], lineno: int, byte_col: int) -> int:
    return len(source_lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def _read_string_spans(source: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the str literals (plain or f-strings) that a student reads."""
    try:
        tree = ast.parse(_mask_magics(source))
    except SyntaxError:
        return []
    lines = source.splitlines(keepends=True)
    offsets = _line_offsets(source)
    nodes: list[ast.AST] = []

    def add(node: ast.AST | None) -> None:
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            nodes.append(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            add(node.left)
            if isinstance(node.op, ast.Add):
                add(node.right)
        elif isinstance(node, ast.IfExp):
            add(node.body)
            add(node.orelse)
        elif isinstance(node, ast.BoolOp):  # PORT or "simulated"
            for value in node.values:
                add(value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _READ_CALLS:
                for arg in node.args:
                    add(arg)
            for kw in node.keywords:
                if kw.arg in _READ_KEYWORDS:
                    add(kw.value)
                elif kw.arg in _PLOT_KEYWORDS and (name in _PLOT_CALLS or name.startswith("plot_")):
                    for value in kw.value.elts if isinstance(kw.value, (ast.List, ast.Tuple)) else [kw.value]:
                        add(value)
            if name.endswith(("Error", "Exception", "Warning")):
                for arg in node.args:
                    add(arg)
        elif isinstance(node, ast.Assert):
            add(node.msg)
    spans = []
    for node in nodes:
        start = offsets[node.lineno - 1] + _char_col(lines, node.lineno, node.col_offset)
        end = offsets[node.end_lineno - 1] + _char_col(lines, node.end_lineno, node.end_col_offset)
        spans.append((start, end))
    return spans


@dataclasses.dataclass
class _CodePiece:
    start: int
    end: int
    kind: str       # "comment" or "string"
    msgid: str
    quote: str = ""  # strings: the prefix + opening quote, e.g. 'f"'
    indent: str = ""  # comments: what goes before "# " on each line


def _string_token_parts(token_text: str) -> tuple[str, str, str]:
    """(prefix+opening quote, inner text, closing quote) of one STRING token."""
    match = re.match(r"^([rRbBuUfF]*)('''|\"\"\"|'|\")", token_text)
    opening = match.group(0)
    quote = match.group(2)
    return opening, token_text[len(opening):len(token_text) - len(quote)], quote


def _code_pieces(source: str) -> list[_CodePiece]:
    masked = _mask_magics(source)
    offsets = _line_offsets(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(masked).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    magic_lines = {i for i, line in enumerate(source.splitlines(), 1) if line.lstrip().startswith(("%", "!"))}
    spans = _read_string_spans(source)
    pieces: list[_CodePiece] = []
    previous_significant_line = 0
    for tok in tokens:
        start = offsets[tok.start[0] - 1] + tok.start[1]
        end = offsets[tok.end[0] - 1] + tok.end[1]
        if tok.type == tokenize.COMMENT and tok.start[0] not in magic_lines:
            text = tok.string[1:]
            body = text[1:] if text.startswith(" ") else text
            if (not body.strip() or _NBGRADER_MARKERS.search(tok.string) or _PRAGMA.match(body.strip())
                    or tok.string.startswith("#!") or not has_prose(body)):
                continue
            full_line = tok.start[0] != previous_significant_line
            indent = source.splitlines()[tok.start[0] - 1][:tok.start[1]]
            last = pieces[-1] if pieces else None
            if (full_line and last and last.kind == "comment" and last.indent == indent
                    and source[last.end:start] == "\n" + indent):
                last.msgid += "\n" + body
                last.end = end
            else:
                pieces.append(_CodePiece(start, end, "comment", body, indent=indent if full_line else ""))
        elif tok.type == tokenize.STRING:
            if any(s <= start and end <= e for s, e in spans):
                opening, inner, _ = _string_token_parts(tok.string)
                if "b" in opening.lower() or "r" in opening.lower() or not has_prose(inner):
                    continue
                pieces.append(_CodePiece(start, end, "string", inner, quote=opening))
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            previous_significant_line = tok.end[0]
    return pieces


def _relative_path_literals(source: str, relocate) -> list[_CodePiece]:
    """String literals that are relative paths (``"../../build/lab03"``), with their new text."""
    pieces = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(_mask_magics(source)).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    offsets = _line_offsets(source)
    for tok in tokens:
        if tok.type == tokenize.STRING:
            opening, inner, _ = _string_token_parts(tok.string)
            if inner.startswith("../") and "b" not in opening.lower():
                start = offsets[tok.start[0] - 1] + tok.start[1]
                end = offsets[tok.end[0] - 1] + tok.end[1]
                pieces.append(_CodePiece(start, end, "path", inner, quote=opening))
    return pieces


def translate_code(source: str, translations: dict[str, str], relocate=None) -> str:
    """A code cell's source with its comments and read strings translated (str → str). Pieces
    without a translation stay English; a string translation containing the literal's own quote
    character or a line break is escaped so that the cell still parses. ``relocate(path) -> path``
    rewrites string literals that are relative paths (``"../../build/lab03"``) for a translation
    that lives in another folder, so that it reads and writes the same files as the English one."""
    out, position = [], 0
    pieces = _code_pieces(source)
    if relocate is not None:
        taken = [(p.start, p.end) for p in pieces]
        pieces += [p for p in _relative_path_literals(source, relocate)
                   if not any(a <= p.start < b for a, b in taken)]
        pieces.sort(key=lambda p: p.start)
    for piece in pieces:
        if piece.kind == "path":
            new = relocate(piece.msgid)
            if new == piece.msgid:
                continue
            out.append(source[position:piece.start] + piece.quote + new + piece.quote.lstrip("rRbBuUfF"))
            position = piece.end
            continue
        new = translations.get(piece.msgid)
        if not new:
            continue
        out.append(source[position:piece.start])
        if piece.kind == "comment":
            lines = new.split("\n")
            joiner = "\n" + piece.indent + "# "
            out.append("# " + joiner.join(lines))
        else:
            quote = piece.quote.lstrip("rRbBuUfF")
            if len(quote) == 1:
                new = re.sub(r"(?<!\\)" + re.escape(quote), "\\\\" + quote, new).replace("\n", "\\n")
            out.append(piece.quote + new + quote)
        position = piece.end
    out.append(source[position:])
    return "".join(out)


def _code_skeleton(source: str) -> list[tuple[int, str]]:
    """The token stream without comments, strings and line structure, for comparison."""
    masked = _mask_magics(source)
    skip = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE}
    tokens = tokenize.generate_tokens(io.StringIO(masked).readline)
    return [(t.type, t.string) for t in tokens if t.type not in skip]


def code_cell_differences(english: str, translated: str) -> str | None:
    """None if ``translated`` parses (magics aside) and differs from ``english`` only in comments
    and string literals; otherwise a sentence saying what differs (str)."""
    try:
        ast.parse(_mask_magics(translated))
    except SyntaxError as exc:
        return f"the translated cell does not parse: {exc.msg} (line {exc.lineno})"
    try:
        if _code_skeleton(english) != _code_skeleton(translated):
            a, b = _code_skeleton(english), _code_skeleton(translated)
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return (f"code differs from English beyond comments and strings near token {first}: "
                    f"English {a[first:first + 3]} vs translated {b[first:first + 3]}")
    except (tokenize.TokenError, IndentationError) as exc:
        return f"the translated cell cannot be tokenised: {exc}"
    return None


# ---------------------------------------------------------------------------------------------
# Documents


def _load_notebook(path: pathlib.Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TranslationError(f"{path}: not a readable notebook ({exc})") from exc


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def extract_messages(path: pathlib.Path) -> list[Message]:
    """Every translatable message of an English ``.ipynb`` or ``.md`` file, in document order.

    Raises:
        TranslationError: the file cannot be read or is not a notebook/markdown file.
    """
    path = pathlib.Path(path)
    if path.suffix == ".md":
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TranslationError(f"{path}: cannot be read ({exc})") from exc
        messages, line = [], 1
        for piece, ok in _markdown_segments(text):
            if ok:
                messages.append(Message(piece, "markdown", f"line {line}"))
            line += piece.count("\n")
        return messages
    if path.suffix != ".ipynb":
        raise TranslationError(f"{path}: only .ipynb and .md documents have catalogues")
    messages = []
    for index, cell in enumerate(_load_notebook(path).get("cells", [])):
        source = _cell_source(cell)
        if cell.get("cell_type") == "markdown":
            messages += _markdown_messages(source, f"cell {index}")
        elif cell.get("cell_type") == "code":
            messages += [Message(p.msgid, p.kind, f"cell {index}") for p in _code_pieces(source)]
    return messages


def template_for(document: str, root: pathlib.Path = ROOT):
    """A Babel :class:`~babel.messages.catalog.Catalog` (the ``.pot`` template) of an English
    document given relative to ``root``."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="TinyML Lab Kit", msgid_bugs_address="", creation_date=_FIXED_DATE,
                      revision_date=_FIXED_DATE, copyright_holder="TinyML Lab Kit authors",
                      header_comment=f"# Translations of {document} (TinyML Lab Kit, Apache-2.0).\n"
                                     f"# The English source is {document}; edit it there, then run "
                                     "`make i18n-update`.", fuzzy=False)
    for message in extract_messages(root / document):
        existing = catalog.get(message.msgid)
        if existing is not None:
            existing.locations.append((document, 0))
            continue
        catalog.add(message.msgid, locations=[(document, 0)],
                    auto_comments=[f"{message.kind}, {message.location}"])
    return catalog


def read_catalogue(path: pathlib.Path, lang: str | None = None):
    """Read a ``.po`` file with Babel.

    Raises:
        TranslationError: the file is missing or not valid PO (the message names it).
    """
    from babel.messages.pofile import PoFileError, read_po

    try:
        with open(path, "rb") as handle:
            return read_po(handle, locale=normalize_language(lang) if lang else None, abort_invalid=True)
    except FileNotFoundError as exc:
        raise TranslationError(f"{path}: no catalogue; run `make i18n-update`") from exc
    except (PoFileError, ValueError, UnicodeDecodeError) as exc:
        raise TranslationError(f"{path}: not a valid .po file ({exc})") from exc


def write_catalogue(catalog, path: pathlib.Path) -> None:
    """Write a Babel catalogue to ``path`` atomically (obsolete entries dropped, no line wrapping,
    so that a diff shows one changed paragraph as one changed entry)."""
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, ignore_obsolete=True, include_previous=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())


def update_catalogues(languages=None, documents=None, root: pathlib.Path = ROOT,
                      i18n_dir: pathlib.Path = I18N_DIR) -> dict[str, dict[str, int]]:
    """Create or update every catalogue from the English documents (``make i18n-update``).

    New English text appears untranslated; changed text becomes fuzzy with its old translation;
    removed text is dropped.

    Args:
        languages: codes (default: every language in :data:`LANGUAGES`).
        documents: paths relative to ``root`` (default: :func:`source_documents`).
    Returns:
        {catalogue path (str): {"messages", "translated", "fuzzy"}}.
    """
    from babel.messages.catalog import Catalog

    out = {}
    for lang in [normalize_language(x) for x in (languages or LANGUAGES)]:
        for document in documents or source_documents(root):
            template = template_for(document, root)
            path = catalogue_path(document, lang, i18n_dir)
            if path.exists():
                catalog = read_catalogue(path, lang)
                catalog.update(template, update_header_comment=True)
            else:
                catalog = Catalog(locale=lang, project="TinyML Lab Kit", fuzzy=False,
                                  creation_date=_FIXED_DATE, revision_date=_FIXED_DATE,
                                  header_comment=template.header_comment)
                catalog.update(template)
            catalog.fuzzy = False
            catalog.creation_date = catalog.revision_date = _FIXED_DATE
            _drop_stale_hints(catalog)
            write_catalogue(catalog, path)
            out[str(path)] = catalogue_status(catalog)
    return out


def _drop_stale_hints(catalog) -> None:
    """Forget the old English (``#| msgid``) of every entry that is no longer fuzzy: Babel keeps it
    beside a fuzzy entry as the translator's hint, and it means nothing once the entry is revised."""
    for message in catalog:
        if message.id and not message.fuzzy:
            message.previous_id = []
            message.user_comments = [c for c in message.user_comments if not c.startswith("|")]


def catalogue_status(catalog) -> dict[str, int]:
    """{"messages", "translated" (non-empty, not fuzzy), "fuzzy", "empty"} of a Babel catalogue."""
    entries = [m for m in catalog if m.id]
    fuzzy = sum(1 for m in entries if m.fuzzy and m.string)
    empty = sum(1 for m in entries if not m.string)
    return {"messages": len(entries), "translated": len(entries) - fuzzy - empty, "fuzzy": fuzzy, "empty": empty}


def _translations(document: str, lang: str, i18n_dir: pathlib.Path) -> dict[str, str]:
    """{English message: translation} of a document's catalogue, without empty or fuzzy entries
    (read once per version of the file: grading asks for it cell by cell)."""
    path = catalogue_path(document, lang, i18n_dir)
    if not path.exists():
        return {}
    stat = path.stat()
    return dict(_read_translations(str(path), lang, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _read_translations(path: str, lang: str, mtime_ns: int, size: int) -> tuple[tuple[str, str], ...]:
    return tuple((m.id, m.string) for m in read_catalogue(pathlib.Path(path), lang)
                 if m.id and m.string and not m.fuzzy)


def translate_notebook(notebook: dict, translations: dict[str, str], lang: str, source: str,
                       relocate=None) -> dict:
    """A translated copy of an English notebook (dict in nbformat 4 JSON): markdown and code cells
    translated message by message, everything else (outputs, cell ids, nbgrader metadata with its
    grade_id, points, locked flag and checksum) untouched; ``metadata.tinymlkit`` records the
    language and the English source path.

    Raises:
        TranslationError: a translated code cell would differ from English in more than comments
            and strings (the message names the cell and the difference).
    """
    out = json.loads(json.dumps(notebook))
    for index, cell in enumerate(out.get("cells", [])):
        source_text = _cell_source(cell)
        new = _translate_cell(source_text, cell.get("cell_type"), translations, relocate,
                              f"{source} ({lang}), cell {index}")
        if new != source_text:
            cell["source"] = new
    meta = out.setdefault("metadata", {})
    if not isinstance(meta.get("tinymlkit"), dict) or "english_source" not in meta["tinymlkit"]:
        meta["tinymlkit"] = {"language": normalize_language(lang), "english_source": source}
    return out


#: What autograding writes at the top of a test cell that a student deleted and nbgrader put back
#: (nbgrader's ``OverwriteCells.missing_cell_notification``, English in nbgrader 0.9), in the package's
#: catalogues so that a translated lab's feedback says it in the student's language
#: (grading/languages.py). ``{cell_id}``: the cell's grade_id.
MISSING_CELL_NOTICE = N_("This cell (id:{cell_id}) was missing from the submission. It was added back by nbgrader.")


def translate_cell_source(source: str, cell_type: str, document: str, lang: str, *,
                          target: str | None = None, i18n_dir: pathlib.Path = I18N_DIR) -> str:
    """One cell of an English document, translated the way :func:`translate_document` translates it
    in place (str → str): for grading, which holds the cells nbgrader recorded (a lab's test cells
    *with* their hidden tests, which no release has) and needs them in the student's language.

    Args:
        source: the English cell source (str).
        cell_type: ``"markdown"`` or ``"code"``; any other type is returned unchanged.
        document: the English document whose catalogue is used (``solutions/<lab>/<lab>.ipynb``).
        lang: a course language (``"es"``, ``"pt_BR"``, ``"fr"``).
        target: where the translated document lives (``labs/<lang>/<lab>/<lab>.ipynb``): relative
            path literals are rewritten for it, as :func:`release_labs` does.
    Returns:
        str; untranslated or fuzzy messages stay English, and with no catalogue the cell is returned
        as it is.
    Raises:
        TranslationError: the translated code cell would differ from English in more than comments
            and strings.
    """
    import posixpath

    translations = _translations(document, normalize_language(lang), i18n_dir)
    relocate = None
    if target is not None and posixpath.dirname(document) != posixpath.dirname(target):
        english_dir, new_dir = posixpath.dirname(document), posixpath.dirname(target)
        relocate = lambda t: relocate_path(t, english_dir, new_dir)  # noqa: E731
    return _translate_cell(source, cell_type, translations, relocate, f"{document} ({lang})")


def _translate_cell(source: str, cell_type: str | None, translations: dict[str, str], relocate,
                    where: str) -> str:
    """One cell translated: markdown by block, code in its comments and read strings only (checked
    by :func:`code_cell_differences`; ``where`` names the cell in the TranslationError)."""
    if cell_type == "markdown":
        return translate_markdown(source, translations, relocate)
    if cell_type != "code":
        return source
    new = translate_code(source, translations, relocate)
    fault = code_cell_differences(source, new)
    if fault:
        raise TranslationError(f"{where}: {fault}")
    return new


def translate_document(document: str, lang: str, root: pathlib.Path = ROOT,
                       i18n_dir: pathlib.Path = I18N_DIR, *, source: str | None = None,
                       target: str | None = None, mirrored=None, anchors=None) -> bytes:
    """The translated bytes of an English document (``.ipynb`` or ``.md``) relative to ``root``,
    from its catalogue (untranslated or fuzzy messages stay English). Notebooks are written the way
    ``nbformat`` writes them (indent 1, sorted keys, trailing newline).

    Args:
        document: the English document whose catalogue is used (repository-relative str).
        source: the file to translate, if not ``document`` itself (e.g. the English *student* lab
            ``labs/<lab>/<lab>.ipynb``, translated with its solution's catalogue).
        target: where the translation will live (repository-relative path of the file); relative
            links and path literals are rewritten for it (:func:`relocate_path`).
        mirrored, anchors: see :func:`relocate_path` (``anchors("")`` is this document's own map).
    Raises:
        TranslationError: the document or catalogue cannot be read, or a code cell would change.
    """
    import posixpath

    translations = _translations(document, lang, i18n_dir)
    source = source or document
    path = root / source
    relocate = None
    if target is not None:
        english_dir, new_dir = posixpath.dirname(source), posixpath.dirname(target)
        if english_dir != new_dir or mirrored is not None:
            own = (lambda p: anchors(p or source)) if anchors is not None else None
            relocate = lambda t: relocate_path(t, english_dir, new_dir, mirrored, own)  # noqa: E731
    if not path.is_file():
        raise TranslationError(f"{path}: no such document")
    if source.endswith(".md"):
        return translate_markdown(path.read_text(encoding="utf-8"), translations, relocate).encode("utf-8")
    notebook = translate_notebook(_load_notebook(path), translations, lang, source, relocate)
    return (json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Checks


_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%(?:\([a-z_]+\))?[-+#0]*\d*(?:\.\d+)?[sdifr](?![\w])|`[^`]*`|\$[^$]+\$|\]\([^)]*\)")


def placeholder_faults(msgid: str, msgstr: str) -> list[str]:
    """What a translation lost or changed of the things it must keep as they are: ``{...}``
    format fields, ``%s``-style fields, inline code, ``$math$``, link targets ``](...)`` and the
    numbers (list of str, empty when none)."""
    faults = []
    for token in sorted(set(_PLACEHOLDER.findall(msgid))):
        if msgid.count(token) > msgstr.count(token):
            faults.append(f"keep {token!r} as in English")
    # a number is its digits: 16,000 / 16.000 / 16 000 and 0.94 / 0,94 are the same number
    numbers = lambda s: [re.sub(r"[^\d]", "", n) for n in re.findall(
        r"(?<![\w.])\d+(?:[.,\u00a0\u202f ]\d{3})*(?:[.,]\d+)?", _PLACEHOLDER.sub(" ", s))]
    have = numbers(msgstr)
    missing = []
    for n in numbers(msgid):
        if n in have:
            have.remove(n)
        else:
            missing.append(n)
    if missing:
        faults.append(f"numbers missing: {', '.join(sorted(set(missing)))}")
    return faults


@dataclasses.dataclass(frozen=True)
class GlossaryTerm:
    """One row of ``i18n/<lang>/glossary.csv``: an English term, its translation, the other
    accepted forms (plurals, stems) and a note for translators."""

    term: str
    translation: str
    accepted: tuple[str, ...]
    note: str

    def pattern(self) -> re.Pattern:
        """The English term as a whole word, singular or plural, any case."""
        return re.compile(r"(?<![\w-])" + re.escape(self.term) + r"(e?s)?(?![\w-])",
                          re.IGNORECASE if not self.term.isupper() else 0)


def load_glossary(lang: str, i18n_dir: pathlib.Path = I18N_DIR) -> list[GlossaryTerm]:
    """The glossary of a language (list of :class:`GlossaryTerm`, file order).

    Raises:
        TranslationError: the file is missing or a row lacks a term or translation.
    """
    path = i18n_dir / normalize_language(lang) / "glossary.csv"
    try:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
    except OSError as exc:
        raise TranslationError(f"{path}: the glossary cannot be read ({exc})") from exc
    terms = []
    for number, row in enumerate(rows, 2):
        if not (row.get("term") or "").strip() or not (row.get("translation") or "").strip():
            raise TranslationError(f"{path}, line {number}: every row needs a term and a translation")
        accepted = tuple(x for x in [row["translation"], *(row.get("accepted") or "").split("|")] if x.strip())
        terms.append(GlossaryTerm(row["term"].strip(), row["translation"].strip(), accepted, row.get("note", "")))
    return terms


#: Names that contain a glossary term but are not it ("Windows" is not a signal window).
_PROPER_NOUNS = re.compile(r"\bWindows\b|\bWindow(s)? Manager\b|TensorFlow Lite for Microcontrollers|"
                           r"\{[^{}]*\}")


def glossary_faults(msgid: str, msgstr: str, glossary: list[GlossaryTerm]) -> list[str]:
    """The glossary terms that ``msgid`` uses (outside code spans and links) but ``msgstr`` does
    not render with the glossary's translation (list of str, e.g. ``"tensor arena → arena de
    tensores"``)."""
    bare_id = _PROPER_NOUNS.sub(" ", _LINK_TARGET.sub(" ", _CODE_SPAN.sub(" ", msgid)))
    bare_str = _LINK_TARGET.sub(" ", _CODE_SPAN.sub(" ", msgstr)).lower().replace("\u2019", "'")
    faults = []
    for term in glossary:
        if term.pattern().search(bare_id) and not any(a.lower().replace("\u2019", "'") in bare_str for a in term.accepted):
            faults.append(f"{term.term} → {term.translation}")
    return faults


def coverage(lang: str, documents=None, root: pathlib.Path = ROOT, i18n_dir: pathlib.Path = I18N_DIR) -> dict:
    """Catalogue coverage of one language, by words of English (what a translator reads).

    Returns:
        {"documents": {document: fraction 0..1}, "overall": fraction, "priority": fraction over
        :data:`PRIORITY_DOCUMENTS`, "words": total English words}. A message counts as translated
        when its catalogue entry is non-empty and not fuzzy, for the *current* English text.
    """
    import fnmatch

    per_doc, total_words, done_words, prio_total, prio_done = {}, 0, 0, 0, 0
    for document in documents or source_documents(root):
        translations = _translations(document, lang, i18n_dir)
        words = done = 0
        for message in extract_messages(root / document):
            n = len(message.msgid.split())
            words += n
            done += n if translations.get(message.msgid) else 0
        per_doc[document] = done / words if words else 1.0
        total_words += words
        done_words += done
        if any(fnmatch.fnmatch(document, pat) for pat in PRIORITY_DOCUMENTS):
            prio_total += words
            prio_done += done
    return {"documents": per_doc, "overall": done_words / total_words if total_words else 1.0,
            "priority": prio_done / prio_total if prio_total else 1.0, "words": total_words}


# ---------------------------------------------------------------------------------------------
# Translator's helpers (JSON in and out, for people and tools that do not edit .po by hand)


def export_todo(lang: str, documents, out: pathlib.Path, include_done: bool = False,
                i18n_dir: pathlib.Path = I18N_DIR) -> int:
    """Write the untranslated and fuzzy entries of some catalogues to a JSON file: a list of
    {"catalogue", "msgid", "msgstr", "fuzzy", "comment"}. Returns how many entries it wrote."""
    todo = []
    for document in documents:
        path = catalogue_path(document, lang, i18n_dir)
        for m in read_catalogue(path, lang):
            if m.id and (include_done or not m.string or m.fuzzy):
                todo.append({"catalogue": str(path.relative_to(i18n_dir.parent)), "msgid": m.id,
                             "msgstr": m.string, "fuzzy": bool(m.fuzzy), "comment": "; ".join(m.auto_comments)})
    out.write_text(json.dumps(todo, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(todo)


def export_package_todo(lang: str, out: pathlib.Path, include_done: bool = False) -> int:
    """Like :func:`export_todo` for the package's own catalogue
    (``tinymlkit/locale/<lang>/LC_MESSAGES/tinymlkit.po``). Returns how many entries it wrote."""
    lang = normalize_language(lang)
    path = pathlib.Path(__file__).resolve().parent / "locale" / lang / "LC_MESSAGES" / "tinymlkit.po"
    todo = [{"catalogue": str(path.relative_to(ROOT)), "msgid": m.id, "msgstr": m.string, "fuzzy": bool(m.fuzzy),
             "comment": "; ".join(f"{f}" for f, _ in m.locations)}
            for m in read_catalogue(path, lang) if m.id and (include_done or not m.string or m.fuzzy)]
    out.write_text(json.dumps(todo, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(todo)


def import_todo(path: pathlib.Path, root: pathlib.Path = ROOT) -> int:
    """Read a JSON file written by :func:`export_todo` with ``msgstr`` filled in and store every
    non-empty translation in its catalogue (clearing *fuzzy*). Returns how many it stored.

    Raises:
        TranslationError: an entry names a catalogue or msgid that does not exist.
    """
    entries = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    by_catalogue: dict[str, list[dict]] = {}
    for entry in entries:
        by_catalogue.setdefault(entry["catalogue"], []).append(entry)
    stored = 0
    for name, items in by_catalogue.items():
        po_path = root / name
        catalog = read_catalogue(po_path)
        for entry in items:
            if not entry.get("msgstr"):
                continue
            message = catalog.get(entry["msgid"])
            if message is None:
                close = difflib.get_close_matches(entry["msgid"], [m.id for m in catalog if m.id], n=1)
                raise TranslationError(f"{path}: {name} has no msgid {entry['msgid'][:60]!r}"
                                       + (f" (closest: {close[0][:60]!r})" if close else ""))
            message.string = entry["msgstr"]
            message.flags.discard("fuzzy")
            stored += 1
        _drop_stale_hints(catalog)
        write_catalogue(catalog, po_path)
    return stored


def check_catalogue(document: str, lang: str, root: pathlib.Path = ROOT, i18n_dir: pathlib.Path = I18N_DIR) -> list[str]:
    """Every fault of one catalogue, as sentences naming the catalogue and the message: entries
    empty or fuzzy, English text the catalogue lacks (run ``make i18n-update``), lost placeholders
    or numbers (:func:`placeholder_faults`), glossary terms not used (:func:`glossary_faults`),
    and a translated code cell that would change the code (:func:`code_cell_differences`).

    Returns:
        list of str, empty when the catalogue is complete and correct.
    """
    lang = normalize_language(lang)
    path = catalogue_path(document, lang, i18n_dir)
    try:
        catalog = read_catalogue(path, lang)
    except TranslationError as exc:
        return [str(exc)]
    glossary = load_glossary(lang, i18n_dir)
    faults = []
    name = path.relative_to(i18n_dir.parent) if i18n_dir.parent in path.parents else path
    entries = {m.id: m for m in catalog if m.id}
    for message in extract_messages(root / document):
        entry = entries.get(message.msgid)
        short = message.msgid[:70].replace("\n", " ")
        if entry is None:
            faults.append(f"{name}: {message.location} is not in the catalogue (the English changed? run "
                          f"`make i18n-update`): {short!r}")
        elif not entry.string:
            faults.append(f"{name}: {message.location} is untranslated: {short!r}")
        elif entry.fuzzy:
            faults.append(f"{name}: {message.location} is fuzzy (its English changed; revise the translation "
                          f"and remove the fuzzy flag): {short!r}")
        else:
            for fault in placeholder_faults(entry.id, entry.string) + glossary_faults(entry.id, entry.string, glossary):
                faults.append(f"{name}: {message.location}: {fault}: {short!r}")
    try:
        translate_document(document, lang, root, i18n_dir)
    except TranslationError as exc:
        faults.append(str(exc))
    return faults


# ---------------------------------------------------------------------------------------------
# Building the translated course


#: Pages of the book that have no catalogue and are copied into a translated tree as they are
#: (data cards and the download registry's sources), as glob patterns.
_COPIED_PAGES = ("tinymlkit/data/**/*.md",)


def _labs(root: pathlib.Path) -> list[str]:
    return sorted(p.name for p in (root / "solutions").glob("lab*") if p.is_dir())


def build_tree(lang: str, out: pathlib.Path | None = None, root: pathlib.Path = ROOT,
               i18n_dir: pathlib.Path = I18N_DIR) -> pathlib.Path:
    """Write the translated course of one language to ``out`` (default
    ``build/i18n/<lang>/``): README, book pages, modules, hardware and grading guides translated;
    the student labs copied from ``labs/<lang>/`` (made by :func:`release_labs`) to where the
    English labs are; data cards copied. Links between pages stay inside the tree; other relative links and the path
    literals of code cells are rewritten to reach the repository's files. ``make book LANG=<lang>``
    builds the book from this tree and ``make lab LANG=<lang>`` opens it in JupyterLab.

    Returns:
        the tree's folder (pathlib.Path).
    Raises:
        TranslationError: a catalogue or document cannot be read, or a code cell would change.
    """
    import shutil

    lang = normalize_language(lang)
    out = pathlib.Path(out) if out else root / "build" / "i18n" / lang
    prefix = str(out.resolve().relative_to(root.resolve())) if out.resolve().is_relative_to(root.resolve()) else None
    if prefix is None:
        raise TranslationError(f"{out}: the translated tree must be inside {root} (its links are relative)")
    documents = [d for d in source_documents(root) if not d.startswith("solutions/")]
    # The student labs: the committed translated releases (labs/<lang>/, made by `make release`),
    # placed where the English ones are in the tree. Only they are read, never the solutions'
    # catalogues, so the tree builds from a student bundle (which has neither solutions/ nor them).
    labs = {f"labs/{p.parent.name}/{p.name}": str(p.relative_to(root))
            for p in sorted((root / "labs" / lang).glob("lab*/*.ipynb"))
            if (root / "labs" / p.parent.name / p.name).is_file()}
    copied = sorted({str(p.relative_to(root)) for pat in _COPIED_PAGES for p in root.glob(pat)})
    in_tree = set(documents) | set(labs) | set(copied)
    mirrored = lambda repo_path: f"{prefix}/{repo_path}" if repo_path in in_tree else None  # noqa: E731
    maps: dict[str, dict[str, str]] = {}  # headings are translated: so are the anchors that name them
    for document in documents:
        maps[document] = anchor_map(_document_text((root / document).read_bytes(), document),
                                    _document_text(translate_document(document, lang, root, i18n_dir), document))
    for student, release in labs.items():
        maps[student] = maps[release] = anchor_map(_document_text((root / student).read_bytes(), student),
                                                   _document_text((root / release).read_bytes(), release))
    anchors = lambda repo_path: maps.get(repo_path, {})  # noqa: E731
    if out.exists():
        shutil.rmtree(out)
    for document in documents:
        data = translate_document(document, lang, root, i18n_dir, target=f"{prefix}/{document}", mirrored=mirrored,
                                  anchors=anchors)
        (out / document).parent.mkdir(parents=True, exist_ok=True)
        (out / document).write_bytes(data)
    for student, release in labs.items():  # already translated: only links and paths are rewritten
        data = translate_document(release, lang, root, i18n_dir, target=f"{prefix}/{student}",
                                  mirrored=mirrored, anchors=anchors)
        (out / student).parent.mkdir(parents=True, exist_ok=True)
        (out / student).write_bytes(data)
    for page in copied:
        (out / page).parent.mkdir(parents=True, exist_ok=True)
        text = translate_markdown((root / page).read_text(encoding="utf-8"), {},
                                  lambda t, d=str(pathlib.PurePosixPath(page).parent):
                                  relocate_path(t, d, f"{prefix}/{d}", mirrored))
        (out / page).write_text(text, encoding="utf-8")
    return out


def release_labs(lang: str, labs=None, root: pathlib.Path = ROOT, i18n_dir: pathlib.Path = I18N_DIR,
                 release_dir: pathlib.Path | None = None, work_dir: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Generate the translated student labs the way the English ones are made: translate
    ``solutions/<lab>/<lab>.ipynb`` (the nbgrader source) into ``build/i18n/nbgrader/<lang>/``, then
    run ``nbgrader generate_assignment`` with the course's configuration (``grading/``) and copy
    the release to ``labs/<lang>/<lab>/<lab>.ipynb`` (``make release``; ``release_dir`` replaces
    ``labs/<lang>`` for a check, the content is still made for that place; ``work_dir`` replaces
    ``build/i18n/nbgrader/<lang>``, nbgrader's course folder). The grade_ids, points
    and locked flags are the English ones, so one gradebook grades every language.

    Returns:
        the written notebooks (list of pathlib.Path).
    Raises:
        TranslationError: translating failed, or nbgrader failed (its last lines are in the message).
    """
    import shutil
    import subprocess
    import sys

    lang = normalize_language(lang)
    release_dir = release_dir or root / "labs" / lang
    course = pathlib.Path(work_dir) if work_dir else root / "build" / "i18n" / "nbgrader" / lang
    chosen = list(labs or _labs(root))
    if labs is None and (course / "solutions").exists():
        shutil.rmtree(course / "solutions")  # every lab: nbgrader's "*" then matches exactly these
    for lab in chosen:
        document = f"solutions/{lab}/{lab}.ipynb"
        target = f"labs/{lang}/{lab}/{lab}.ipynb"  # where students open it: paths are relative to there
        source = course / "solutions" / lab / f"{lab}.ipynb"
        if course.joinpath("solutions", lab).exists():
            shutil.rmtree(course / "solutions" / lab)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(translate_document(document, lang, root, i18n_dir, target=target))
    # one nbgrader run for every lab (its assignment id is a glob), else one per lab
    for assignment in (["*"] if labs is None else chosen):
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                               "--no-db", f"--CourseDirectory.root={course}", "--log-level=WARN"],
                              cwd=root / "grading", capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise TranslationError(f"nbgrader generate_assignment {assignment} ({lang}) failed:\n{proc.stderr[-2000:]}")
    written = []
    for lab in chosen:
        made = course / "labs" / lab / f"{lab}.ipynb"
        if not made.is_file():
            raise TranslationError(f"nbgrader generate_assignment ({lang}) made no {made}")
        (release_dir / lab).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, release_dir / lab / f"{lab}.ipynb")
        written.append(release_dir / lab / f"{lab}.ipynb")
    return written


def _package_messages(package_dir: pathlib.Path):
    """Babel's extraction of the ``_()``/``N_()`` messages in ``tinymlkit/*.py``: an iterator of
    (file name, line, message, translator comments, context)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    return extract_from_dir(package_dir, method_map=[("*.py", "python")], keywords=DEFAULT_KEYWORDS,
                            comment_tags=("Translators:",))


def update_package_catalogues(languages=None, package_dir: pathlib.Path | None = None) -> dict[str, dict[str, int]]:
    """Extract the package's own messages (``_()``/``N_()`` in ``tinymlkit/*.py``: the doctor, the
    command line, the widgets) with Babel's Python extractor and create or update
    ``tinymlkit/locale/<lang>/LC_MESSAGES/tinymlkit.po`` (changed messages become fuzzy).

    Returns:
        {catalogue path (str): :func:`catalogue_status`}.
    """
    from babel.messages.catalog import Catalog

    package_dir = package_dir or pathlib.Path(__file__).resolve().parent
    template = Catalog(project="TinyML Lab Kit", creation_date=_FIXED_DATE, revision_date=_FIXED_DATE, fuzzy=False)
    for filename, lineno, message, comments, context in _package_messages(package_dir):
        template.add(message, locations=[(f"tinymlkit/{filename}", None)], auto_comments=comments,
                     flags=("python-brace-format",) if "{" in (message if isinstance(message, str) else message[0]) else ())
    out = {}
    for lang in [normalize_language(x) for x in (languages or LANGUAGES)]:
        path = package_dir / "locale" / lang / "LC_MESSAGES" / "tinymlkit.po"
        if path.exists():
            catalog = read_catalogue(path, lang)
        else:
            catalog = Catalog(locale=lang, project="TinyML Lab Kit", fuzzy=False,
                              header_comment="# The tinymlkit package's messages (doctor, CLI, widgets).\n"
                                             "# Run `make i18n-update` after changing a _() string.")
        catalog.update(template, no_fuzzy_matching=False)
        catalog.fuzzy = False
        _drop_stale_hints(catalog)
        catalog.creation_date = catalog.revision_date = _FIXED_DATE
        write_catalogue(catalog, path)
        out[str(path)] = catalogue_status(catalog)
    return out


def check_package_catalogue(lang: str, package_dir: pathlib.Path | None = None) -> list[str]:
    """The faults of ``tinymlkit/locale/<lang>/LC_MESSAGES/tinymlkit.po`` (list of str): messages
    of the code missing from it, empty or fuzzy entries, lost ``{fields}`` or numbers."""
    lang = normalize_language(lang)
    package_dir = package_dir or pathlib.Path(__file__).resolve().parent
    path = package_dir / "locale" / lang / "LC_MESSAGES" / "tinymlkit.po"
    try:
        catalog = read_catalogue(path, lang)
    except TranslationError as exc:
        return [str(exc)]
    entries = {m.id: m for m in catalog if m.id}
    faults = []
    for filename, lineno, message, _c, _x in _package_messages(package_dir):
        where = f"{path.name} ({lang}), tinymlkit/{filename}:{lineno}"
        entry = entries.get(message)
        if entry is None:
            faults.append(f"{where}: not in the catalogue (run `make i18n-update`): {str(message)[:60]!r}")
        elif not entry.string:
            faults.append(f"{where}: untranslated: {str(message)[:60]!r}")
        elif entry.fuzzy:
            faults.append(f"{where}: fuzzy (the English changed): {str(message)[:60]!r}")
        else:
            faults += [f"{where}: {f}: {str(message)[:60]!r}" for f in placeholder_faults(str(entry.id), str(entry.string))]
    return faults


def main(argv: list[str] | None = None) -> int:
    """``tinymlkit translations <update|build|release|check|coverage> [LANG ...]``: the Makefile's
    i18n targets. Returns the exit status (1 when ``check`` finds faults)."""
    import argparse

    parser = argparse.ArgumentParser(prog="tinymlkit translations",
                                     description="the course's gettext catalogues (es, pt_BR, fr)")
    parser.add_argument("action", choices=("update", "build", "release", "check", "coverage"))
    parser.add_argument("languages", nargs="*", help=f"default: all ({', '.join(LANGUAGES)})")
    args = parser.parse_args(argv)
    try:
        languages = [normalize_language(x) for x in args.languages] or list(LANGUAGES)
        if args.action == "update":
            status = update_catalogues(languages)
            status.update(update_package_catalogues(languages))
            for path, s in status.items():
                if s["empty"] or s["fuzzy"]:
                    print(f"{pathlib.Path(path).relative_to(ROOT)}: {s['empty']} untranslated, {s['fuzzy']} fuzzy")
            print(f"{len(status)} catalogues up to date with the English sources")
        elif args.action == "build":
            for lang in languages:
                print(f"{build_tree(lang).relative_to(ROOT)}/: the course in {LANGUAGES[lang]}")
        elif args.action == "release":
            for lang in languages:
                for path in release_labs(lang):
                    print(f"{path.relative_to(ROOT)} regenerated from solutions/ and "
                          f"i18n/{lang}/LC_MESSAGES/solutions/")
        elif args.action == "check":
            faults = []
            for lang in languages:
                for document in source_documents():
                    faults += check_catalogue(document, lang)
                faults += check_package_catalogue(lang)
            print("\n".join(faults) or "every catalogue is complete and correct")
            return 1 if faults else 0
        else:
            for lang in languages:
                c = coverage(lang)
                print(f"{lang}: {c['overall']:.1%} of {c['words']:,} English words translated; "
                      f"modules 00-05, labs 01-06, instructor's guide {c['priority']:.1%}")
    except TranslationError as exc:
        print(f"tinymlkit translations: {exc}")
        return 1
    return 0
