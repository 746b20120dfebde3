"""A class's keyword recordings pooled into one folder, with consent (re-exported by
:mod:`tinymlkit.capture`; issue #13). Taught in ``book/instructor_guide/class_recordings.md``;
students record their consent in lab 05, section 5 (:func:`record_consent`).

This module also owns the rules of a keyword folder that :func:`tinymlkit.capture.save_keyword_clip`
writes and the pool copies (clip length, label and speaker-id rules, manifest columns), so both
apply the same ones::

    manifest.csv   consent.csv   <label>/<label>.<speaker_id>.<NNN>.wav

A pooled folder (:func:`pool_keyword_recordings`) has the same layout, so
:func:`tinymlkit.datasets.load_keyword_clips` reads it, plus ``forgotten.csv`` (speakers deleted
for good), ``POOL.json`` (what was pooled when; it marks the folder as a pool) and ``POOL.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import zipfile
import zlib
from contextlib import ExitStack, closing

from .files import write_atomic
from .keywords import KEYWORD_SAMPLE_RATE_HZ
from .errors import DatasetError
from .labels import check_label, check_speaker_id

__all__ = ["CLASS_MODEL_USE", "CONSENT_COLUMNS", "DEFAULT_POOL_DIR", "KEYWORD_CLIP_MS", "KEYWORD_COLUMNS",
           "POOL_COLUMNS", "ConsentRecord", "LeftOutSpeaker", "PoolResult", "PooledSpeaker", "forget_speaker",
           "pool_keyword_recordings", "read_consent", "record_consent"]

#: Length of a saved keyword clip, in ms (1 s, as Speech Commands and micro_speech use).
KEYWORD_CLIP_MS = 1000
#: Columns of a keyword folder's ``manifest.csv`` as :func:`~tinymlkit.capture.save_keyword_clip` writes it.
KEYWORD_COLUMNS = ("path", "label", "speaker_id", "source", "recorded_at")
#: Columns of a pooled ``manifest.csv``: ``speaker_id`` is the pooled id; ``origin`` the keyword
#: folder it came from (``<source name>/<folder inside it>``), ``origin_speaker_id`` and
#: ``origin_path`` the id and clip there, ``sha256`` the source clip's bytes.
POOL_COLUMNS = KEYWORD_COLUMNS + ("origin", "origin_speaker_id", "origin_path", "sha256")
#: Columns of ``consent.csv``: ISO dates (``YYYY-MM-DD``), ``uses`` space-separated.
CONSENT_COLUMNS = ("speaker_id", "consented_on", "uses", "keep_until", "withdrawn_on")
#: The use a speaker must consent to before the pool takes their clips: training and testing the
#: class's models during the course.
CLASS_MODEL_USE = "class-model"
#: The CLI's default pooled folder; ``.gitignore`` lists it (and ``*_keywords_pool/``).
DEFAULT_POOL_DIR = "class_keywords"

_FORGOTTEN_COLUMNS = ("speaker_id", "origin", "origin_speaker_id", "forgotten_on")
_USE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_CSV_BYTES = 16 * 1024**2       # a manifest of 100,000 clips is about 10 MB
_MAX_CLIP_BYTES = 4 * 1024**2       # 1 s of 16 kHz mono PCM16 is 32 KB
_MAX_ZIP_MEMBERS = 200_000
_MAX_ZIP_BYTES = 8 * 1024**3
_MAX_FOLDERS = 100_000               # folders walked in one source
_SKIP_DIRS = ("__MACOSX", "__pycache__", "node_modules")


# -- consent ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ConsentRecord:
    """One person's consent, a row of ``consent.csv``.

    Attributes:
        speaker_id: the code the person records under (``p01``).
        consented_on: date of the consent (None for a row that only records a refusal).
        uses: what the recordings may be used for, e.g. ``("class-model",)``.
        keep_until: last day the recordings may be kept (None: the course's own rule).
        withdrawn_on: date the person withdrew (None: not withdrawn).
    """

    speaker_id: str
    consented_on: datetime.date | None
    uses: tuple[str, ...]
    keep_until: datetime.date | None
    withdrawn_on: datetime.date | None

    def refusal(self, use: str = CLASS_MODEL_USE, today: datetime.date | None = None) -> str | None:
        """None if the recordings may serve ``use`` on ``today`` (default: today), else why not."""
        today = today or datetime.date.today()
        if self.withdrawn_on is not None:
            return f"withdrew consent on {self.withdrawn_on}"
        if use not in self.uses:
            return f"consent does not cover '{use}' (uses: {' '.join(self.uses) or 'none'})"
        if self.keep_until is not None and today > self.keep_until:
            return f"consent to keep the recordings ended on {self.keep_until}"
        return None


def _date(text: str, what: str) -> datetime.date | None:
    if not text:
        return None
    if not _DATE_RE.match(text):
        raise ValueError(f"{what} {text!r} is not a date written YYYY-MM-DD")
    return datetime.date.fromisoformat(text)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"'{where}': not UTF-8 text ({exc}); save it as CSV UTF-8") from exc


def _csv_rows(text: str, where: str, required: tuple[str, ...]):
    """``(line, {column: value})`` of a CSV with every column of ``required``; DatasetError naming
    the file and line for a missing column or a row with the wrong number of values."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(f"'{where}' line 1: the header lacks {', '.join(missing)} (expected the "
                           f"columns {','.join(required)})")
    for row in reader:
        if not any(v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise DatasetError(f"'{where}' line {reader.line_num}: {len(row)} values, expected "
                               f"{len(header)} ({','.join(header)})")
        yield reader.line_num, {c: v.strip() for c, v in zip(header, row)}


def _parse_consent(text: str, where: str) -> dict[str, ConsentRecord]:
    if not text.strip():
        return {}
    out: dict[str, ConsentRecord] = {}
    lines: dict[str, int] = {}
    for n, r in _csv_rows(text, where, CONSENT_COLUMNS):
        try:
            sid = check_speaker_id(r["speaker_id"])
            uses = tuple(r["uses"].split())
            bad = [u for u in uses if not _USE_RE.match(u)]
            if bad:
                raise ValueError(f"use {bad[0]!r} is not a lower-case word such as '{CLASS_MODEL_USE}'")
            rec = ConsentRecord(sid, _date(r["consented_on"], "consented_on"), uses,
                                _date(r["keep_until"], "keep_until"), _date(r["withdrawn_on"], "withdrawn_on"))
            if rec.withdrawn_on is None and (rec.consented_on is None or not uses):
                raise ValueError("a consent needs consented_on and uses (a withdrawal needs withdrawn_on)")
        except ValueError as exc:
            raise DatasetError(f"'{where}' line {n}: {exc}") from exc
        if sid in out:
            raise DatasetError(f"'{where}' line {n}: speaker {sid} already has a row (line {lines[sid]}); "
                               "keep one row per speaker (record_consent updates it)")
        out[sid], lines[sid] = rec, n
    return out


def _consent_csv(records) -> str:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(CONSENT_COLUMNS)
    for r in records:
        w.writerow([r.speaker_id, r.consented_on or "", " ".join(r.uses), r.keep_until or "",
                    r.withdrawn_on or ""])
    return text.getvalue()


def read_consent(folder) -> dict[str, ConsentRecord]:
    """The consent records of a keyword folder (``<folder>/consent.csv``, :data:`CONSENT_COLUMNS`).

    Args:
        folder: a keyword folder (or a pooled folder).

    Returns:
        ``{speaker_id: ConsentRecord}``; empty when the folder has no ``consent.csv``.

    Raises:
        tinymlkit.datasets.DatasetError: the file is malformed (a missing column, a row with the
            wrong number of values, a bad speaker id, use or date, two rows for one speaker); the
            message names the file and the line.
    """
    path = pathlib.Path(folder) / "consent.csv"
    if not path.is_file():
        return {}
    return _parse_consent(_decode(path.read_bytes(), str(path)), str(path))


def record_consent(folder, speaker_id: str, *, uses=(CLASS_MODEL_USE,), keep_until: str | None = None,
                   withdrawn: bool = False) -> pathlib.Path:
    """Record that ``speaker_id`` agreed (or withdrew) in ``<folder>/consent.csv``: one row per
    speaker, added or updated, written atomically. Call it before recording (lab 05, section 5),
    after the person has read and signed the consent form of module 09, section 3.

    Args:
        folder: the keyword folder the person records into (created if needed).
        speaker_id: the person's code, e.g. ``"p07"`` (see :func:`check_speaker_id`).
        uses: what the recordings may be used for: :data:`CLASS_MODEL_USE` (``"class-model"``:
            the class's models during the course; the pool needs it), others as the form says
            (e.g. ``"publish"``); a tuple or a space-separated string.
        keep_until: last day the recordings may be kept, ``"YYYY-MM-DD"`` (today or later).
        withdrawn: True records a withdrawal (``withdrawn_on`` = today; the earlier consent stays
            visible): later pools leave the person out and remove them from the pool.

    Returns:
        The path of ``consent.csv``.

    Raises:
        ValueError: a bad speaker id, use or date, no use, or ``keep_until`` in the past.
        tinymlkit.datasets.DatasetError: the existing ``consent.csv`` is malformed (it is left as is).
    """
    check_speaker_id(speaker_id)
    uses = tuple(uses.split() if isinstance(uses, str) else uses)
    today = datetime.date.today()
    if not withdrawn:
        if not uses or any(not isinstance(u, str) or not _USE_RE.match(u) for u in uses):
            raise ValueError(f"uses={uses!r}: give one or more lower-case words such as "
                             f"('{CLASS_MODEL_USE}',)")
        keep = _date(keep_until or "", "keep_until")
        if keep is not None and keep < today:
            raise ValueError(f"keep_until={keep_until!r} is in the past")
    folder = pathlib.Path(folder)
    records = read_consent(folder)
    old = records.get(speaker_id)
    if withdrawn:
        records[speaker_id] = ConsentRecord(speaker_id, old and old.consented_on, old.uses if old else (),
                                            old and old.keep_until, (old and old.withdrawn_on) or today)
    else:
        records[speaker_id] = ConsentRecord(speaker_id, today, uses, keep, None)
    return write_atomic(folder / "consent.csv", _consent_csv(records.values()))


# -- sources: folders and zip files, read safely ---------------------------------------------------
class _FolderTree:
    """A source folder: files read by '/'-separated path below it, never through a link."""

    def __init__(self, root: pathlib.Path, skip: pathlib.Path):
        self.root, self.skip = root, skip
        self.name = root.resolve().name or "root"
        self.tag = self.name

    def where(self, rel: str) -> str:
        """How an error names the file or folder ``rel``."""
        return str(self.root / rel) if rel else str(self.root)

    def keyword_dirs(self) -> list[str]:
        """Folders holding a ``manifest.csv``, sorted; hidden folders and the pool are skipped."""
        found, walked = [], 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            walked += 1
            if walked > _MAX_FOLDERS:
                raise DatasetError(f"'{self.root}': more than {_MAX_FOLDERS:,} folders; pass the folder "
                                   "of the recordings or submissions, not a whole disk")
            here = pathlib.Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS
                                 and (here / d).resolve() != self.skip)
            if "manifest.csv" in filenames:
                rel = here.relative_to(self.root).as_posix()
                found.append("" if rel == "." else rel)
        return found

    def read(self, rel: str, limit: int) -> bytes | None:
        """The bytes of file ``rel``, None if it does not exist; DatasetError for a link (anywhere
        on the way), a device or pipe, or more than ``limit`` bytes."""
        path = self.root
        for part in rel.split("/"):
            path = path / part
            if path.is_symlink():
                raise DatasetError(f"'{path}': is a link; the pool reads only plain files")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise DatasetError(f"'{path}': not a plain file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise DatasetError(f"'{path}': over {limit:,} bytes; refused")
        return data

    def close(self):
        """Nothing to close for a folder."""


class _ZipTree:
    """A source ``.zip``: members read in memory (never extracted), names and sizes checked."""

    def __init__(self, path: pathlib.Path):
        self.path, self.name, self.tag = path, path.name, path.stem
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DatasetError(f"'{path}': not a readable zip file ({exc})") from exc
        infos = self.zf.infolist()
        if len(infos) > _MAX_ZIP_MEMBERS or sum(i.file_size for i in infos) > _MAX_ZIP_BYTES:
            self.zf.close()
            raise DatasetError(f"'{path}': {len(infos):,} members, {sum(i.file_size for i in infos):,} "
                               f"bytes unpacked (limits {_MAX_ZIP_MEMBERS:,} and {_MAX_ZIP_BYTES:,}): refused")
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.twice: set[str] = set()
        for info in infos:
            parts = info.filename.replace("\\", "/").split("/")
            if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0] or "\0" in info.filename:
                self.zf.close()
                raise DatasetError(f"'{path}': member '{info.filename}' points outside the archive; "
                                   "the whole zip is refused (nothing was read from it)")
            if not info.is_dir():
                key = "/".join(p for p in parts if p not in ("", "."))
                if key in self.members:
                    self.twice.add(key)
                self.members[key] = info

    def where(self, rel: str) -> str:
        """How an error names member ``rel``: ``<zip>!<member>``."""
        return f"{self.path}!{rel}" if rel else str(self.path)

    def keyword_dirs(self) -> list[str]:
        """Folders holding a ``manifest.csv``, sorted; hidden folders and ``__MACOSX`` skipped."""
        return sorted(k.rpartition("/")[0] for k in self.members if k.rpartition("/")[2] == "manifest.csv"
                      and not any(p.startswith(".") or p in _SKIP_DIRS for p in k.split("/")))

    def read(self, rel: str, limit: int) -> bytes | None:
        """The bytes of member ``rel``, None if absent; DatasetError for a link, a name held twice,
        more than ``limit`` bytes (declared or read), encryption or damage."""
        info = self.members.get(rel)
        if info is None:
            return None
        fault = ("is a link" if stat.S_ISLNK(info.external_attr >> 16) else "is in the zip twice"
                 if rel in self.twice else f"unpacks to over {limit:,} bytes" if info.file_size > limit else "")
        if fault:
            raise DatasetError(f"'{self.where(rel)}': {fault}; refused")
        try:
            with self.zf.open(info) as f:
                data = f.read(limit + 1)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise DatasetError(f"'{self.where(rel)}': cannot be read from the zip ({exc})") from exc
        if len(data) > limit:
            raise DatasetError(f"'{self.where(rel)}': over {limit:,} bytes; refused")
        return data

    def close(self):
        """Close the zip file."""
        self.zf.close()


def _safe_rel(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and "\\" not in path and not path.startswith("/") and ":" not in parts[0] \
        and all(p not in ("", ".", "..") for p in parts)


@dataclasses.dataclass
class _Folder:
    """One keyword folder found in a source."""

    tree: object
    rel: str
    origin: str
    tag: str
    rows: list[dict]
    consent: dict[str, ConsentRecord] | None    # None: no consent.csv


def _keyword_folder(tree, rel: str) -> _Folder | None:
    """The keyword folder at ``rel`` of ``tree``, its manifest checked line by line; None when its
    ``manifest.csv`` is not a keyword manifest."""
    base = f"{rel}/" if rel else ""
    where = tree.where(base + "manifest.csv")
    text = _decode(tree.read(base + "manifest.csv", _MAX_CSV_BYTES), where)
    header = next(csv.reader(io.StringIO(text)), [])
    if not {"path", "label", "speaker_id"} <= {h.strip() for h in header}:
        return None
    rows, seen = [], {}
    for n, r in _csv_rows(text, where, ("path", "label", "speaker_id")):
        try:
            check_label(r["label"], spoken=True)
            check_speaker_id(r["speaker_id"])
        except ValueError as exc:
            raise DatasetError(f"'{where}' line {n}: {exc}") from exc
        if not _safe_rel(r["path"]):
            raise DatasetError(f"'{where}' line {n}: path {r['path']!r} leaves the keyword folder")
        if r["path"] in seen:
            raise DatasetError(f"'{where}' line {n}: lists {r['path']} again (line {seen[r['path']]})")
        seen[r["path"]] = n
        rows.append(r)
    consent = tree.read(base + "consent.csv", _MAX_CSV_BYTES)
    where_c = tree.where(base + "consent.csv")
    first = rel.split("/")[0] if rel else ""
    return _Folder(tree, rel, f"{tree.name}/{rel}" if rel else tree.name,
                   _sanitise(f"{tree.tag}-{first}" if first else tree.tag), rows,
                   None if consent is None else _parse_consent(_decode(consent, where_c), where_c))


def _sanitise(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_-]+", "-", text)).strip("-_") or "source"


def _open_tree(source, out: pathlib.Path, stack: ExitStack):
    src = pathlib.Path(source)
    if src.is_dir():
        if src.resolve() == out or out in src.resolve().parents:
            raise DatasetError(f"'{src}': is the pooled folder or inside it; give the students' folders")
        return _FolderTree(src, out)
    if src.is_file() and (src.suffix.lower() == ".zip" or zipfile.is_zipfile(src)):
        return stack.enter_context(closing(_ZipTree(src)))
    if src.exists():
        raise DatasetError(f"'{src}': not a folder or a .zip file")
    raise DatasetError(f"'{src}': no such folder or zip file")


# -- the pooled folder -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PooledSpeaker:
    """A speaker in a pooled folder.

    Attributes:
        speaker_id: the pooled id (unique in the pool), e.g. ``"submitted-alice-p01"``.
        origin: the keyword folder the clips came from, ``<source name>/<folder inside it>``.
        origin_speaker_id: the id there (``p01``).
        clips_per_label: ``{label: number of clips}``.
    """

    speaker_id: str
    origin: str
    origin_speaker_id: str
    clips_per_label: dict

    @property
    def n_clips(self) -> int:
        """Clips of this speaker, all labels."""
        return sum(self.clips_per_label.values())


@dataclasses.dataclass(frozen=True)
class LeftOutSpeaker:
    """A speaker of a source that the pool does not hold: ``origin``, ``speaker_id`` (as in the
    source), ``n_clips`` in the source, and ``reason`` in plain words."""

    origin: str
    speaker_id: str
    n_clips: int
    reason: str


@dataclasses.dataclass(frozen=True)
class PoolResult:
    """What a pool or forget run left in the pooled folder.

    Attributes:
        out_dir: the pooled folder.
        kept: every speaker in the pool after the run, sorted by pooled id.
        left_out: speakers of the sources not pooled, with the reason.
        forgotten: pooled ids forgotten by this run.
        clips_added: clips copied (or replaced) by this run.
        clips_removed: clips deleted by this run (withdrawn, expired, forgotten, gone from a source).
        notes: other things the instructor should know (duplicate audio skipped, git).
    """

    out_dir: pathlib.Path
    kept: tuple[PooledSpeaker, ...]
    left_out: tuple[LeftOutSpeaker, ...] = ()
    forgotten: tuple[str, ...] = ()
    clips_added: int = 0
    clips_removed: int = 0
    notes: tuple[str, ...] = ()

    def table(self) -> str:
        """The result as plain text: kept speakers (clips per label), left out (why), forgotten."""
        labels = sorted({lab for s in self.kept for lab in s.clips_per_label})
        n = sum(s.n_clips for s in self.kept)
        lines = [f"{self.out_dir}: {len(self.kept)} speaker(s), {n} clip(s) "
                 f"({self.clips_added} added, {self.clips_removed} removed)"]
        if self.kept:
            w = max(len("speaker"), *(len(s.speaker_id) for s in self.kept))
            cols = [max(len(lab), 3) for lab in labels]
            lines.append(f"  {'speaker':<{w}}  " + "  ".join(f"{lab:>{c}}" for lab, c in zip(labels, cols))
                         + "  clips  from")
            for s in self.kept:
                lines.append(f"  {s.speaker_id:<{w}}  " + "  ".join(
                    f"{s.clips_per_label.get(lab, 0):>{c}}" for lab, c in zip(labels, cols))
                    + f"  {s.n_clips:>5}  {s.origin} ({s.origin_speaker_id})")
        if self.left_out:
            lines.append(f"left out ({len(self.left_out)}): not pooled")
            for s in self.left_out:
                lines.append(f"  {s.origin} {s.speaker_id}: {s.n_clips} clip(s), {s.reason}")
        lines += [f"forgotten: {pid} (deleted; forgotten.csv keeps them out of later pools)"
                  for pid in self.forgotten]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _pool_csv(rows, columns) -> str:
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return text.getvalue()


class _Pool:
    """The pooled folder on disk: manifest rows, consent, forgotten speakers, run history. Reading
    it writes nothing; :meth:`begin` marks and tidies it before a run writes."""

    def __init__(self, folder: pathlib.Path, create: bool):
        self.folder = folder
        marker = folder / "POOL.json"
        if folder.exists() and not folder.is_dir():
            raise DatasetError(f"'{folder}': exists and is not a folder")
        if not marker.is_file():
            if not create:
                raise DatasetError(f"'{folder}': not a pooled keyword folder (no POOL.json); pool "
                                   "into it first with tinymlkit keywords pool")
            if folder.is_dir() and any(not (p.name.startswith(".") and p.name.endswith(".tmp"))
                                       for p in folder.iterdir()):
                raise DatasetError(f"'{folder}': exists, is not empty and is not a pool (no POOL.json); "
                                   f"choose a new folder, e.g. {DEFAULT_POOL_DIR}/")
        try:
            self.history = json.loads(marker.read_text())["runs"] if marker.is_file() else []
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"'{marker}': not a pool note ({exc}); restore it or pool into a new folder") from exc
        self.rows = self._read("manifest.csv", POOL_COLUMNS)
        self.forgotten = self._read("forgotten.csv", _FORGOTTEN_COLUMNS)
        self.consent = read_consent(folder)

    def _read(self, name: str, columns) -> list[dict]:
        path = self.folder / name
        if not path.is_file():
            return []
        return [r for _, r in _csv_rows(_decode(path.read_bytes(), str(path)), str(path), columns)]

    def begin(self) -> None:
        """Write ``POOL.json`` (it marks the pool) and delete what an interrupted run left:
        temporary files, clips the manifest does not list, consent rows of speakers without clips."""
        write_atomic(self.folder / "POOL.json", json.dumps({"format": 1, "runs": self.history}, indent=1) + "\n")
        listed = {r["path"] for r in self.rows}
        for dirpath, _, filenames in os.walk(self.folder):
            here = pathlib.Path(dirpath)
            for name in filenames:
                rel = (here / name).relative_to(self.folder).as_posix()
                if (name.startswith(".") and name.endswith(".tmp")) or (
                        "/" in rel and name.endswith(".wav") and rel not in listed):
                    (here / name).unlink()
        self._remove_empty_dirs()
        ids = {r["speaker_id"] for r in self.rows}
        if set(self.consent) - ids:
            self.consent = {k: v for k, v in self.consent.items() if k in ids}
            self.save(manifest=False)

    def _remove_empty_dirs(self):
        for d in self.folder.iterdir():
            if d.is_dir() and not d.is_symlink() and not any(d.iterdir()):
                d.rmdir()

    def save(self, *, manifest=True, consent=True):
        """Rewrite ``consent.csv`` and/or ``manifest.csv`` (atomically)."""
        if consent:
            write_atomic(self.folder / "consent.csv", _consent_csv(self.consent.values()))
        if manifest:
            write_atomic(self.folder / "manifest.csv", _pool_csv(self.rows, POOL_COLUMNS))

    def remove(self, keep) -> int:
        """Drop the rows for which ``keep(row)`` is false: manifest and consent first, then files."""
        gone = [r for r in self.rows if not keep(r)]
        if not gone:
            return 0
        self.rows = [r for r in self.rows if keep(r)]
        ids = {r["speaker_id"] for r in self.rows}
        self.consent = {k: v for k, v in self.consent.items() if k in ids}
        self.save()
        for r in gone:
            (self.folder / r["path"]).unlink(missing_ok=True)
        self._remove_empty_dirs()
        return len(gone)

    def speakers(self) -> dict[str, tuple[str, str]]:
        """``{pooled id: (origin, origin_speaker_id)}`` of the speakers in the pool."""
        return {r["speaker_id"]: (r["origin"], r["origin_speaker_id"]) for r in self.rows}

    def forget(self, origins: dict[str, tuple[str, str]]) -> int:
        """Forget ``{pooled id: (origin, origin_speaker_id)}``: ``forgotten.csv`` first (so that
        nothing brings them back), then manifest and consent, then the clips."""
        today = datetime.date.today().isoformat()
        known = {r["speaker_id"] for r in self.forgotten}
        self.forgotten += [{"speaker_id": pid, "origin": o, "origin_speaker_id": sid, "forgotten_on": today}
                           for pid, (o, sid) in sorted(origins.items()) if pid not in known]
        write_atomic(self.folder / "forgotten.csv", _pool_csv(self.forgotten, _FORGOTTEN_COLUMNS))
        return self.remove(lambda r: r["speaker_id"] not in origins)

    def resolve(self, name: str, planned: dict[str, tuple[str, str]]) -> str | None:
        """The pooled id ``name`` means among ``planned`` (``{pooled id: (origin, original id)}``):
        a pooled id, or an original id only one of them has; None if it is already forgotten.

        Raises:
            tinymlkit.datasets.DatasetError: unknown or ambiguous (the message lists the ids).
        """
        if name in planned:
            return name
        same = sorted(pid for pid, (_, orig) in planned.items() if orig == name)
        if len(same) == 1:
            return same[0]
        if same:
            raise DatasetError(f"'{name}' is the original id of {len(same)} pooled speakers "
                               f"({', '.join(same)}): give the pooled id")
        if name in {r["speaker_id"] for r in self.forgotten}:
            return None
        raise DatasetError(f"'{self.folder}': no speaker '{name}'; pooled speakers: "
                           f"{', '.join(sorted(planned)) or 'none'}")

    def note(self, entry: dict) -> None:
        """Add a run to ``POOL.json`` and rewrite ``POOL.md``."""
        self.history.append({"at": datetime.datetime.now().isoformat(timespec="seconds"), **entry})
        write_atomic(self.folder / "POOL.json", json.dumps({"format": 1, "runs": self.history}, indent=1) + "\n")
        keep = sorted({str(c.keep_until) for c in self.consent.values() if c.keep_until})
        runs = "\n".join(f"| {h['at']} | {h['action']} | {', '.join(h.get('sources', [])) or h.get('speaker', '')} "
                         f"| {h['clips_added']} | {h['clips_removed']} | {h['speakers']} |" for h in self.history)
        write_atomic(self.folder / "POOL.md", f"""# Pooled keyword recordings

People's voices, pooled with their consent by `tinymlkit keywords pool` (`tinymlkit.capture`).
**Keep this folder on the course machine: not in git, not in a cloud folder, not on a shared drive.**
`manifest.csv` lists the clips (`origin`: where each came from), `consent.csv` what each speaker
agreed to, `forgotten.csv` who asked to be deleted (never pooled again).
Delete this whole folder when the course ends{f' (the first consent runs out on {keep[0]})' if keep else ''}.

Now: {len(self.speakers())} speaker(s), {len(self.rows)} clip(s).

| when | what | sources or speaker | clips added | clips removed | speakers after |
|---|---|---|---|---|---|
{runs}
""")

    def result(self, **kw) -> PoolResult:
        """A :class:`PoolResult` listing every speaker now in the pool."""
        speakers: dict[str, PooledSpeaker] = {}
        for r in self.rows:
            s = speakers.setdefault(r["speaker_id"], PooledSpeaker(r["speaker_id"], r["origin"],
                                                                   r["origin_speaker_id"], {}))
            s.clips_per_label[r["label"]] = s.clips_per_label.get(r["label"], 0) + 1
        notes = tuple(kw.pop("notes", ())) + tuple(_git_note(self.folder))
        return PoolResult(self.folder, tuple(speakers[k] for k in sorted(speakers)), notes=notes, **kw)


def _git_note(folder: pathlib.Path) -> list[str]:
    """A warning when ``folder`` is inside a git checkout and not git-ignored."""
    git = shutil.which("git")
    if git is None:
        return []
    try:
        inside = subprocess.run([git, "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, timeout=20)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return []
        ignored = subprocess.run([git, "-C", str(folder), "check-ignore", "-q", "manifest.csv"],
                                 capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    if ignored.returncode == 1:
        return [f"'{folder}' is inside a git checkout and NOT git-ignored: voices must never be "
                f"committed; add it to .gitignore or pool into {DEFAULT_POOL_DIR}/"]
    return []


def _clip_check(data: bytes, where: str):
    """``(n_samples,)`` int16 of a 1 s, 16 kHz mono clip, or DatasetError naming it."""
    import soundfile as sf

    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:
        raise DatasetError(f"'{where}': cannot be read as audio ({exc})") from exc
    samples = KEYWORD_SAMPLE_RATE_HZ * KEYWORD_CLIP_MS // 1000
    if rate != KEYWORD_SAMPLE_RATE_HZ or audio.shape != (samples, 1):
        raise DatasetError(f"'{where}': {rate} Hz, {audio.shape[1]} channel(s), {audio.shape[0]} samples; "
                           f"a keyword clip is {KEYWORD_SAMPLE_RATE_HZ} Hz mono, {samples} samples")
    return audio[:, 0]


def pool_keyword_recordings(sources, out_dir, *, forget=()) -> PoolResult:
    """Pool a class's keyword recordings, with consent, into one speaker-labelled keyword folder.

    Every ``manifest.csv`` with the columns ``path, label, speaker_id`` found in ``sources`` is a
    keyword folder. Its speakers are pooled under ids unique in the pool,
    ``<source name>-<first folder inside it>-<speaker id>`` (e.g. ``submitted-alice-p01``; ``-2``
    is added if that is taken), so every student's ``p01`` stays a different person. A speaker is
    pooled only with a consent record that covers :data:`CLASS_MODEL_USE` in that folder's
    ``consent.csv`` (:func:`record_consent`); the others are left out and listed with the reason.
    Clips are re-written as 16-bit WAV (1 s, 16 kHz mono; no metadata is copied).

    Pooling again updates the folder: clips already pooled are not copied twice, clips gone from
    a source are deleted, speakers who withdrew (or whose ``keep_until`` passed) are removed, and
    forgotten speakers (:func:`forget_speaker`, ``forgotten.csv``) are never brought back. Nothing
    is written before every source has been read and checked; the manifest is rewritten atomically
    after each speaker, so an interrupted run leaves a consistent folder (the next run tidies it).

    Args:
        sources: folders (a keyword folder, or a tree holding them such as nbgrader's
            ``grading/submitted``) and ``.zip`` files of such trees (read in memory, never
            extracted; members outside the archive, links and oversized members are refused).
            Folders starting with ``.`` and ``out_dir`` are not searched.
        out_dir: the pooled folder (created; if it exists it must be a pool, i.e. hold
            ``POOL.json``). Keep it out of git: ``.gitignore`` lists :data:`DEFAULT_POOL_DIR`.
        forget: speakers to forget in this run (see :func:`forget_speaker`).

    Returns:
        :class:`PoolResult`; ``.table()`` is what the CLI prints.

    Raises:
        tinymlkit.datasets.DatasetError: a source is missing, holds no keyword folder, or has a
            malformed manifest, consent file or clip (the message names the file, and the line);
            ``out_dir`` is not a pool; a ``forget`` name is unknown or ambiguous.
        ValueError: no sources.
    """
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not sources:
        raise ValueError("sources: give at least one folder or .zip file")
    out = pathlib.Path(out_dir).resolve()
    with ExitStack() as stack:
        trees, seen, notes = [], set(), []
        for s in sources:
            tree = _open_tree(s, out, stack)
            if pathlib.Path(s).resolve() not in seen:
                seen.add(pathlib.Path(s).resolve())
                trees.append(tree)
        folders = []
        for tree in trees:
            for rel in tree.keyword_dirs():
                if tree.read(f"{rel}/POOL.json" if rel else "POOL.json", _MAX_CSV_BYTES) is not None:
                    notes.append(f"{tree.where(rel)} is a pooled folder: not pooled again")
                elif (folder := _keyword_folder(tree, rel)) is not None:
                    folders.append(folder)
        if not folders:
            zips = sorted(str(p) for s in sources if pathlib.Path(s).is_dir() for p in pathlib.Path(s).glob("*.zip"))
            hint = f"; zip files inside a folder are not opened: pass them, e.g. {zips[0]}" if zips else ""
            raise DatasetError(f"no keyword folder (a manifest.csv with columns path,label,speaker_id) in "
                               f"{', '.join(repr(str(s)) for s in sources)}{hint}")
        origins = [f.origin for f in folders]
        if len(set(origins)) < len(origins):
            twice = sorted({o for o in origins if origins.count(o) > 1})
            raise DatasetError(f"two sources hold the keyword folder '{twice[0]}': rename one, or pool them separately")
        return _pool(folders, _Pool(pathlib.Path(out_dir), create=True), forget, [str(s) for s in sources], notes)


def _pooled_id(tag: str, speaker_id: str) -> str:
    """``<tag>-<speaker_id>``, sanitised to letters, digits, ``-`` and ``_``, at most 60 characters."""
    return _sanitise(f"{tag[:max(1, 59 - len(speaker_id))]}-{speaker_id}")[:60].rstrip("-_")


def _ident(row: dict) -> tuple[str, str, str, str]:
    """What makes a pooled clip the same clip: its keyword folder, path, speaker and label there."""
    return row["origin"], row["origin_path"], row["origin_speaker_id"], row["label"]


def _pool(folders: list[_Folder], pool: _Pool, forget, sources: list[str], notes: list[str]) -> PoolResult:
    """Plan (consent, ids, every clip checked), then write; see :func:`pool_keyword_recordings`."""
    import soundfile as sf

    today = datetime.date.today()
    mapping = {v: k for k, v in pool.speakers().items()}            # (origin, id) -> pooled id
    forgotten_keys = {(r["origin"], r["origin_speaker_id"]): r for r in pool.forgotten}
    forgotten_ids = {r["speaker_id"]: r for r in pool.forgotten}
    taken = set(mapping.values()) | set(forgotten_ids)
    left_out, plan, drop_ids = [], [], set()     # plan: (folder, pooled id, consent, rows)
    for f in folders:
        by_speaker: dict[str, list[dict]] = {}
        for r in f.rows:
            by_speaker.setdefault(r["speaker_id"], []).append(r)
        for sid, rows in by_speaker.items():
            key, base = (f.origin, sid), _pooled_id(f.tag, sid)
            rec = (f.consent or {}).get(sid)
            if key in forgotten_keys or (key not in mapping and base in forgotten_ids):
                gone = forgotten_keys.get(key) or forgotten_ids[base]
                why = f"forgotten on {gone['forgotten_on']} as {gone['speaker_id']} (forgotten.csv)"
            elif rec is None:
                why = (f"its consent.csv has no row for {sid}" if f.consent is not None else
                       "no consent.csv in its folder") + " (tk.capture.record_consent)"
            else:
                why = rec.refusal(CLASS_MODEL_USE, today)
            if why:
                left_out.append(LeftOutSpeaker(f.origin, sid, len(rows), why))
                drop_ids |= {mapping[key]} if key in mapping else set()
                continue
            pid = mapping.get(key)
            if pid is None:
                pid, k = base, 2
                while pid in taken:
                    pid, k = f"{base}-{k}", k + 1
                taken.add(pid)
            plan.append((f, pid, rec, rows))
    known = {pid: v for pid, v in pool.speakers().items() if pid not in drop_ids}
    known |= {pid: (f.origin, rows[0]["speaker_id"]) for f, pid, _, rows in plan}
    forget_ids = {pid for pid in (pool.resolve(str(name), known) for name in forget) if pid}
    plan = [p for p in plan if p[1] not in forget_ids]
    # a pooled clip is the same clip while its folder lists the same path, speaker and label:
    # rows of this run's folders that are no longer listed so are stale (deleted, or re-added)
    listed = {(f.origin, r["path"], r["speaker_id"], r["label"]) for f in folders for r in f.rows}
    run_origins = {f.origin for f in folders}
    stale = {_ident(r) for r in pool.rows if r["origin"] in run_origins and _ident(r) not in listed}
    existing = {_ident(r): r for r in pool.rows if _ident(r) not in stale}
    shas = {r["sha256"]: r["path"] for r in existing.values() if r["speaker_id"] not in drop_ids | forget_ids}
    adds = []       # (folder, pooled id, consent, [(row, rel, sha, old row or None)])
    for f, pid, rec, rows in plan:             # every clip to add is read and checked before writing
        clips, base = [], f"{f.rel}/" if f.rel else ""
        for r in rows:
            where = f.tree.where(base + r["path"])
            data = f.tree.read(base + r["path"], _MAX_CLIP_BYTES)
            if data is None:
                raise DatasetError(f"'{where}': listed in its manifest.csv but missing")
            _clip_check(data, where)
            sha = hashlib.sha256(data).hexdigest()
            old = existing.get((f.origin, r["path"], r["speaker_id"], r["label"]))
            if old is not None and old["sha256"] == sha:
                continue
            if sha in shas and (old is None or shas[sha] != old["path"]):
                notes.append(f"{where}: the same audio as {shas[sha]}; not pooled twice")
                continue
            shas[sha] = old["path"] if old else where
            clips.append((r, base + r["path"], sha, old))
        adds.append((f, pid, rec, clips))
    # write: forgotten first, then removals, then one speaker at a time (consent, clips, manifest)
    pool.begin()
    removed = pool.forget({pid: known[pid] for pid in forget_ids}) if forget_ids else 0
    planned_ids = {pid for _, pid, _, _ in adds}
    expired = {pid for pid, c in pool.consent.items() if pid not in planned_ids and c.refusal(CLASS_MODEL_USE, today)}
    removed += pool.remove(lambda r: r["speaker_id"] not in drop_ids | expired and _ident(r) not in stale)
    added = 0
    for f, pid, rec, clips in adds:
        pool.consent[pid] = ConsentRecord(pid, rec.consented_on, rec.uses, rec.keep_until, None)
        pool.save(manifest=False)
        numbers: dict[str, int] = {}    # label -> highest clip number of this speaker
        for x in pool.rows:
            if x["speaker_id"] == pid and (m := re.search(r"\.(\d+)\.wav$", x["path"])):
                numbers[x["label"]] = max(numbers.get(x["label"], 0), int(m[1]))
        for r, rel, sha, old in clips:
            audio = _clip_check(f.tree.read(rel, _MAX_CLIP_BYTES), f.tree.where(rel))
            if old is None:
                numbers[r["label"]] = numbers.get(r["label"], 0) + 1
            path = old["path"] if old else f"{r['label']}/{r['label']}.{pid}.{numbers[r['label']]:03d}.wav"
            buf = io.BytesIO()
            sf.write(buf, audio, KEYWORD_SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
            write_atomic(pool.folder / path, buf.getvalue())
            pool.rows = [x for x in pool.rows if x is not old] + [{
                "path": path, "label": r["label"], "speaker_id": pid, "source": r.get("source", ""),
                "recorded_at": r.get("recorded_at", ""), "origin": f.origin,
                "origin_speaker_id": r["speaker_id"], "origin_path": r["path"], "sha256": sha}]
            added += 1
        pool.save(consent=False)
    if not (pool.folder / "manifest.csv").exists():
        pool.save()                 # a pool always has its manifest and consent files, even empty
    result = pool.result(left_out=tuple(left_out), forgotten=tuple(sorted(forget_ids)), clips_added=added,
                         clips_removed=removed, notes=notes)
    pool.note({"action": "pool", "sources": sources, "clips_added": added, "clips_removed": removed,
               "speakers": len(result.kept), "left_out": len(left_out), "forgotten": sorted(forget_ids)})
    return result


def forget_speaker(out_dir, speaker: str) -> PoolResult:
    """Delete every clip of one speaker from a pooled folder, for good (a withdrawal).

    The speaker is written to ``forgotten.csv`` first, then the manifest and ``consent.csv`` are
    rewritten without them and their clips deleted; later :func:`pool_keyword_recordings` runs
    from the same submissions leave them out ("forgotten"), so no later model hears them.
    Models already trained on the clips are not changed: retrain them.

    Args:
        out_dir: the pooled folder.
        speaker: the pooled id (``submitted-alice-p01``), or the original id (``p07``) if only one
            pooled speaker has it. Forgetting a speaker already forgotten does nothing.

    Returns:
        :class:`PoolResult` of the pool afterwards (``forgotten`` = the pooled id, or empty).

    Raises:
        tinymlkit.datasets.DatasetError: ``out_dir`` is not a pool, or ``speaker`` is unknown or
            ambiguous (the message lists the pooled ids).
    """
    pool = _Pool(pathlib.Path(out_dir), create=False)
    pid = pool.resolve(str(speaker), pool.speakers())
    pool.begin()
    removed = pool.forget({pid: pool.speakers()[pid]}) if pid else 0
    result = pool.result(forgotten=(pid,) if pid else (), clips_removed=removed)
    pool.note({"action": "forget", "speaker": pid or str(speaker), "clips_added": 0,
               "clips_removed": removed, "speakers": len(result.kept)})
    return result
