"""``tinymlkit doctor``: is this computer ready for the course? One line per check, with a fix.

Taught in ``modules/00_welcome_and_setup.ipynb``. Private (leading ``_``), so any stage may import
it; the command line (``tinymlkit doctor``) and ``tk.cli.doctor`` call :func:`doctor`.

Every check is real: it imports the package, runs the compiler, reads the data files, opens the
port. Statuses: ``✔`` works, ``✖`` a *required* piece is missing or broken (the exit status is 1),
``–`` optional or informational (the course works without it; the line says what you lose).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import platform
import shutil
import subprocess
import sys
from typing import Callable, Sequence

from .i18n import N_, gettext as _

__all__ = ["OK", "FAIL", "INFO", "Check", "DoctorReport", "KIT_USB_VENDORS", "MIN_FREE_DISK_BYTES",
           "doctor"]

OK, FAIL, INFO = "✔", "✖", "–"

#: USB vendor ids of the course kits' serial ports, from the USB-IF vendor list as mirrored in
#: linux-usb.org's ``usb.ids`` (http://www.linux-usb.org/usb.ids): ``2341 Arduino SA`` (Nano 33
#: BLE Sense Rev1/Rev2 enumerate as 2341:805a / 2341:005a, Arduino's ``mbed_nano`` boards.txt) and
#: ``303a Espressif`` (the ESP32-S3's built-in USB Serial/JTAG, 303a:1001, used by the XIAO
#: ESP32S3 Sense; Espressif's USB VID/PID docs, https://github.com/espressif/usb-pids).
KIT_USB_VENDORS = {0x2341: "Arduino", 0x303A: "Espressif"}

#: Below this much free disk space the check fails, in bytes. The course's own choice: build/,
#: recordings/ and Jupyter's checkpoints need tens of MB; pip's cache and a re-install far more.
MIN_FREE_DISK_BYTES = 500 * 1024**2

_ROOT = pathlib.Path(__file__).resolve().parents[1]
_REINSTALL = N_("run `make setup` in the course folder (or `.venv/bin/python -m pip install -c constraints.txt -e \".[dev]\"`)")


def _reinstall() -> str:
    """The reinstall advice, in the current language (read at call time: TINYMLKIT_LANG)."""
    return _(_REINSTALL)
#: The checks' names, marked for translation (the report's keys stay English: ``report["packages"]``).
_CHECK_NAMES = (N_("Python"), N_("packages"), N_("TensorFlow"), N_("TFLM interpreter"), N_("g++"),
                N_("arm-none-eabi-g++"), N_("espeak-ng, flite"), N_("motion dataset"), N_("real voice digits"),
                N_("synthetic keywords"), N_("real speakers' digits"), N_("serial ports"), N_("microphone"),
                N_("disk space"))
_APT = "sudo apt-get install"  # Debian/Ubuntu; scripts/system_deps.sh installs the same packages


@dataclasses.dataclass(frozen=True)
class Check:
    """The result of one check.

    Attributes:
        name: what was checked, e.g. ``"Python"``, ``"g++"``.
        status: :data:`OK` (✔), :data:`FAIL` (✖) or :data:`INFO` (–: optional, or nothing to check).
        detail: what was found, in plain words (a version, a count, a path).
        fix: what to do about it, in plain words; ``""`` when nothing needs doing.
        required: True when the course cannot work without it (a ✖ then makes the exit status 1).
    """

    name: str
    status: str
    detail: str
    fix: str = ""
    required: bool = True


@dataclasses.dataclass(frozen=True)
class DoctorReport:
    """All checks of one :func:`doctor` run.

    Attributes:
        checks: the :class:`Check` results, in the order they ran.
    """

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when no required check failed."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        """The required checks that failed (✖)."""
        return [c for c in self.checks if c.status == FAIL and c.required]

    def __getitem__(self, name: str) -> Check:
        """The check called ``name``; raises KeyError naming the checks that exist."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check called {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    def table(self) -> str:
        """The checks as a text table (status, name, detail, and the fix on the next line)."""
        width = max(len(c.name) for c in self.checks)
        names = {c.name: _(c.name) for c in self.checks}  # names stay English in the report's keys
        width = max(len(n) for n in names.values())
        lines = []
        for c in self.checks:
            lines.append(f"{c.status} {names[c.name]:<{width}}  {c.detail}")
            if c.fix:
                lines.append(f"  {'':<{width}}  → {c.fix}")
        verdict = (_("Ready: every required check passed.") if self.ok else
                   _("Not ready: {n} required check(s) failed ({names}).").format(
                       n=len(self.failed), names=", ".join(names[c.name] for c in self.failed)))
        return "\n".join(lines + ["", verdict])

    def __str__(self) -> str:
        return self.table()


