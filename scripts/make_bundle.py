"""Build the offline install bundle: a folder to copy onto a USB stick (``make bundle``).

Two kinds (issue #12). The **student bundle** (default) is for students' USB sticks: its course
archive leaves out :data:`STUDENT_EXCLUDES` (``solutions/`` and the tests and benchmarks that
read it), and the finished folder is then *scanned* for model answers and hidden tests,
archives and wheels opened (scripts/answer_scan.py): the build fails, naming the file and the
leaked line, when anything is found. The **instructor bundle** (``--instructor``, ``make bundle
INSTRUCTOR=1``) holds the whole repository, solutions/ included: it stays with the instructor.
INSTALL.md's title and MANIFEST.txt's header say which kind a bundle is.

Layout of ``<out>/`` (default ``build/bundle``)::

    INSTALL.md          offline install commands for Linux, macOS and Windows; the bundle's kind
    install_offline.py  the installer (a copy of scripts/install_offline.py)
    constraints.txt     the exact pins the wheelhouse was made from
    wheelhouse/         a wheel for every pin of constraints.txt (+ setuptools, wheel, tinymlkit)
    sdist/              source archives that were built into wheels (for other platforms)
    course/             the course repository at HEAD (git archive): modules, labs, hardware;
                        the student bundle's leaves out STUDENT_EXCLUDES
    datasets/           optional archives already cached by tinymlkit.datasets.fetch
    book/               the built course book, if build/book/html exists
    MANIFEST.txt        size in bytes, SHA-256 and path of every file
    SHA256SUMS          the same hashes in ``sha256sum -c`` format

Run with the course's Python (``.venv/bin/python``): pip evaluates the environment markers of
constraints.txt (``sys_platform``, ``platform_machine``) for the interpreter that runs it, so the
default wheelhouse is for *this* platform and Python (Linux x86_64, CPython 3.11 on the course
machines). Other platforms are added to the same folder with ``--platform``/``--python-version``
(see INSTALL.md and ``--help``); only binary wheels can be fetched for them.

Re-running reuses the wheels already in the wheelhouse; with ``--prefer-offline`` it first tries
to complete the wheelhouse from itself (``pip --no-index``) and only asks the index when that fails.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = pathlib.Path(__file__).resolve().parents[1]

# install_offline.py must run alone from a bundle (no tinymlkit, no packaging); the checksum
# that writes SHA256SUMS here is the one that checks it there.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from answer_scan import scan_for_answers  # noqa: E402
from install_offline import sha256_of  # noqa: E402

#: The size the bundle should stay under, so it fits a 2 GB USB stick with room to spare (issue #6).
TARGET_BYTES = 1_500_000_000
#: Build requirements of pyproject.toml's [build-system], needed offline for ``pip install -e .``.
BUILD_REQUIREMENTS = ["setuptools>=68", "wheel"]


#: What the student bundle's course archive leaves out, and why: answers, and the instructor's tools
#: that cannot work without them. The bundle is then checked by scanning it (check_student_bundle).
STUDENT_EXCLUDES = {
    "solutions": "model answers and hidden tests (nbgrader source of labs/)",
    "i18n/*/LC_MESSAGES/solutions/*": "the translations of solutions/: model answers and hidden tests",
    "tests/test_i18n.py": "checks the catalogues of solutions/",
    "tests/test_i18n_labs.py": "makes the translated labs from solutions/ and validates them",
    "tests/test_i18n_book.py": "looks for nbgrader's solution markers in the translated books",
    "tests/submissions.py": "makes submissions out of the model answers",
    "tests/test_labs.py": "checks solutions/ against labs/",
    "tests/test_grading.py": "grades submissions made from solutions/",
    "tests/test_book.py": "reads solutions/ to prove the book shows no answer",
    "tests/test_bundle.py": "reads solutions/ to plant answers and find them",
    "tests/test_collect.py": "collects submissions made from the model answers",
    "tests/test_grading_attacks.py": "reads the hidden tests to attack the grader with them",
    "benchmarks/bench_grading.py": "grades submissions made from solutions/",
    "benchmarks/bench_kws.py": "runs the lab05 model answer",
}
#: (title, paragraph) of INSTALL.md for the student bundle (False) and the instructor's (True).
KINDS = {
    False: ("student bundle",
            "**Student bundle**, for students' USB sticks: no `solutions/`, no gradebook, no model\n"
            "answers or hidden tests. `make bundle` scanned every file, archives and wheels opened, and\n"
            "would have refused to finish had it found one."),
    True: ("INSTRUCTOR bundle, not for students",
           "**Instructor bundle: keep it with the instructor, never copy it onto a student's stick.**\n"
           "Its course archive holds `solutions/`: the model answers and hidden tests.\n"
           "Students' sticks get the student bundle (`make bundle`, without `INSTRUCTOR=1`)."),
}


class BundleError(RuntimeError):
    """The bundle cannot be built; the message says which file or step failed and why."""


def read_pins(constraints: pathlib.Path) -> list[Requirement]:
    """The ``name==version [; marker]`` lines of a constraints file.

    Args:
        constraints: path of ``constraints.txt``.
    Returns:
        one :class:`packaging.requirements.Requirement` per pin, in file order.
    Raises:
        BundleError: the file is missing, or a line is not an exact ``==`` pin.
    """
    if not constraints.is_file():
        raise BundleError(f"'{constraints}' does not exist: the bundle is made from the lock file")
    pins = []
    for number, line in enumerate(constraints.read_text().splitlines(), 1):
        text = line.split("  #")[0].strip()
        if not text or text.startswith("#"):
            continue
        req = Requirement(text)
        if len(req.specifier) != 1 or next(iter(req.specifier)).operator != "==":
            raise BundleError(f"'{constraints}' line {number}: {text!r} is not an exact '==' pin")
        pins.append(req)
    return pins


def marker_environment(platform_tag: str, python_version: str) -> dict[str, str]:
    """PEP 508 marker values for a target wheel platform, e.g. ``win_amd64`` and ``3.11``.

    pip evaluates markers for the interpreter running it even with ``--platform``, so the
    requirement list for another platform is filtered here first.

    Args:
        platform_tag: a wheel platform tag (``manylinux2014_x86_64``, ``macosx_11_0_arm64``,
            ``win_amd64``...), see https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/
        python_version: ``"3.11"``.
    Returns:
        the marker environment (``sys_platform``, ``platform_machine``, ``python_version``...).
    Raises:
        BundleError: the platform tag is not one this script knows how to map.
    """
    if platform_tag.startswith("win"):
        system, sys_platform, os_name = "Windows", "win32", "nt"
        machine = {"win_amd64": "AMD64", "win_arm64": "ARM64", "win32": "x86"}.get(platform_tag)
    elif platform_tag.startswith("macosx"):
        system, sys_platform, os_name = "Darwin", "darwin", "posix"
        machine = platform_tag.split("_", 3)[-1]
    elif "linux" in platform_tag:
        system, sys_platform, os_name = "Linux", "linux", "posix"
        machine = re.sub(r"^(many|musl)?linux(1|2010|2014|_\d+_\d+)?_", "", platform_tag)
    else:
        machine = None
    if not machine:
        raise BundleError(f"platform tag {platform_tag!r}: expected e.g. manylinux2014_x86_64, "
                          "manylinux2014_aarch64, macosx_11_0_arm64 or win_amd64")
    return {"sys_platform": sys_platform, "platform_system": system, "os_name": os_name,
            "platform_machine": machine, "python_version": python_version,
            "python_full_version": f"{python_version}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_release": "",
            "platform_version": "", "implementation_version": f"{python_version}.0",
            "extra": ""}


def _pip(args: list[str], log: list[str]) -> subprocess.CompletedProcess:
    """Run ``python -m pip <args>`` (this interpreter's pip); output kept in ``log``."""
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    log.append(f"$ pip {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    return proc


def _missing_name(stderr: str) -> str | None:
    """The project pip could not find (``No matching distribution found for X==1``)."""
    m = re.search(r"No matching distribution found for ([A-Za-z0-9_.\-]+)", stderr)
    return canonicalize_name(m.group(1)) if m else None


def download_wheels(pins: list[Requirement], wheelhouse: pathlib.Path, *, platforms: list[str],
                    python_version: str | None, prefer_offline: bool, log: list[str]) -> list[str]:
    """``pip download`` every applicable pin (and the build requirements) into ``wheelhouse``.

    Args:
        pins: from :func:`read_pins`.
        wheelhouse: the destination folder (created); files already there are reused.
        platforms: wheel platform tags for another platform (binary wheels only), or ``[]`` for
            the interpreter running this script (source archives allowed, built later).
        python_version: with ``platforms``: the target Python, e.g. ``"3.11"``.
        prefer_offline: first try to satisfy everything from ``wheelhouse`` itself (no network).
        log: pip's output is appended here.
    Returns:
        names of pins that have no binary wheel for the requested platform (left out).
    Raises:
        BundleError: pip failed for another reason (its last lines are in the message).
    """
    wheelhouse.mkdir(parents=True, exist_ok=True)
    if platforms:
        env = marker_environment(platforms[0], python_version or "3.11")
        wanted = [r for r in pins if r.marker is None or r.marker.evaluate(env)]
        target = [f"--only-binary=:all:", "--python-version", python_version or "3.11",
                  "--implementation", "cp"] + [a for p in platforms for a in ("--platform", p)]
    else:
        wanted = [r for r in pins if r.marker is None or r.marker.evaluate()]
        target = []
    requirements = [f"{r.name}{r.specifier}" for r in wanted] + BUILD_REQUIREMENTS
    skipped: list[str] = []
    common = ["download", "--no-deps", "-d", str(wheelhouse), *target]
    if prefer_offline:
        offline = _pip([*common, "--no-index", "--find-links", str(wheelhouse), *requirements], log)
        if offline.returncode == 0:
            return skipped
    while True:
        proc = _pip([*common, "--find-links", str(wheelhouse), *requirements], log)
        if proc.returncode == 0:
            return skipped
        name = _missing_name(proc.stderr)
        if not platforms or name is None or name in skipped:
            raise BundleError("pip download failed:\n" + "\n".join(proc.stderr.splitlines()[-8:]))
        skipped.append(name)
        requirements = [r for r in requirements if canonicalize_name(Requirement(r).name) != name]


def build_sdists(wheelhouse: pathlib.Path, sdist_dir: pathlib.Path, log: list[str]) -> list[str]:
    """Build every source archive in ``wheelhouse`` into a wheel there; move the archive to
    ``sdist_dir``, so installing from the bundle needs no compiler.

    Returns:
        the wheel file names built.
    Raises:
        BundleError: a build failed (e.g. PyAudio without ``portaudio19-dev``).
    """
    built = []
    for archive in sorted([*wheelhouse.glob("*.tar.gz"), *wheelhouse.glob("*.zip")]):
        before = set(wheelhouse.glob("*.whl"))
        proc = _pip(["wheel", "--no-deps", "-w", str(wheelhouse), str(archive)], log)
        if proc.returncode != 0:
            raise BundleError(f"'{archive.name}' could not be built into a wheel (PyAudio needs "
                              "PortAudio: scripts/system_deps.sh):\n" + proc.stderr[-1500:])
        built += [p.name for p in set(wheelhouse.glob("*.whl")) - before]
        sdist_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(archive), sdist_dir / archive.name)
    return built


def build_tinymlkit_wheel(wheelhouse: pathlib.Path, log: list[str]) -> pathlib.Path:
    """Build the tinymlkit wheel (with its shipped datasets) from ``ROOT`` into ``wheelhouse``,
    with ``--no-index``: this also proves the build requirements in the wheelhouse suffice.

    Returns:
        path of ``tinymlkit-<version>-py3-none-any.whl``.
    Raises:
        BundleError: the build failed.
    """
    for old in wheelhouse.glob("tinymlkit-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:  # build from a copy: leave the working tree alone
        src = pathlib.Path(tmp) / "src"
        shutil.copytree(ROOT / "tinymlkit", src / "tinymlkit",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy2(ROOT / name, src / name)
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                               "--find-links", str(wheelhouse), "-w", str(wheelhouse), str(src)],
                              capture_output=True, text=True, env=env)
        log.append(proc.stdout + proc.stderr)
    wheels = list(wheelhouse.glob("tinymlkit-*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise BundleError("building the tinymlkit wheel failed:\n" + proc.stderr[-1500:])
    return wheels[0]


def resolve_project(wheel: pathlib.Path, constraints: pathlib.Path, wheelhouse: pathlib.Path, *,
                    prefer_offline: bool, log: list[str]) -> None:
    """Download whatever ``tinymlkit[dev]`` needs beyond the pins (dependencies resolved by pip,
    constrained by ``constraints.txt``), so the wheelhouse installs the project, not just the lock.

    Raises:
        BundleError: pip cannot resolve ``tinymlkit[dev]`` under ``constraints.txt`` — the lock and
            pyproject.toml disagree (a new dependency, or one whose own requirements conflict with
            a pin); ``make lock`` re-resolves them.
    """
    common = ["download", "-d", str(wheelhouse), "-c", str(constraints), "--find-links",
              str(wheelhouse), f"{wheel}[dev]"]
    if prefer_offline and _pip([*common, "--no-index"], log).returncode == 0:
        return
    proc = _pip(common, log)
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "ERROR" in line
                         or "depends on" in line or "requested" in line)
        raise BundleError(f"pip cannot install tinymlkit[dev] under '{constraints}': pyproject.toml "
                          f"asks for something the lock does not allow; run `make lock`, then "
                          f"`make bundle` again.\n{tail[-1500:]}")


def build_requirements() -> set[str]:
    """Canonical names of ``pyproject.toml``'s ``[build-system] requires`` (setuptools, wheel)."""
    import tomllib

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    return {canonicalize_name(Requirement(r).name) for r in requires}


def prune(wheelhouse: pathlib.Path, pins: list[Requirement], keep: set[str] = frozenset()) -> list[str]:
    """Delete wheels an older lock left behind: pinned projects at another version, and projects
    the lock no longer pins at all (e.g. ``tensorflow-cpu``, dropped for ``tensorflow``).

    Args:
        wheelhouse: the folder of ``.whl`` files.
        pins: the exact pins of ``constraints.txt`` (:func:`read_pins`).
        keep: canonical names to keep although unpinned (the course's own wheel, the build
            backend: see :func:`build_requirements`).

    Returns:
        the deleted file names.
    """
    pinned = {canonicalize_name(r.name): str(next(iter(r.specifier)).version) for r in pins}
    keep = set(keep) | {"tinymlkit"}
    removed = []
    for wheel in wheelhouse.glob("*.whl"):
        name, version, *_ = parse_wheel_filename(wheel.name)
        if (name in pinned and str(version) != pinned[name]) or (name not in pinned and name not in keep):
            wheel.unlink()
            removed.append(wheel.name)
    return removed


def cached_datasets(dest: pathlib.Path) -> list[str]:
    """Copy archives of :data:`tinymlkit.datasets.DOWNLOADS` that are already in the fetch cache
    (``$TINYMLKIT_DATA_DIR`` or ``~/.cache/tinymlkit``) into ``dest``; nothing is downloaded.

    Returns:
        the copied file names (possibly none).
    """
    import pooch
    from tinymlkit.datasets import DOWNLOADS

    cache = pathlib.Path(os.environ.get("TINYMLKIT_DATA_DIR") or pooch.os_cache("tinymlkit"))
    copied = []
    for name, entry in DOWNLOADS.items():
        archive = cache / f"{name}.{entry.archive}"
        if archive.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(archive, dest / archive.name)
            copied.append(archive.name)
    return copied


def write_course_archive(dest: pathlib.Path, *, instructor: bool) -> pathlib.Path:
    """``git archive`` of HEAD into ``dest/tinymlkit-course.tar.gz`` (prefix ``tinymlkit-course/``).

    Args:
        dest: the folder to write into (created), ``<bundle>/course``.
        instructor: the whole repository; otherwise without :data:`STUDENT_EXCLUDES`.
    Returns:
        path of the archive.
    Raises:
        BundleError: git failed (not a git checkout, no commit yet).
    """
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "tinymlkit-course.tar.gz"
    excludes = [] if instructor else [f":(exclude){path}" for path in STUDENT_EXCLUDES]
    proc = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar.gz",
                           "--prefix=tinymlkit-course/", "-o", str(archive), "HEAD", "--", ".",
                           *excludes], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"git archive of '{ROOT}' failed: {proc.stderr.strip()}")
    return archive


