"""Find model answers and hidden tests in a folder meant for students (the ``make bundle`` check).

The student bundle is checked by what it holds, not by the list of paths make_bundle.py leaves out:
:func:`scan_for_answers` walks every file, opens archives (``.tar.gz``, ``.zip``, ``.whl``...) inside
archives, and reports

- nbgrader's markers (BEGIN/END SOLUTION, HIDDEN TESTS, MARK SCHEME) in any text file;
- notebook cells whose nbgrader metadata says ``"solution": true`` holding more than the stub
  ``raise NotImplementedError()`` / ``YOUR ANSWER HERE`` the released labs show;
- distinctive lines of ``solutions/*/*.ipynb`` (:func:`answer_lines`): the lines of model answers
  and hidden tests that are 40 characters or longer and that neither the released ``labs/`` nor
  the public files named by the caller (make_bundle.py: the tinymlkit package) already hold;
- a ``solutions`` folder, and database files (an nbgrader gradebook is ``gradebook.db``).

Course files (the git archive, the tinymlkit wheel, the book, INSTALL.md) are searched for the
answer lines anywhere in their text. Third-party wheels and source archives (about 700 MB of text
in TensorFlow's headers and everyone's Python) are searched line by line, a stripped line equal to
an answer line, which is fast. nbgrader's own wheel carries the markers and the example solution
notebooks it is made to process (:data:`MARKER_PROJECTS`): only answer lines are looked for there.
Binary files (shared libraries, images, audio, fonts) are recognised by suffix or by a NUL byte in
their first 8 KiB and are not read further. Used by scripts/make_bundle.py (issue #12).
"""

from __future__ import annotations

import ast
import gzip
import html
import io
import json
import pathlib
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Iterable

#: nbgrader's delimiters of answers, hidden tests and mark schemes (written with \s+ so that this
#: file does not match itself).
MARKER = re.compile(r"BEGIN\s+(?:SOLUTION|HIDDEN\s+TESTS|MARK\s+SCHEME)")
_SOLUTION_BLOCK = re.compile(r"BEGIN\s+SOLUTION[^\n]*\n(.*?)\n[^\n]*END\s+SOLUTION", re.S)
_HIDDEN_BLOCK = re.compile(r"BEGIN\s+HIDDEN\s+TESTS[^\n]*\n(.*?)\n[^\n]*END\s+HIDDEN\s+TESTS", re.S)
#: Shorter lines are too common to be evidence: at 25-39 characters ``for c in range(n_classes):``
#: is in scikit-learn, ``return dataclasses.replace(`` in TensorFlow and ``rng =
#: np.random.default_rng(3)`` in tests/; tests/test_book.py uses the same 40 for the book.
MIN_LINE_CHARS = 40
#: Third-party projects whose wheels legitimately hold nbgrader markers and solution cells.
MARKER_PROJECTS = {"nbgrader"}
#: Problems of each kind (markers, cells, lines) reported per file at most: a copied solutions
#: notebook matches hundreds of lines.
MAX_PER_FILE = 3
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_ZIP_SUFFIXES = (".zip", ".whl")
_BINARY_SUFFIXES = {
    ".so", ".pyd", ".dll", ".dylib", ".a", ".o", ".lib", ".exe", ".bin", ".pyc", ".png", ".jpg",
    ".jpeg", ".gif", ".ico", ".webp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".opus", ".wav",
    ".mp3", ".flac", ".ogg", ".npy", ".npz", ".h5", ".tflite", ".pb", ".pdf", ".mo", ".db-journal"}
_STUB_MARKDOWN = {"", "YOUR ANSWER HERE"}


@dataclass
class _Scan:
    """What one scan looks for and what it found."""

    answers: dict[str, str]
    problems: list[str] = field(default_factory=list)