# -- the checks -----------------------------------------------------------------------------------
def _python() -> Check:
    from packaging.specifiers import SpecifierSet

    try:  # the range pyproject.toml declares (requires-python), as installed
        from importlib.metadata import metadata

        spec = metadata("tinymlkit")["Requires-Python"] or ">=3.11,<3.14"
    except Exception:  # not installed as a package (run from a copy): the README's range
        spec = ">=3.11,<3.14"
    version = platform.python_version()
    if version in SpecifierSet(spec):
        return Check("Python", OK, f"{version} ({sys.executable})")
    return Check("Python", FAIL, _("{version}; the course needs Python {spec}").format(version=version, spec=spec),
                 _("install Python 3.11 (Ubuntu 22.04: the deadsnakes PPA's python3.11 and python3.11-venv; "
                   "python.org; or `conda env create -f environment.yml`) and run `make PYTHON=python3.11 "
                   "setup` with it"))


def _packages(constraints: pathlib.Path) -> Check:
    from importlib.metadata import PackageNotFoundError, version
    from packaging.requirements import InvalidRequirement, Requirement

    if not constraints.is_file():
        return Check("packages", INFO, _("'{file}' not found (installed without the course "
                                        "folder), versions not compared").format(file=constraints), required=False)
    wrong, n = [], 0
    for number, line in enumerate(constraints.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            return Check("packages", FAIL, _("'{file}' line {number} is not a requirement ({error})").format(
                file=constraints, number=number, error=exc),
                _("restore the file: `git checkout constraints.txt`, or `make lock`"))
        if req.marker is not None and not req.marker.evaluate():
            continue  # for another platform (e.g. tflite-micro outside Linux x86_64)
        n += 1
        try:
            have = version(req.name)
        except PackageNotFoundError:
            wrong.append(_("{package} missing").format(package=req.name))
            continue
        if not req.specifier.contains(have, prereleases=True):
            wrong.append(_("{package} {version} (pinned {pin})").format(package=req.name, version=have, pin=req.specifier))
    if not wrong:
        return Check("packages", OK, _("{n} packages at the versions pinned in {file}").format(n=n, file=constraints.name))
    shown = ", ".join(wrong[:5]) + (_(" and {n} more").format(n=len(wrong) - 5) if len(wrong) > 5 else "")
    return Check("packages", FAIL, _("{bad} of {n} differ from {file}: {shown}").format(
        bad=len(wrong), n=n, file=constraints.name, shown=shown),
        _("{reinstall}; never `pip install -U` inside a notebook").format(reinstall=_reinstall()))


def _tensorflow() -> Check:
    from . import import_tensorflow_quietly

    try:
        import_tensorflow_quietly()
        import keras  # the Keras 3 the course builds models with (tf.keras may be tf_keras once
        import tensorflow as tf  # tensorflow-model-optimization has been imported)
    except ImportError as exc:
        return Check("TensorFlow", FAIL, _("cannot be imported: {error}").format(error=str(exc).splitlines()[0]),
                     _reinstall())
    return Check("TensorFlow", OK, _("{version} imports (Keras {keras})").format(version=tf.__version__,
                                                                             keras=keras.__version__))


def _tflm() -> Check:
    from .tflm import tflm_available

    if tflm_available():
        return Check("TFLM interpreter", OK, _("the real TFLM interpreter (tflite-micro) is available"))
    if sys.platform == "linux" and platform.machine() == "x86_64":
        return Check("TFLM interpreter", FAIL, _("tflite-micro cannot be imported"), _reinstall())
    return Check("TFLM interpreter", INFO, _("no tflite-micro wheel for {system} {machine}").format(
        system=sys.platform, machine=platform.machine()),
        _("nothing to do: models run in LiteRT and the tensor arena is an estimate "
          "(reports say \"litert-estimate\"); use Linux or WSL for the real interpreter"),
        required=False)


def _compiler(name: str, apt: str, needed_for: str, required: bool, path: str | None) -> Check:
    exe = shutil.which(name, path=path)
    status_missing = FAIL if required else INFO
    if exe is None:
        return Check(name, status_missing, _("not found on PATH ({needed_for})").format(needed_for=_(needed_for)),
                     f"{_APT} {apt}", required)
    try:  # compile something real: a compiler without its C++ library is as good as none
        proc = subprocess.run([exe, "-x", "c++", "-std=c++17", "-fsyntax-only", "-"],
                              input="#include <cstdint>\nint main() { return INT8_MAX > 0 ? 0 : 1; }\n",
                              capture_output=True, text=True, timeout=60)
        first = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, status_missing, _("'{exe}' does not run ({error})").format(exe=exe, error=exc),
                     f"{_APT} --reinstall {apt}", required)
    version = first.splitlines()[0] if first else exe
    if proc.returncode != 0:
        return Check(name, status_missing, _("'{exe}' cannot compile #include <cstdint>: {error}").format(
            exe=exe, error=proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "error"),
            f"{_APT} {apt}", required)
    return Check(name, OK, f"{version} ({_(needed_for)})", required=required)


