"""Collect a class's submissions from an LMS zip or a USB-stick folder, safely.

A submission is a top-level entry of the zip or folder, named by the LMS or the instructor:

* a file ``<student id>_<anything>.ipynb`` (``amina.k_lab01.ipynb``), or
* a folder ``<student id>`` or ``<student id>_<anything>`` holding the student's notebook.

The student id is taken from that top-level name only, never from a name inside a student's
upload (a file named after a classmate is still its uploader's). Student id: letters, digits,
``.`` and ``-``. Every problem is reported for its student and the class is still collected:

* a member larger than ``max_file_bytes``, more than ``max_members`` members or more than
  ``max_student_bytes`` in one student's entry (a zip bomb);
* a nested archive (zip, tar, gzip …), a link, a path outside the folder (``..``, absolute);
* two entries for one student (``amina.k_lab01.ipynb`` and ``amina.k_lab01 (1).ipynb``): neither
  is graded, the summary says which files to choose from;
* a notebook that is not valid JSON or not a notebook: the summary gives the reader's error.

A whole archive with more than ``max_total_members`` members, or whose members within the per-file
limit add up to more than ``max_total_bytes``, is refused before anything is extracted. Extraction streams with a byte count (constant memory) and
writes each notebook atomically. Only notebooks are taken: a submission's other files are listed
and left behind (they never reach the kernel or the feedback folder).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import stat
import tempfile
import zipfile

import nbformat

STUDENT_ID = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9.\-]*?)(?:_(?P<rest>.*))?$")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".whl", ".jar", ".zst")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"\x28\xb5\x2f\xfd")
CHUNK = 1 << 20


class CollectionError(RuntimeError):
    """The whole archive or folder is refused (nothing was collected); the message says why."""


@dataclasses.dataclass(frozen=True)
class CollectLimits:
    """Size limits of a collection (bytes are uncompressed sizes).

    Attributes:
        max_file_bytes: one file of a submission (a lab notebook with its plots is 1–5 MB).
        max_student_bytes: all files of one student's entry.
        max_members: files in one student's entry.
        max_total_bytes: the whole archive or folder.
        max_total_members: files in the whole archive or folder.
    """

    max_file_bytes: int = 50 * 1024**2
    max_student_bytes: int = 100 * 1024**2
    max_members: int = 200
    max_total_bytes: int = 2 * 1024**3
    max_total_members: int = 20_000


@dataclasses.dataclass
class Collected:
    """The outcome of a collection.

    Attributes:
        students: {student id: path of ``submitted/<id>/<lab>/<lab>.ipynb``} ready to grade.
        problems: {student id or entry name: why it is not graded}.
        notes: {student id: something the grader should know (a rename, files left behind)}.
    """

    students: dict[str, pathlib.Path] = dataclasses.field(default_factory=dict)
    problems: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Member:
    path: str            # path inside the entry, '/'-separated
    size: int
    is_link: bool
    open: object         # () -> binary file object
    in_folder: bool = True   # False: the entry is this one top-level file


def _zip_entries(archive: pathlib.Path, limits: CollectLimits) -> dict[str, list[_Member]]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CollectionError(f"'{archive}' is not a readable zip file: {exc}") from exc
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > limits.max_total_members:
        raise CollectionError(f"'{archive}' holds {len(infos):,} files (limit {limits.max_total_members:,}): "
                              "not a class's submissions")
    # members over the per-file limit are refused one by one (their student is told); the rest must fit
    total = sum(i.file_size for i in infos if i.file_size <= limits.max_file_bytes)
    if total > limits.max_total_bytes:
        biggest = sorted(infos, key=lambda i: -i.file_size)[:3]
        raise CollectionError(f"'{archive}' unpacks to {total:,} bytes (limit {limits.max_total_bytes:,}); "
                              "largest: " + ", ".join(f"'{i.filename}' {i.file_size:,} B" for i in biggest))
    entries: dict[str, list[_Member]] = {}
    for info in infos:
        name = info.filename.replace("\\", "/")
        top, _, rest = name.lstrip("/").partition("/")
        mode = info.external_attr >> 16
        member = _Member(path=name if name.startswith("/") or ".." in name.split("/") else (rest or top),
                         size=info.file_size, is_link=stat.S_ISLNK(mode), open=lambda i=info: zf.open(i),
                         in_folder=bool(rest))
        entries.setdefault(top, []).append(member)
    return entries


def _folder_entries(folder: pathlib.Path, limits: CollectLimits) -> dict[str, list[_Member]]:
    entries: dict[str, list[_Member]] = {}
    count = total = 0
    for top in sorted(folder.iterdir()):
        members = entries.setdefault(top.name, [])
        paths = [top] if not top.is_dir() or top.is_symlink() else sorted(
            p for p in top.rglob("*") if p.is_symlink() or not p.is_dir())
        for path in paths:
            link = path.is_symlink()
            size = 0 if link else path.stat().st_size
            count, total = count + 1, total + (size if size <= limits.max_file_bytes else 0)
            rel = path.name if path == top else path.relative_to(top).as_posix()
            members.append(_Member(path=rel, size=size, is_link=link, open=lambda p=path: open(p, "rb"),
                                   in_folder=path != top))
        if count > limits.max_total_members or total > limits.max_total_bytes:
            raise CollectionError(f"'{folder}' holds over {limits.max_total_members:,} files or "
                                  f"{limits.max_total_bytes:,} bytes: not a class's submissions")
    return entries


def _problem(member: _Member, limits: CollectLimits) -> str | None:
    parts = member.path.split("/")
    if member.is_link:
        return f"'{member.path}' is a link"
    if member.path.startswith("/") or ".." in parts or re.match(r"^[A-Za-z]:", member.path):
        return f"'{member.path}' points outside its folder"
    if member.path.lower().endswith(ARCHIVE_SUFFIXES):
        return f"'{member.path}' is an archive inside the submission (upload the notebook itself)"
    if member.size > limits.max_file_bytes:
        return f"'{member.path}' is {member.size:,} bytes (limit {limits.max_file_bytes:,})"
    return None


def _copy_limited(member: _Member, dest: pathlib.Path, limit: int) -> None:
    """Stream ``member`` to ``dest`` atomically, refusing more than ``limit`` bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".collect-")
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, member.open() as src:
            head = src.read(8)
            if head.startswith(ARCHIVE_MAGIC):
                raise ValueError(f"'{member.path}' is an archive inside the submission (upload the notebook itself)")
            out.write(head)
            written = len(head)
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ValueError(f"'{member.path}' unpacks to more than {limit:,} bytes")
                out.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