def check_student_bundle(out: pathlib.Path, solutions_dir: pathlib.Path = ROOT / "solutions") -> None:
    """Scan a student bundle for model answers and hidden tests (scripts/answer_scan.py).

    Lines of the tinymlkit package's own source count as public (the labs call it).

    Args:
        out: the bundle folder.
        solutions_dir: where the answers to look for come from.
    Raises:
        BundleError: something was found; the message names each file (``archive!member`` inside
            archives) and the marker, solution cell or leaked line.
    """
    try:
        problems = scan_for_answers(out, solutions_dir, public=sorted((ROOT / "tinymlkit").rglob("*.py")))
    except ValueError as exc:
        raise BundleError(f"cannot check the student bundle: {exc}") from exc
    if problems:
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        raise BundleError(
            f"the student bundle '{out}' holds model answers or hidden tests ({len(problems)} "
            "problems); do not give it to students:\n" + "\n".join(f"  {p}" for p in problems[:25])
            + more + "\nRemove what carries them (a course/ or book/ left by an instructor build? "
            "delete the folder and build again; a new file with answers? add it to STUDENT_EXCLUDES "
            "in scripts/make_bundle.py). The folder has no SHA256SUMS, so install_offline.py refuses it.")


def write_manifest(out: pathlib.Path, header: str = "") -> int:
    """Write ``MANIFEST.txt`` (bytes, sha256, path) and ``SHA256SUMS`` for every file in ``out``.

    Args:
        out: the bundle folder.
        header: a first comment line for MANIFEST.txt (the bundle's kind), without ``#``.
    Returns:
        the total size of the bundle in bytes, manifests included.
    """
    rows = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel not in ("MANIFEST.txt", "SHA256SUMS"):
            rows.append((path.stat().st_size, sha256_of(path), rel))
    (out / "SHA256SUMS").write_text("".join(f"{h}  {p}\n" for _, h, p in rows))
    (out / "MANIFEST.txt").write_text(
        (f"# {header}\n" if header else "")
        + "# bytes  sha256  path — every file of this bundle (check: sha256sum -c SHA256SUMS)\n"
        + "".join(f"{n:>12}  {h}  {p}\n" for n, h, p in rows))
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