def answer_lines(solutions_dir: pathlib.Path, labs_dir: pathlib.Path | None = None,
                 public: Iterable[pathlib.Path] = ()) -> dict[str, str]:
    """The distinctive lines of the model answers and hidden tests in ``solutions_dir/*/*.ipynb``.

    Taken from code between the SOLUTION markers, the whole of a solution cell without markers
    (nbgrader replaces all of it), markdown answer cells, and code between the HIDDEN TESTS
    markers. Lines are stripped; those shorter than :data:`MIN_LINE_CHARS`, marker lines, and
    lines the released notebooks in ``labs_dir`` or the ``public`` files also contain are dropped.

    Args:
        solutions_dir: the nbgrader source folder (``solutions/``).
        labs_dir: the released labs (default: ``labs/`` beside ``solutions_dir``).
        public: text files students get by design, whose lines are no secret (make_bundle.py
            passes ``tinymlkit/**/*.py``: the labs call that library, and a few model answers
            are one of its lines, e.g. ``np.clip(q, -128, 127)`` in quantize.py).
    Returns:
        {stripped line: where it comes from, e.g. ``"hidden test in solutions/lab01_motion_data/
        lab01_motion_data.ipynb cell 'make-windows-tests'"``}.
    Raises:
        ValueError: ``solutions_dir`` holds no notebook or no answer line, so a scan would prove
            nothing.
    """
    labs_dir = labs_dir or solutions_dir.parent / "labs"
    released = "\n".join(["".join(c.get("source", "")) for nb in sorted(labs_dir.glob("*/*.ipynb"))
                          for c in json.loads(nb.read_text())["cells"]]
                         + [p.read_text(errors="replace") for p in public])
    notebooks = sorted(solutions_dir.glob("*/*.ipynb"))
    if not notebooks:
        raise ValueError(f"'{solutions_dir}' holds no */*.ipynb: no answers to look for")
    found: dict[str, str] = {}
    for nb in notebooks:
        name = nb.relative_to(solutions_dir.parent).as_posix()
        for cell in json.loads(nb.read_text())["cells"]:
            src = "".join(cell.get("source", ""))
            meta = cell.get("metadata", {}).get("nbgrader", {})
            blocks = [("hidden test", b) for b in _HIDDEN_BLOCK.findall(src)]
            if meta.get("solution"):
                inside = _SOLUTION_BLOCK.findall(src)
                blocks += [("model answer", b) for b in (inside or [src])]
            for kind, block in blocks:
                for line in block.splitlines():
                    line = line.strip()
                    if len(line) >= MIN_LINE_CHARS and not MARKER.search(line) and line not in released:
                        found.setdefault(line, f"{kind} in {name} cell '{meta.get('grade_id', '?')}'")
    if not found:
        raise ValueError(f"found no answer lines in '{solutions_dir}': nothing to look for")
    return found


def _answer_line(cell: dict) -> str | None:
    """The first line of an nbgrader solution cell that is more than the released stub.

    A markdown cell is a stub when it is ``YOUR ANSWER HERE`` or empty; a code cell when every
    statement is an import, a docstring, ``pass``/``...`` or ``raise NotImplementedError...``, or a
    function or class whose body is only those. Returns None for a stub.
    """
    src = "".join(cell.get("source", ""))
    if cell.get("cell_type") != "code":
        lines = [line.strip() for line in src.splitlines() if line.strip()]
        return None if src.strip() in _STUB_MARKDOWN else lines[0]
    try:
        tree = ast.parse(src)
    except SyntaxError as exc:
        return f"(does not parse: {exc.msg}) " + src.strip().splitlines()[0]

    def first(body: list[ast.stmt]) -> ast.stmt | None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = first(stmt.body)
                if inner is not None:
                    return inner
            elif not _stub_statement(stmt):
                return stmt
        return None

    stmt = first(tree.body)
    return None if stmt is None else src.splitlines()[stmt.lineno - 1].strip()