def read_problem(path: pathlib.Path) -> str | None:
    """Why ``path`` is not a notebook nbgrader can grade (the reader's own words), or None."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any reader error is the student's file, reported
        text = str(exc).strip().splitlines()
        return f"'{path.name}' is not a readable notebook ({type(exc).__name__}: {text[0] if text else ''})"
    return None


def collect(source: pathlib.Path, lab: str, submitted: pathlib.Path,
            limits: CollectLimits = CollectLimits()) -> Collected:
    """Collect every student's notebook of ``lab`` from a zip or folder into ``submitted``.

    Args:
        source: an LMS zip file or a folder of submissions.
        lab: the lab's folder name, e.g. ``lab01_motion_data``.
        submitted: nbgrader's ``submitted/`` folder; each collected student's
            ``<id>/<lab>/`` folder is replaced.
        limits: size limits.
    Returns:
        :class:`Collected`: students ready to grade, problems, notes.
    Raises:
        CollectionError: the source is missing, unreadable or over the whole-archive limits.
    """
    if source.is_dir():
        entries = _folder_entries(source, limits)
    elif source.is_file():
        entries = _zip_entries(source, limits)
    else:
        raise CollectionError(f"'{source}': no such file or folder of submissions")
    result = Collected()
    by_student: dict[str, list[str]] = {}
    for top in sorted(entries):
        match = STUDENT_ID.match(top)
        members = entries[top]
        is_file = any(not m.in_folder for m in members)
        if not match or (is_file and not match.group("rest")):
            result.problems[top] = (f"'{top}' is not named '<student id>_<anything>.ipynb' or '<student id>/': "
                                    "not collected")
            continue
        by_student.setdefault(match.group("id"), []).append(top)
    for student, tops in sorted(by_student.items()):
        if len(tops) > 1:
            result.problems[student] = (f"{len(tops)} submissions ({', '.join(repr(t) for t in tops)}): "
                                        "not graded; keep one and collect again")
            continue
        members = entries[tops[0]]
        problems = [p for p in (_problem(m, limits) for m in members) if p]
        if len(members) > limits.max_members:
            problems.append(f"{len(members)} files (limit {limits.max_members})")
        if sum(m.size for m in members) > limits.max_student_bytes:
            problems.append(f"{sum(m.size for m in members):,} bytes in all (limit {limits.max_student_bytes:,})")
        if problems:
            result.problems[student] = "; ".join(problems[:3]) + ": not graded"
            continue
        notebooks = [m for m in members if m.path.lower().endswith(".ipynb") and not m.path.startswith(".")
                     and "/." not in m.path and ".ipynb_checkpoints" not in m.path]
        others = [m.path for m in members if m not in notebooks]
        exact = [m for m in notebooks if m.path.rsplit("/", 1)[-1] == f"{lab}.ipynb"]
        chosen = exact[0] if len(exact) == 1 else notebooks[0] if len(notebooks) == 1 else None
        if chosen is None:
            result.problems[student] = (f"no '{lab}.ipynb' and {len(notebooks)} other notebooks in {tops[0]!r}: "
                                        "not graded")
            continue
        dest = submitted / student / lab / f"{lab}.ipynb"
        if dest.parent.exists():
            shutil.rmtree(dest.parent)
        try:
            _copy_limited(chosen, dest, limits.max_file_bytes)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            result.problems[student] = f"{exc}: not graded"
            continue
        note = []
        name = chosen.path.rsplit("/", 1)[-1]
        if not chosen.in_folder:
            name = STUDENT_ID.match(name).group("rest")
        if name != f"{lab}.ipynb":
            note.append(f"renamed '{name}' to '{lab}.ipynb'")
        if others:
            note.append(f"left behind {len(others)} other file(s): " + ", ".join(others[:3]))
        unreadable = read_problem(dest)
        if unreadable:
            result.problems[student] = unreadable + ": not graded"
            shutil.rmtree(dest.parent)
            continue
        if note:
            result.notes[student] = "; ".join(note)
        result.students[student] = dest
    return result