INSTALL_MD = """\
# TinyML Lab Kit {version} — offline install ({kind})

{kind_note}

This folder installs the course on a computer with **no internet**. Wheels in `wheelhouse/` are for:
platforms {platforms}; Python {pythons}. The install needs that Python (3.11 on the course
machines: python.org installers can be copied onto the stick too) and nothing else: no compiler,
no index. `install_offline.py` checks every wheel against `SHA256SUMS` first, so a half-copied stick
is reported, not half-installed.

## 1. Check the copy (optional; install_offline.py does it too)
- Linux: `sha256sum -c --quiet SHA256SUMS`   macOS: `shasum -a 256 -c SHA256SUMS`

## 2. Install
Unpack the course (notebooks, labs, hardware) and install into its `.venv`:

Linux / macOS (Terminal, in this folder):
```bash
tar -xzf course/tinymlkit-course.tar.gz -C ~          # -> ~/tinymlkit-course
python3.11 install_offline.py --venv ~/tinymlkit-course/.venv --editable ~/tinymlkit-course
# or, the same through make:  cd ~/tinymlkit-course && make install-offline BUNDLE="$OLDPWD"
```
Windows (PowerShell, in this folder; `py -3.11` is the Python launcher):
```powershell
tar -xzf course\\tinymlkit-course.tar.gz -C $HOME
py -3.11 install_offline.py --venv $HOME\\tinymlkit-course\\.venv --editable $HOME\\tinymlkit-course
```
What `install_offline.py` runs, if you prefer to type it yourself (no index is contacted):
```bash
python3.11 -m venv .venv
.venv/bin/python -m pip install --no-index --find-links <bundle>/wheelhouse -c <bundle>/constraints.txt -e ".[dev]"
```
(Windows: `.venv\\Scripts\\python.exe`.) Without the course folder, install just the package and its
datasets from its wheel: `... pip install --no-index --find-links wheelhouse -c constraints.txt
"tinymlkit[dev]"` (this is `python3.11 install_offline.py --venv <path>`).

Linux: the PyAudio wheel was built here against PortAudio; the target needs its run-time library
(`libportaudio2`, installed with `portaudio19-dev` by scripts/system_deps.sh). The C compilers the
tests use (`g++`, `arm-none-eabi-g++`) are system packages, not in this bundle.

## 3. Data
The course datasets (motion IMU, synthetic keywords, real-voice digits) are inside
`wheelhouse/{wheel}`. Optional downloads found in the machine's cache are in `datasets/` (may be
empty): copy them into `~/.cache/tinymlkit/` (or a folder named by `TINYMLKIT_DATA_DIR`) and
`tk.datasets.fetch(name)` uses them without the network.

## 4. The book
{book}

## Platforms without some wheels
{gaps}
Add another platform to this bundle on a machine with internet (binary wheels only; pip cannot
build source archives for another platform):
`python scripts/make_bundle.py --out <bundle> --platform win_amd64 --python-version 3.11`
(macOS: `--platform macosx_11_0_arm64 --platform macosx_10_9_universal2`; Linux aarch64:
`--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64`). `tflite-micro` has wheels
for Linux x86_64 only (elsewhere the course uses LiteRT and estimates the arena); `pyaudio` has
Windows wheels but none for macOS (build it on a Mac: `pip wheel --no-deps -w wheelhouse pyaudio==0.2.14`).

`MANIFEST.txt` lists the size and SHA-256 of every file.
"""