def _speech_tools(path: str | None) -> Check:
    found = {t: shutil.which(t, path=path) for t in ("espeak-ng", "flite")}
    missing = [t for t, exe in found.items() if exe is None]
    if not missing:
        return Check("espeak-ng, flite", OK, _("both found (synthesise keyword clips)"), required=False)
    return Check("espeak-ng, flite", INFO, _("{missing} not found; only needed to make new "
                                            "synthetic keyword clips (the course ships 3,100)").format(
        missing=", ".join(missing)), f"{_APT} {' '.join(missing)}", required=False)


def _data() -> list[Check]:
    import csv

    import soundfile as sf

    from .keywords import real_digits_path
    from .datasets import DatasetError, load_motion, load_real_voice_digits, synthetic_keywords_path

    checks = []
    fix = _("the file ships inside tinymlkit: `git status tinymlkit/data` shows a change; restore it "
            "(`git checkout tinymlkit/data`) or {reinstall}").format(reinstall=_reinstall())
    try:
        checks.append(Check("motion dataset", OK, load_motion().summary()))
    except DatasetError as exc:
        checks.append(Check("motion dataset", FAIL, str(exc), fix))
    try:
        clips = load_real_voice_digits()
        checks.append(Check("real voice digits", OK, _("{n} clips at {rate} Hz").format(
            n=len(clips), rate=f"{clips.sample_rate_hz:g}")))
    except DatasetError as exc:
        checks.append(Check("real voice digits", FAIL, str(exc), fix))
    for name, folder in (("synthetic keywords", synthetic_keywords_path()),
                         ("real speakers' digits", real_digits_path())):
        manifest = folder / "manifest.csv"
        try:  # reading the header of every clip takes ~1 s; decoding all 3,100 would take ~15 s
            with open(manifest, newline="") as f:
                rows = list(csv.DictReader(f))
            for row in rows:
                try:
                    sf.info(str(folder / row["path"]))
                except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
                    raise DatasetError(f"'{folder / row['path']}' (listed in '{manifest}') cannot be read: {exc}") from exc
            checks.append(Check(name, OK, _("{n} clips listed and readable").format(n=f"{len(rows):,}")))
        except (OSError, KeyError, DatasetError) as exc:
            checks.append(Check(name, FAIL, str(exc) if not isinstance(exc, KeyError) else
                                _("'{file}' has no 'path' column").format(file=manifest), fix))
    return checks


def _serial(ports: Sequence[str]) -> list[Check]:
    from serial.tools import list_ports

    from .board_link import Board, BoardError

    found = sorted(list_ports.comports(), key=lambda p: p.device)
    kits = [f"{p.device} ({KIT_USB_VENDORS[p.vid]} {p.vid:04x}:{p.pid:04x})"
            for p in found if p.vid in KIT_USB_VENDORS]
    if kits:
        checks = [Check("serial ports", OK, _("kit port(s): {ports}").format(ports=", ".join(kits)), required=False)]
    else:
        names = ", ".join(p.device for p in found) or _("none")
        checks = [Check("serial ports", INFO, _("no kit plugged in (ports seen: {ports})").format(ports=names),
                        _("fine without a kit: labs use the simulated board. With a kit: use a data "
                          "cable (not charge-only); on Linux `sudo usermod -aG dialout $USER`, then log "
                          "in again"), required=False)]
    for port in ports:  # ports given by name: open them and ask the sketch who it is
        try:
            with Board(port, timeout_s=1.0) as board:
                h = board.header
            checks.append(Check(f"port {port}", OK, _("answers: board '{board}', {sensor} at {rate} Hz, "
                                                      "channels {channels}").format(
                board=h.board, sensor=h.sensor, rate=f"{h.rate_hz:g}", channels=", ".join(h.channels)),
                required=False))
        except BoardError as exc:
            checks.append(Check(f"port {port}", FAIL, str(exc).split(". ")[0],
                                _("upload a course sketch (hardware/<kit>/README.md) or pick another "
                                  "port (`tinymlkit ports`)"), required=False))
    return checks


