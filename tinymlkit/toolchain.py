"""Toolchain stage (after export, before boards): compiling the course's C/C++ for the kits, from a laptop.

Two jobs, both objects only (nothing links; the kits' cores ship their mbed OS as a precompiled
``libmbed.a`` that a compile check does not need):

* :func:`compile_for_cortex_m4`: one or more sources (an exported ``model_data.cc``, the TinyMLKit
  library) with fixed Cortex-M4F flags, and their flash/RAM sizes (``arm-none-eabi-size``).
  Taught in ``modules/07_deployment.ipynb`` (``const`` and flash/RAM).
* :func:`compile_sketch`: an Arduino sketch as the Arduino tools build it for a board, against a
  real core and real libraries on disk: the ``.ino`` becomes a ``.cpp`` (``#include <Arduino.h>``,
  prototypes of its functions made with Universal Ctags, ``#line`` directives), the libraries it
  needs are found by preprocessing until no header is missing, and every file of the course (the
  sketch, its model files, the course's own libraries) is compiled with the command that the
  core's ``platform.txt`` (``recipe.cpp.o.pattern``) and ``boards.txt`` give, warnings on. The
  third-party libraries are only read for their headers (compiling all of TensorFlow Lite Micro
  takes 20 minutes; it is not ours to check). A warning in the course's own files is a failure.

References: the Arduino platform specification (arduino.github.io/arduino-cli/latest/platform-specification/:
properties files, ``{key}`` expansion, board-prefixed keys, ``build.arch``) and the sketch build
process (arduino.github.io/arduino-cli/latest/sketch-build-process/: ``.ino`` preprocessing, library
discovery).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "ARDUINO_IDE_VERSION",
    "CORTEX_M4_COMPILER",
    "CORTEX_M4_FLAGS",
    "CrossCompileError",
    "SectionSizes",
    "SketchBuild",
    "compile_for_cortex_m4",
    "compile_sketch",
    "cortex_m4_command",
    "expand_properties",
    "read_properties",
    "sketch_to_cpp",
]

#: Cross compiler for the Arm Cortex-M4F of the Nano 33 BLE Sense kits (Debian/Ubuntu package
#: ``gcc-arm-none-eabi`` with ``libnewlib-arm-none-eabi`` and ``libstdc++-arm-none-eabi-newlib``).
CORTEX_M4_COMPILER = "arm-none-eabi-g++"
#: The nRF52840's core: Cortex-M4 with the single-precision FPU (FPv4-SP, hard-float ABI), Thumb-2
#: (Nordic nRF52840 product specification v1.7, section 1, "Arm Cortex-M4 with FPU"), optimised for
#: size like the Arduino cores; every warning is an error.
CORTEX_M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
                   "-std=c++17", "-Os", "-Wall", "-Wextra", "-Werror")


class CrossCompileError(RuntimeError):
    """The Cortex-M4 toolchain is missing, or a source did not compile (the message has the
    compiler's output)."""


@dataclasses.dataclass(frozen=True)
class SectionSizes:
    """Section sizes of compiled object files, as ``arm-none-eabi-size`` (Berkeley format) reports.

    Attributes:
        text_bytes: code and read-only data (``.text`` + ``.rodata``: a ``const`` model array), in
            flash, bytes.
        data_bytes: initialised variables: stored in flash and copied to RAM at start-up, bytes.
        bss_bytes: zero-initialised variables, RAM only, bytes.
    """

    text_bytes: int
    data_bytes: int
    bss_bytes: int

    @property
    def flash_bytes(self) -> int:
        """Flash taken: ``text_bytes + data_bytes``, bytes."""
        return self.text_bytes + self.data_bytes


def cortex_m4_command() -> str:
    """The compile command as text (compiler and :data:`CORTEX_M4_FLAGS`), for reports and logs."""
    return " ".join((CORTEX_M4_COMPILER, *CORTEX_M4_FLAGS))


def compile_for_cortex_m4(sources, include_dirs=()) -> SectionSizes:
    """Compile C/C++ sources for the Cortex-M4F (object files only, no linking) and sum their sizes.

    Each source is compiled with ``arm-none-eabi-g++`` and :data:`CORTEX_M4_FLAGS` (``-c``); the
    sizes come from ``arm-none-eabi-size``. Sources are compiled one at a time, so a file's
    ``#include "x.h"`` finds headers beside it.

    Args:
        sources: paths of ``.c``/``.cc``/``.cpp`` files (e.g. the exported ``model_data.cc``).
        include_dirs: extra ``-I`` folders.

    Returns:
        :class:`SectionSizes` summed over every object file; ``flash_bytes`` is what the code and
        constants add to the kit's flash (before linking drops unused functions).

    Raises:
        CrossCompileError: ``arm-none-eabi-g++`` or ``arm-none-eabi-size`` is not installed, no
            source is given, or a source fails to compile (with the compiler's output).
    """
    sources = [pathlib.Path(s) for s in sources]
    size_tool = "arm-none-eabi-size"
    missing = [t for t in (CORTEX_M4_COMPILER, size_tool) if shutil.which(t) is None]
    if missing:
        raise CrossCompileError(f"{' and '.join(missing)} not found: install the Arm GNU toolchain "
                                "(Debian/Ubuntu: apt-get install gcc-arm-none-eabi "
                                "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib; "
                                "scripts/system_deps.sh does it)")
    if not sources:
        raise CrossCompileError("no source files to compile")
    includes = [f"-I{d}" for d in include_dirs]
    with tempfile.TemporaryDirectory() as tmp:
        objects = []
        for i, src in enumerate(sources):
            if not src.is_file():
                raise CrossCompileError(f"'{src}': file not found")
            obj = pathlib.Path(tmp) / f"{i}_{src.stem}.o"
            proc = subprocess.run([CORTEX_M4_COMPILER, *CORTEX_M4_FLAGS, *includes, "-c", str(src),
                                   "-o", str(obj)], capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise CrossCompileError(f"'{src}' does not compile for the Cortex-M4 ({cortex_m4_command()}):\n"
                                        f"{(proc.stderr or proc.stdout).strip()[-4000:]}")
            objects.append(str(obj))
        return _section_sizes(size_tool, objects)


def _section_sizes(size_tool: str, objects) -> SectionSizes:
    """``size_tool -B`` (Berkeley format) over the object files, summed."""
    proc = subprocess.run([size_tool, "-B", *map(str, objects)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise CrossCompileError(f"{size_tool} failed: {proc.stderr.strip()}")
    totals = [0, 0, 0]
    for line in proc.stdout.splitlines()[1:]:  # "text data bss dec hex filename"
        fields = line.split()
        if len(fields) >= 3 and all(f.isdigit() for f in fields[:3]):
            totals = [t + int(f) for t, f in zip(totals, fields[:3])]
    return SectionSizes(*totals)


# --- Arduino sketches against a real core -----------------------------------------------------

#: ``runtime.ide.version`` that arduino-cli 1.x passes as ``-DARDUINO=`` (10607: "1.6.7", kept for
#: compatibility by arduino-cli; arduino.github.io/arduino-cli/latest/platform-specification/).
ARDUINO_IDE_VERSION = "10607"

_PROPERTY = re.compile(r"\{([^{}]+)\}")
_MISSING_HEADER = re.compile(r"fatal error: ([^:\s]+): No such file or directory")
_WARNING = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? warning: (?P<text>.*)$", re.MULTILINE)
_SOURCE_SUFFIXES = (".c", ".cc", ".cpp")


def read_properties(path: str | pathlib.Path) -> dict[str, str]:
    """Read an Arduino properties file (``platform.txt``, ``boards.txt``, ``library.properties``).

    One ``key=value`` per line; ``#`` starts a comment line; blank lines are skipped; the value is
    the text after the first ``=`` with surrounding spaces removed.

    Args:
        path: the file.

    Returns:
        ``{key: value}`` as written (no ``{…}`` expansion: see :func:`expand_properties`).

    Raises:
        CrossCompileError: the file is missing or a non-comment line has no ``=`` (the message names
            the file and the line number).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise CrossCompileError(f"'{path}': file not found")
    props: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise CrossCompileError(f"'{path}' line {n}: expected key=value, got {line[:80]!r}")
        key, value = line.split("=", 1)
        props[key.strip()] = value.strip()
    return props


def expand_properties(text: str, props: dict[str, str]) -> str:
    """Replace every ``{key}`` in ``text`` by its value in ``props``, again and again until none is
    left that ``props`` knows (values may hold more ``{key}``\\ s).

    Args:
        text: e.g. ``platform.txt``'s ``recipe.cpp.o.pattern``.
        props: the properties (platform, board and build values).

    Returns:
        The expanded text; a ``{key}`` that ``props`` lacks stays as it is.

    Raises:
        CrossCompileError: the expansion does not end (a property refers to itself).
    """
    for _ in range(50):
        new = _PROPERTY.sub(lambda m: props.get(m.group(1), m.group(0)), text)
        if new == text:
            return new
        text = new
    raise CrossCompileError(f"properties refer to themselves while expanding {text[:120]!r}")


def _run_ctags(cpp: pathlib.Path) -> list[dict[str, str]]:
    ctags = shutil.which("ctags-universal") or shutil.which("ctags")
    if ctags is None:
        raise CrossCompileError("ctags not found: install Universal Ctags (Debian/Ubuntu: apt-get install "
                                "universal-ctags; scripts/system_deps.sh does it); the Arduino tools use it "
                                "to write a sketch's function prototypes")
    proc = subprocess.run([ctags, "-f", "-", "--language-force=C++", "--kinds-C++=fp", "--fields=+KSntzse",
                           "--extras=-q", str(cpp)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or "Universal Ctags" not in subprocess.run(
            [ctags, "--version"], capture_output=True, text=True, timeout=60).stdout:
        raise CrossCompileError(f"{ctags} is not Universal Ctags or failed: {proc.stderr.strip()[-500:]}")
    tags = []
    for line in proc.stdout.splitlines():
        name, _file, rest = line.split("\t", 2)
        pattern, _, fields = rest.partition(';"\t')
        tag = {"name": name, "pattern": pattern}
        for field in fields.split("\t"):
            key, _, value = field.partition(":")
            tag[key] = value
        tags.append(tag)
    return tags


def sketch_to_cpp(ino: str | pathlib.Path) -> str:
    """The C++ that the Arduino tools make of a sketch's ``.ino`` file.

    ``#include <Arduino.h>`` first; then the sketch, with a prototype of every function defined at
    file scope that has none yet, placed just before the first such function (functions inside a
    namespace or a class get none, as in arduino-cli); ``#line`` directives keep the compiler's
    messages on the ``.ino``'s own lines. Prototypes come from Universal Ctags (return type and
    signature).

    Args:
        ino: the ``.ino`` file.

    Returns:
        The C++ source text.

    Raises:
        CrossCompileError: the file is missing, or Universal Ctags is not installed.
    """
    ino = pathlib.Path(ino).resolve()
    if not ino.is_file():
        raise CrossCompileError(f"'{ino}': file not found")
    text = ino.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        cpp = pathlib.Path(tmp) / (ino.stem + ".cpp")
        cpp.write_text(text, encoding="utf-8")
        tags = _run_ctags(cpp)
    scopes = ("namespace", "class", "struct", "union", "scope")
    declared = {t["name"] for t in tags if t.get("kind") == "prototype" and not any(k in t for k in scopes)}
    needed = sorted((t for t in tags if t.get("kind") == "function" and not any(k in t for k in scopes)
                     and t["name"] not in declared and "template" not in t["pattern"]),
                    key=lambda t: int(t["line"]))
    lines = text.splitlines(keepends=True)
    quoted = str(ino).replace("\\", "\\\\").replace('"', '\\"')
    out = ["#include <Arduino.h>\n", f'#line 1 "{quoted}"\n']
    if not needed:
        return "".join(out + lines)
    first = int(needed[0]["line"])
    out += lines[:first - 1]
    for t in needed:
        static = "static " if t["pattern"].lstrip("/^").lstrip().startswith("static ") else ""
        out.append(f'#line {t["line"]} "{quoted}"\n{static}{t.get("typeref", "typename:void").split(":", 1)[1]} '
                   f'{t["name"]}{t.get("signature", "()")};\n')
    out.append(f'#line {first} "{quoted}"\n')
    out += lines[first - 1:]
    return "".join(out)


@dataclasses.dataclass(frozen=True)
class SketchBuild:
    """What :func:`compile_sketch` compiled.

    Attributes:
        sketch: the sketch folder.
        fqbn: the board, ``vendor:architecture:board``.
        libraries: folders of the libraries the sketch uses, in the order they were found.
        compiled: the course's files compiled (sketch ``.cpp``, its other sources, own libraries'
            sources).
        sizes: section sizes summed over their objects (``arm-none-eabi-size``), bytes.
        command: the compile command of the sketch's ``.cpp`` (for logs).
    """

    sketch: pathlib.Path
    fqbn: str
    libraries: tuple[pathlib.Path, ...]
    compiled: tuple[pathlib.Path, ...]
    sizes: SectionSizes
    command: str


def _library_src(lib: pathlib.Path) -> pathlib.Path:
    """A library's source root: ``src/`` in the 1.5 layout (the trimmed cores of ``shared/`` keep
    ``src/`` but not always ``library.properties``), else the folder itself (1.0 layout)."""
    return lib / "src" if (lib / "src").is_dir() else lib


def _provides(lib: pathlib.Path, header: str) -> bool:
    return (_library_src(lib) / header).is_file()


def compile_sketch(sketch: str | pathlib.Path, core: str | pathlib.Path, *, fqbn: str = "arduino:mbed_nano:nano33ble",
                   libraries=(), own_libraries=(), extra_files=(), jobs: int = 2) -> SketchBuild:
    """Compile an Arduino sketch for a board against a real core, objects only.

    The steps of the Arduino sketch build process, written for the course: the ``.ino`` becomes a
    ``.cpp`` (:func:`sketch_to_cpp`); library discovery preprocesses the sketch (``-E``) and, for
    each ``fatal error: X.h: No such file``, adds the first library (the core's ``libraries/``,
    then ``libraries``, then ``own_libraries``) whose source root holds ``X.h``, until nothing is
    missing; then the sketch's sources and every source of ``own_libraries`` are compiled with the
    core's ``recipe.cpp.o.pattern`` / ``recipe.c.o.pattern`` (``platform.txt`` with the board's
    keys of ``boards.txt``, ``compiler.warning_flags.all``: ``-Wall -Wextra``). The compiler is the
    ``arm-none-eabi-`` toolchain on ``PATH`` (the cores pin their own build of it; Debian's is
    newer). Third-party library sources are not compiled, only their headers read.

    Args:
        sketch: the sketch folder (holding ``<folder name>.ino``).
        core: the core's folder (with ``platform.txt``, ``boards.txt``, ``cores/``, ``variants/``,
            ``libraries/``), e.g. ``ArduinoCore-mbed`` 4.5.0.
        fqbn: ``vendor:architecture:board``; ``architecture`` gives ``-DARDUINO_ARCH_<ARCH>``,
            ``board`` picks the ``boards.txt`` keys.
        libraries: third-party library folders (headers only).
        own_libraries: the course's library folders: compiled, and held to no warnings.
        extra_files: files copied into the sketch's build folder first (e.g. the exported
            ``model_data.cc``, ``model_data.h``, ``model_settings.h`` that the sketch includes).
        jobs: compilers run at once.

    Returns:
        A :class:`SketchBuild`.

    Raises:
        CrossCompileError: a tool is missing; the sketch, the core or the board is not found; a
            header is in no library; a file does not compile; or a file of the course (the sketch,
            ``extra_files``, ``own_libraries``) has a compiler warning (each is listed with its
            file and line).
    """
    sketch = pathlib.Path(sketch).resolve()
    core = pathlib.Path(core).resolve()
    ino = sketch / f"{sketch.name}.ino"
    if not ino.is_file():
        raise CrossCompileError(f"'{sketch}': no {sketch.name}.ino (an Arduino sketch folder holds "
                                "a .ino named like the folder)")
    try:
        _vendor, arch, board = fqbn.split(":")
    except ValueError:
        raise CrossCompileError(f"fqbn {fqbn!r}: expected vendor:architecture:board") from None
    platform = read_properties(core / "platform.txt")
    boards = read_properties(core / "boards.txt")
    if f"{board}.name" not in boards:
        raise CrossCompileError(f"'{core / 'boards.txt'}' has no board {board!r}")
    props = dict(platform)
    props.update({k[len(board) + 1:]: v for k, v in boards.items() if k.startswith(board + ".")})
    crossprefix = props.get("build.crossprefix", "")
    for tool in (crossprefix + "g++", crossprefix + "gcc", crossprefix + "size"):
        if shutil.which(tool) is None:
            raise CrossCompileError(f"{tool} not found: install the Arm GNU toolchain (Debian/Ubuntu: "
                                    "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                                    "libstdc++-arm-none-eabi-newlib; scripts/system_deps.sh does it)")
    props.update({
        "build.compiler_path": "", "compiler.path": "",  # the toolchain on PATH
        "runtime.platform.path": str(core), "runtime.ide.version": ARDUINO_IDE_VERSION,
        "build.arch": arch.upper(), "build.core.path": str(core / "cores" / props.get("build.core", "arduino")),
        "build.variant.path": str(core / "variants" / props["build.variant"]),
        "build.system.path": str(core / "system"), "build.project_name": sketch.name,
        "compiler.warning_flags": props.get("compiler.warning_flags.all", "-Wall -Wextra"),
    })
    candidates = ([p for p in sorted((core / "libraries").iterdir()) if p.is_dir()]
                  if (core / "libraries").is_dir() else [])
    candidates += [pathlib.Path(p).resolve() for p in libraries]
    own = [pathlib.Path(p).resolve() for p in own_libraries]
    candidates += own
    with tempfile.TemporaryDirectory() as tmp:
        build = pathlib.Path(tmp) / sketch.name
        shutil.copytree(sketch, build)
        for f in extra_files:
            shutil.copy2(f, build / pathlib.Path(f).name)
        main = build / f"{sketch.name}.ino.cpp"
        main.write_text(sketch_to_cpp(ino), encoding="utf-8")
        used: list[pathlib.Path] = []

        def command(source: pathlib.Path, obj: pathlib.Path, *, discovery: bool = False) -> list[str]:
            recipe = "recipe.c.o.pattern" if source.suffix == ".c" else "recipe.cpp.o.pattern"
            includes = " ".join(shlex.quote(f"-I{p}") for p in
                                [props["build.core.path"], props["build.variant.path"], build]
                                + [_library_src(lib) for lib in used])
            # build.library_discovery_phase stays platform.txt's 0 while discovering too: arduino-cli
            # sets 1 there (the mbed core's Arduino.h then includes nothing), but a core trimmed to
            # the headers that a real compile reads lacks some that the discovery pass would read.
            values = dict(props, includes=includes, source_file=str(source), object_file=str(obj))
            args = shlex.split(expand_properties(props[recipe], values))
            if discovery:  # preprocess only: -E instead of -c, no dependency file
                args = [a for a in args if a not in ("-c", "-MMD")] + ["-E"]
            return args

        sources = [main] + [p for p in sorted(build.iterdir()) if p.suffix in _SOURCE_SUFFIXES and p != main]
        for _ in range(len(candidates) + 1):  # library discovery on the sketch's sources
            missing = None
            for src in sources:
                proc = subprocess.run(command(src, pathlib.Path(tmp) / "discovery.i", discovery=True),
                                      capture_output=True, text=True, timeout=300, cwd=tmp)
                m = _MISSING_HEADER.search(proc.stderr)
                if m:
                    missing = m.group(1)
                    break
                if proc.returncode != 0:
                    raise CrossCompileError(f"'{src}' does not preprocess:\n{proc.stderr.strip()[-4000:]}")
            if missing is None:
                break
            lib = next((c for c in candidates if c not in used and _provides(c, missing)), None)
            if lib is None:
                raise CrossCompileError(f"'{ino}': no library has {missing} (searched "
                                        f"{', '.join(str(c) for c in candidates) or 'no library'})")
            used.append(lib)
        own_sources = [p for lib in used if lib in own for p in sorted(_library_src(lib).rglob("*"))
                       if p.suffix in _SOURCE_SUFFIXES]
        compiled = sources + own_sources
        objects = [pathlib.Path(tmp) / f"{i}_{src.name}.o" for i, src in enumerate(compiled)]
        def compile_one(src: pathlib.Path, obj: pathlib.Path) -> tuple[pathlib.Path, str, int]:
            proc = subprocess.run(command(src, obj), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, cwd=tmp, timeout=600)
            return src, proc.stdout, proc.returncode

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outputs = list(pool.map(compile_one, compiled, objects))
        failed = [(s, out) for s, out, rc in outputs if rc != 0]
        if failed:
            src, out = failed[0]
            raise CrossCompileError(f"'{src}' does not compile for {fqbn}:\n{out.strip()[-4000:]}")
        ours = [str(build), str(sketch)] + [str(lib) for lib in own]
        warnings = []
        for _src, out, _rc in outputs:
            for m in _WARNING.finditer(out):
                where = str(pathlib.Path(tmp, m.group("file")).resolve()) if not m.group("file").startswith("/") \
                    else m.group("file")
                if any(where.startswith(o + "/") for o in ours):
                    shown = where.replace(str(build), str(sketch))
                    warnings.append(f"{shown}:{m.group('line')}: {m.group('text')}")
        if warnings:
            raise CrossCompileError(f"{sketch.name} for {fqbn}: the course's own code has compiler warnings "
                                    "(they are errors here):\n" + "\n".join(sorted(set(warnings))))
        sizes = _section_sizes(crossprefix + "size", objects)
        shown_cmd = " ".join(shlex.quote(a) for a in command(main, pathlib.Path("sketch.o")))
    return SketchBuild(sketch, fqbn, tuple(used), tuple(sketch / p.relative_to(build) if p.is_relative_to(build) else p
                                                         for p in compiled),
                       sizes, shown_cmd.replace(tmp, "<build>"))