def write_install_md(out: pathlib.Path, wheel: pathlib.Path, skipped: dict[str, list[str]],
                     instructor: bool = False) -> None:
    """Write ``INSTALL.md`` (:data:`INSTALL_MD`) with this bundle's kind (:data:`KINDS`),
    platforms, Python versions, tinymlkit wheel, book status and missing wheels filled in.

    Args:
        out: the bundle folder (its ``wheelhouse/`` gives the platforms).
        wheel: the tinymlkit wheel.
        skipped: {platform tag: projects without a binary wheel for it}.
        instructor: an instructor bundle (solutions/ included), else a student bundle.
    """
    tags = [t for w in (out / "wheelhouse").glob("numpy-*.whl") for t in parse_wheel_filename(w.name)[3]]
    book = ("`book/html/index.html` — open it in a browser." if (out / "book").is_dir() else
            "Not included (build/book/html did not exist): run `make book` in the course folder, "
            "then `make bundle` again.")
    gaps = "".join(f"- {plat}: no wheel for {', '.join(names)} — build them there with "
                   f"`pip wheel --no-deps -w wheelhouse <name>==<version>`\n"
                   for plat, names in skipped.items()) or "- none recorded for this bundle\n"
    (out / "INSTALL.md").write_text(INSTALL_MD.format(
        platforms=", ".join(sorted({t.platform for t in tags})),
        pythons=", ".join(sorted({t.interpreter for t in tags})), wheel=wheel.name, book=book,
        gaps=gaps, version=parse_wheel_filename(wheel.name)[1], kind=KINDS[instructor][0],
        kind_note=KINDS[instructor][1]))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python scripts/make_bundle.py [--out build/bundle] ...``; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--constraints", type=pathlib.Path, default=ROOT / "constraints.txt")
    parser.add_argument("--platform", action="append", default=[],
                        help="add binary wheels for another platform tag (repeatable, e.g. "
                             "win_amd64, macosx_11_0_arm64); default: this interpreter's platform")
    parser.add_argument("--python-version", default=None, help="with --platform, e.g. 3.11")
    parser.add_argument("--prefer-offline", action="store_true",
                        help="complete the wheelhouse from itself first; ask the index only if needed")
    parser.add_argument("--no-course", action="store_true", help="leave out the git archive of HEAD")
    parser.add_argument("--instructor", action="store_true",
                        help="the instructor's bundle: the course with solutions/, not scanned;"
                             " never for students' sticks (default: the student bundle)")
    args = parser.parse_args(argv)
    out: pathlib.Path = args.out.resolve()
    log: list[str] = []
    started = time.perf_counter()
    try:
        pins = read_pins(args.constraints)
        wheelhouse = out / "wheelhouse"
        skipped = download_wheels(pins, wheelhouse, platforms=args.platform,
                                  python_version=args.python_version,
                                  prefer_offline=args.prefer_offline, log=log)
        download_s = time.perf_counter() - started
        built = build_sdists(wheelhouse, out / "sdist", log)
        wheel = build_tinymlkit_wheel(wheelhouse, log)
        if not args.platform:  # pip resolves markers for this interpreter only
            resolve_project(wheel, args.constraints, wheelhouse,
                            prefer_offline=args.prefer_offline, log=log)
            built += build_sdists(wheelhouse, out / "sdist", log)
        removed = prune(wheelhouse, pins, keep=build_requirements())
        shutil.copy2(args.constraints, out / "constraints.txt")
        shutil.copy2(ROOT / "scripts" / "install_offline.py", out / "install_offline.py")
        if not args.no_course:
            write_course_archive(out / "course", instructor=args.instructor)
        datasets = cached_datasets(out / "datasets")
        proxy = ROOT / "grading" / "hub-proxy" / "node_modules"
        if args.instructor and proxy.is_dir():
            # the workshop server's proxy (plain JavaScript): copy it to grading/hub-proxy/ offline
            shutil.rmtree(out / "hub-proxy", ignore_errors=True)
            shutil.copytree(proxy, out / "hub-proxy" / "node_modules", symlinks=True)
        if (ROOT / "build" / "book" / "html").is_dir():
            shutil.rmtree(out / "book", ignore_errors=True)
            shutil.copytree(ROOT / "build" / "book" / "html", out / "book" / "html")
        write_install_md(out, wheel, {p: skipped for p in args.platform[:1] if skipped},
                         instructor=args.instructor)
        for stale in ("MANIFEST.txt", "SHA256SUMS"):  # a bundle that fails the scan has neither
            (out / stale).unlink(missing_ok=True)
        scan_started = time.perf_counter()
        if not args.instructor:
            check_student_bundle(out)
        scan_s = time.perf_counter() - scan_started
        kind = KINDS[args.instructor][0]
        total = write_manifest(out, header=f"kind: {kind}" + (
            " (solutions/ included; keep it with the instructor)" if args.instructor else
            " (no solutions/, scanned for answers; for students' USB sticks)"))
    except BundleError as exc:
        (out.parent / f"{out.name}.log").write_text("\n".join(log))
        print(f"make_bundle: {exc}\n(pip's full output: {out.parent / (out.name + '.log')})",
              file=sys.stderr)
        return 1
    (out.parent / f"{out.name}.log").write_text("\n".join(log))
    n_wheels = len(list(wheelhouse.glob("*.whl")))
    print(f"Bundle: {out}\n  kind: {kind}; answer scan: "
          f"{'skipped (instructor bundle)' if args.instructor else f'clean ({scan_s:.0f} s)'}\n"
          f"  wheelhouse: {n_wheels} wheels (built from source: "
          f"{', '.join(built) or 'none'}; removed stale: {len(removed)}), {wheel.name}\n"
          f"  datasets cached by fetch: {', '.join(datasets) or 'none'}\n"
          f"  book: {'included' if (out / 'book').is_dir() else 'not built (make book)'}\n"
          f"  download {download_s:.0f} s, total {time.perf_counter() - started:.0f} s\n"
          f"  size: {total / 1e6:.0f} MB ({total:,} bytes; target <= {TARGET_BYTES / 1e9:.1f} GB)")
    if skipped:
        print(f"  no binary wheel for {args.platform[0]}: {', '.join(skipped)} (see INSTALL.md)")
    if total > TARGET_BYTES:
        print(f"WARNING: the bundle is larger than {TARGET_BYTES / 1e9:.1f} GB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