def _microphone() -> Check:
    from .microphone import MicrophoneError, list_microphones

    try:
        mics = list_microphones()
    except MicrophoneError as exc:
        return Check("microphone", INFO, str(exc).split(". ")[0], str(exc).split(". ", 1)[-1],
                     required=False)
    if not mics:
        return Check("microphone", INFO, _("no audio input found"), _("only lab 05's own-voice part needs "
                     "one; it can also record from the kit's microphone or the simulated kit"),
                     required=False)
    default = next((m for m in mics if m["default"]), mics[0])
    return Check("microphone", OK, _("{n} input(s); default '{name}' ({api}, {rate} Hz)").format(
        n=len(mics), name=default["name"], api=default["host_api"], rate=f"{default['default_sample_rate_hz']:g}"),
        required=False)


def _disk(folder: pathlib.Path) -> Check:
    free = shutil.disk_usage(folder).free
    detail = _("{gb} GB free in '{folder}'").format(gb=f"{free / 1024**3:.1f}", folder=folder)
    if free < MIN_FREE_DISK_BYTES:
        return Check("disk space", FAIL, _("{detail}; need at least {mb} MB").format(
            detail=detail, mb=f"{MIN_FREE_DISK_BYTES / 1024**2:.0f}"),
            _("delete build/ (`make clean`) or free space elsewhere"))
    return Check("disk space", OK, detail)


def doctor(*, ports: Sequence[str] = (), path: str | None = None, constraints: str | os.PathLike | None = None,
           disk_folder: str | os.PathLike = ".", print_table: bool = True,
           on_check: Callable[[Check], None] | None = None) -> DoctorReport:
    """Check that this computer is ready for the course; print a table with a fix per problem.

    Args:
        ports: serial ports to open and ask for the course header (``INFO``), e.g. the kit's
            ``/dev/ttyACM0`` or the simulated board's pty; ``TINYMLKIT_PORT`` (the variable lab 04
            reads) is added when set. pyserial's port list cannot see pseudo-terminals, so a
            simulated board is checked only this way.
        path: the ``PATH`` to look for compilers and speech tools in (default: this process's).
        constraints: the pin file to compare installed packages with (default: the course
            folder's ``constraints.txt``).
        disk_folder: where free space is measured (default: the current folder, where ``build/``
            and ``recordings/`` are written).
        print_table: print the table (:meth:`DoctorReport.table`) at the end.
        on_check: called with each :class:`Check` as soon as it is done (progress).

    Returns:
        A :class:`DoctorReport`; ``report.ok`` is False when a required check failed. Never raises
        for what it checks: every fault becomes a ✖ or – line.
    """
    ports = list(ports)
    env_port = os.environ.get("TINYMLKIT_PORT", "")
    if env_port and env_port not in ports:
        ports.append(env_port)
    steps: list[Callable[[], Check | list[Check]]] = [
        _python,
        lambda: _packages(pathlib.Path(constraints) if constraints else _ROOT / "constraints.txt"),
        _tensorflow,
        _tflm,
        lambda: _compiler("g++", "g++", N_("compiles the exported C files in `make test`"), True, path),
        lambda: _compiler("arm-none-eabi-g++", "gcc-arm-none-eabi libnewlib-arm-none-eabi "
                          "libstdc++-arm-none-eabi-newlib", N_("real flash size on a Cortex-M4; without it reports give the .tflite size"),
                          False, path),
        lambda: _speech_tools(path),
        _data,
        lambda: _serial(ports),
        _microphone,
        lambda: _disk(pathlib.Path(disk_folder).resolve()),
    ]
    checks: list[Check] = []
    for step in steps:
        result = step()
        for c in result if isinstance(result, list) else [result]:
            checks.append(c)
            if on_check is not None:
                on_check(c)
    report = DoctorReport(tuple(checks))
    if print_table:
        print(report.table())
    return report
