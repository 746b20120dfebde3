"""Collecting a class's submissions safely (grading/collect.py): every trick is reported for its
student, with the file, and the rest of the class is collected."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import sys
import zipfile

import pytest

from submissions import ROOT, make_submission

sys.path.insert(0, str(ROOT / "grading"))
import collect  # noqa: E402

LAB = "lab01_motion_data"
SMALL = collect.CollectLimits(max_file_bytes=2_000_000, max_student_bytes=3_000_000, max_members=5,
                              max_total_bytes=20_000_000, max_total_members=100)


@pytest.fixture
def notebook_text():
    return json.dumps(make_submission(LAB))


def _zip(path: pathlib.Path, members: dict[str, str | bytes]) -> pathlib.Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_flat_files_and_folders_are_collected_by_top_level_name(tmp_path, notebook_text):
    archive = _zip(tmp_path / "class.zip", {
        f"amina.k_{LAB}.ipynb": notebook_text,
        f"bo-7/{LAB}.ipynb": notebook_text,
        "chen_Lab 1 final (1).ipynb": notebook_text,
        "dan/notes.txt": "hello", "dan/my lab.ipynb": notebook_text,
    })
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert sorted(got.students) == ["amina.k", "bo-7", "chen", "dan"], got.problems
    assert got.problems == {}
    assert got.notes["chen"] == f"renamed 'Lab 1 final (1).ipynb' to '{LAB}.ipynb'"
    assert "left behind 1 other file(s): notes.txt" in got.notes["dan"]
    assert "amina.k" not in got.notes                    # the standard LMS name needs no note
    assert (tmp_path / "submitted" / "bo-7" / LAB / f"{LAB}.ipynb").read_text() == notebook_text


def test_student_id_comes_from_the_uploader_not_from_a_name_inside(tmp_path, notebook_text):
    """A file named after a classmate, inside a student's folder, is still that student's."""
    archive = _zip(tmp_path / "class.zip", {
        f"victim_{LAB}.ipynb": notebook_text,
        f"mallory/victim_{LAB}.ipynb": json.dumps(make_submission(LAB, solved=set())),
    })
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert sorted(got.students) == ["mallory", "victim"]
    assert (tmp_path / "submitted" / "victim" / LAB / f"{LAB}.ipynb").read_text() == notebook_text


def test_zip_bomb_nested_archive_link_and_escaping_path_are_reported_by_student(tmp_path, notebook_text):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"ok_{LAB}.ipynb", notebook_text)
        zf.writestr(f"bomb_{LAB}.ipynb", b"\0" * 5_000_000)           # 5 MB of zeros, ~5 kB zipped
        zf.writestr("nest_lab01.zip", _zip(tmp_path / "in.zip", {f"ok_{LAB}.ipynb": "{}"}).read_bytes())
        zf.writestr("hidden/lab01.ipynb", b"PK\x03\x04 a zip under a notebook's name")
        link = zipfile.ZipInfo(f"lnk/{LAB}.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("esc/../../../outside.ipynb", notebook_text)
    got = collect.collect(archive, LAB, tmp_path / "out" / "submitted", SMALL)
    assert list(got.students) == ["ok"]
    assert "'bomb_lab01_motion_data.ipynb' is 5,000,000 bytes (limit 2,000,000)" in got.problems["bomb"]
    assert "archive inside the submission" in got.problems["nest"]
    assert "archive inside the submission" in got.problems["hidden"]
    assert "is a link" in got.problems["lnk"]
    assert "points outside its folder" in got.problems["esc"]
    assert not list(tmp_path.rglob("outside.ipynb"))


def test_a_lying_size_in_the_zip_header_is_caught_while_streaming(tmp_path):
    archive = _zip(tmp_path / "class.zip", {f"liar_{LAB}.ipynb": b"{" + b" " * 3_000_000 + b"}"})
    data = bytearray(archive.read_bytes())
    real = (3_000_002).to_bytes(4, "little")
    fake = (1_000).to_bytes(4, "little")
    data[:] = data.replace(real, fake)                  # local and central headers now claim 1 kB
    archive.write_bytes(bytes(data))
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert "liar" in got.problems and not got.students


def test_duplicates_are_reported_and_the_class_goes_on(tmp_path, notebook_text):
    archive = _zip(tmp_path / "class.zip", {
        f"amina_{LAB}.ipynb": notebook_text, f"amina_{LAB} (1).ipynb": notebook_text,
        f"bo_{LAB}.ipynb": notebook_text,
    })
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert list(got.students) == ["bo"]
    assert got.problems["amina"].startswith("2 submissions")


def test_unreadable_notebook_gives_the_readers_own_error(tmp_path):
    archive = _zip(tmp_path / "class.zip", {f"amina_{LAB}.ipynb": '{"cells": [ oops'})
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert got.problems["amina"].startswith(f"'{LAB}.ipynb' is not a readable notebook (NotJSONError")


def test_whole_archive_over_the_limits_is_refused_before_unpacking(tmp_path, notebook_text):
    archive = _zip(tmp_path / "class.zip", {f"s{i}_{LAB}.ipynb": notebook_text for i in range(101)})
    with pytest.raises(collect.CollectionError, match="101 files"):
        collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    not_a_zip = tmp_path / "notzip.zip"
    not_a_zip.write_text("plain text")
    with pytest.raises(collect.CollectionError, match="not a readable zip"):
        collect.collect(not_a_zip, LAB, tmp_path / "submitted", SMALL)


def test_folder_collection_refuses_links(tmp_path, notebook_text):
    folder = tmp_path / "usb"
    folder.mkdir()
    (folder / f"amina_{LAB}.ipynb").write_text(notebook_text)
    os.symlink("/etc/passwd", folder / f"bo_{LAB}.ipynb")
    (folder / "chen").mkdir()
    os.symlink("/etc", folder / "chen" / "etc")
    (folder / "chen" / f"{LAB}.ipynb").write_text(notebook_text)
    got = collect.collect(folder, LAB, tmp_path / "submitted", SMALL)
    assert list(got.students) == ["amina"]
    assert "is a link" in got.problems["bo"] and "is a link" in got.problems["chen"]


def test_badly_named_entry_is_reported(tmp_path, notebook_text):
    archive = _zip(tmp_path / "class.zip", {"lab01.ipynb": notebook_text, "_x_lab01.ipynb": notebook_text})
    got = collect.collect(archive, LAB, tmp_path / "submitted", SMALL)
    assert not got.students
    assert "is not named '<student id>_<anything>.ipynb'" in got.problems["lab01.ipynb"]
