"""Stages 8-9: kit profiles from one data file and the fit report."""

import pytest

from tinymlkit.boards import BoardProfileError, get_board, load_boards
from tinymlkit.report import fit_check, fit_report, format_fit_table

KITS = {"nano33ble_sense_rev1", "nano33ble_sense_rev2", "xiao_esp32s3_sense", "pico_rp2040",
        "raspberry_pi4"}


def test_every_course_kit_has_a_sourced_profile():
    boards = load_boards()
    assert KITS <= set(boards)
    for rev in ("nano33ble_sense_rev1", "nano33ble_sense_rev2"):
        assert boards[rev].ram_bytes == 256 * 1024 and boards[rev].flash_bytes == 1024 * 1024
    for b in boards.values():
        assert b.datasheet.startswith("https://") and b.runtime_basis


def test_model_that_does_not_fit_is_reported_not_raised():
    nano = get_board("nano33ble_sense_rev2")
    result = fit_check(nano, model_bytes=20_000, arena_bytes=300 * 1024)
    assert not result.fits
    assert "RAM, board has 256 KB" in result.message
    small = fit_check(nano, model_bytes=12_000, arena_bytes=8_000)
    assert small.fits and small.message.startswith("fits:")
    assert small.ram_bytes == nano.runtime_ram_bytes + 8_000


def test_fit_report_covers_every_board():
    results = fit_report(10_000, 6_000, 2_400)
    assert set(results) == set(load_boards())
    assert "Arduino Nano 33 BLE Sense Rev2" in format_fit_table(results)


def test_bad_board_file_and_unknown_id(tmp_path):
    bad = tmp_path / "boards.toml"
    bad.write_text("[boards.x]\nname = 'X'\nflash_bytes = -1\n")
    with pytest.raises(BoardProfileError, match=r"boards\.toml.*board 'x' lacks"):
        load_boards(bad)
    bad.write_text("[boards.x\n")
    with pytest.raises(BoardProfileError, match="cannot read board profiles"):
        load_boards(bad)
    with pytest.raises(BoardProfileError, match="known boards: nano33ble_sense_rev1"):
        get_board("arduino_uno")