def _stub_statement(stmt: ast.stmt) -> bool:
    """An import, docstring, ``pass``, ``...`` or ``raise NotImplementedError``: stub material."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise):
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def scan_for_answers(bundle_dir: pathlib.Path, solutions_dir: pathlib.Path,
                     labs_dir: pathlib.Path | None = None,
                     public: Iterable[pathlib.Path] = ()) -> list[str]:
    """Every sign of a model answer or hidden test in ``bundle_dir``, archives opened recursively.

    Args:
        bundle_dir: the folder to check (a student bundle).
        solutions_dir: ``solutions/``, where the answers to look for come from (:func:`answer_lines`).
        labs_dir: the released labs (default: ``labs/`` beside ``solutions_dir``).
        public: files whose lines are public by design (see :func:`answer_lines`).
    Returns:
        one message per problem, naming the file (``archive!member!member`` inside archives) and
        the marker, cell or leaked line; ``[]`` when the folder is clean.
    Raises:
        ValueError: ``solutions_dir`` has nothing to look for (see :func:`answer_lines`), or
            ``bundle_dir`` is not a folder.
    """
    if not bundle_dir.is_dir():
        raise ValueError(f"'{bundle_dir}' is not a folder")
    scan = _Scan(answer_lines(solutions_dir, labs_dir, public))
    for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle_dir).as_posix()
        _scan_item(scan, rel, path.name, path.read_bytes, path, third_party=None)
    return scan.problems


def _project(name: str) -> str | None:
    """The project of a wheel or source archive file name (``nbgrader-0.9.5-py3-none-any.whl``)."""
    match = re.match(r"([A-Za-z0-9_.]+?)-\d", name)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def _scan_item(scan: _Scan, where: str, name: str, read: Callable[[], bytes],
               path: pathlib.Path | None, third_party: str | None) -> None:
    """Check one file (on disk or an archive member): its path, then its content or members."""
    parts = where.replace("!", "/").split("/")
    markers_allowed = third_party in MARKER_PROJECTS
    if "solutions" in parts[:-1] and not markers_allowed:
        scan.problems.append(f"{where}: a 'solutions' folder (model answers) is in the bundle")
    lower = name.lower()
    if lower.endswith((".db", ".sqlite")) and not markers_allowed:
        scan.problems.append(f"{where}: a database file (an nbgrader gradebook holds grades and tests)")
    if lower.endswith(_ZIP_SUFFIXES + _TAR_SUFFIXES):
        if third_party is None and where.startswith(("wheelhouse/", "sdist/")) and "/" not in where.split("/", 1)[1]:
            project = _project(name)
            third_party = None if project == "tinymlkit" else project
        _scan_archive(scan, where, lower, read, path, third_party)
        return
    if lower.endswith(".gz"):  # one compressed file (a .tar.gz was opened above)
        try:
            data = gzip.decompress(read())
        except (OSError, EOFError) as exc:
            if third_party is None:  # e.g. joblib's test pickles are zlib data named .gz
                scan.problems.append(f"{where}: cannot be opened to check it ({exc})")
            return
        _scan_item(scan, f"{where}!{name[:-3]}", name[:-3], lambda: data, None, third_party)
        return
    suffix = pathlib.PurePosixPath(lower).suffix
    if suffix in _BINARY_SUFFIXES or ".so." in lower:
        return
    data = read()
    if b"\0" in data[:8192]:
        return
    _scan_text(scan, where, lower, data.decode("utf-8", errors="replace"), third_party)


def _scan_archive(scan: _Scan, where: str, lower: str, read: Callable[[], bytes],
                  path: pathlib.Path | None, third_party: str | None) -> None:
    """Open a zip/wheel or tar archive (from disk, or in memory when nested) and scan each member."""
    source = path if path is not None else io.BytesIO(read())
    try:
        if lower.endswith(_ZIP_SUFFIXES):
            with zipfile.ZipFile(source) as archive:
                for info in archive.infolist():
                    if not info.is_dir():
                        _scan_item(scan, f"{where}!{info.filename}", info.filename.rsplit("/", 1)[-1],
                                   _zip_reader(archive, info), None, third_party)
        else:
            with tarfile.open(fileobj=source if path is None else None, name=path, mode="r:*") as archive:
                for member in archive:
                    if member.isfile():
                        _scan_item(scan, f"{where}!{member.name}", member.name.rsplit("/", 1)[-1],
                                   lambda m=member: archive.extractfile(m).read(), None, third_party)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if third_party is None:  # a PyPI project's broken test fixture cannot hold our answers
            scan.problems.append(f"{where}: cannot be opened to check it ({exc})")


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    """Read a zip member; only its first 8 KiB when a NUL byte there shows it is binary (a
    ``.gz`` member is read whole: it is decompressed next)."""
    def read() -> bytes:
        with archive.open(info) as member:
            head = member.read(8192)
            binary = b"\0" in head and not info.filename.lower().endswith(".gz")
            return head if binary else head + member.read()
    return read


def _scan_text(scan: _Scan, where: str, lower: str, text: str, third_party: str | None) -> None:
    """Markers, nbgrader solution cells and answer lines in the text of one file."""
    markers_allowed = third_party in MARKER_PROJECTS
    cells_found: list[str] = []
    searched = [text]
    if lower.endswith((".ipynb", ".ipynb.txt")):
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            cells = []
        searched = ["\n".join("".join(c.get("source", "")) for c in cells), text]
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            answer = _answer_line(cell) if meta.get("solution") and not markers_allowed else None
            if answer is not None:
                cells_found.append(f"nbgrader solution cell '{meta.get('grade_id', '?')}' holds an "
                                   f"answer, not the stub: {answer[:120]!r}")
    elif lower.endswith((".html", ".htm")):
        searched.append(html.unescape(re.sub(r"<[^>]+>", "", text)))
    markers: dict[str, str] = {}  # one message per kind of marker, with the first line holding it
    for part in ([] if markers_allowed else searched):
        for match in MARKER.finditer(part):
            line = part[part.rfind("\n", 0, match.start()) + 1:].split("\n", 1)[0].strip()
            kind = " ".join(match.group(0).split())
            markers.setdefault(kind, f"nbgrader marker {kind!r} in the line {line[:120]!r}")
    if third_party is not None:  # a third-party file: whole stripped lines only (fast)
        lines = {line.strip() for part in searched for line in part.splitlines()}
        leaked = [a for a in scan.answers if a in lines]
    else:
        leaked = [a for a in scan.answers if any(a in part for part in searched)]
    for group in (list(markers.values()), cells_found, [f"{scan.answers[a]}: {a[:120]!r}" for a in leaked]):
        shown = [f"{where}: {message}" for message in group[:MAX_PER_FILE]]
        if len(group) > MAX_PER_FILE:
            shown[-1] += f" (and {len(group) - MAX_PER_FILE} more like it)"
        scan.problems += shown
