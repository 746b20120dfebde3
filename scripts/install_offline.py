"""Install the course from an offline bundle (``make install-offline BUNDLE=path``).

Creates a virtual environment and installs into it with pip and **no index at all**
(``--no-index --find-links <bundle>/wheelhouse -c <bundle>/constraints.txt``; pip's own
configuration files are ignored, so nothing on the machine points it at a server). Before that
it checks the bundle: the wheelhouse and constraints exist, every wheel matches ``SHA256SUMS``,
and there are wheels for this Python and platform.

Standard library only: it runs with a bare ``python3.11`` on Linux, macOS and Windows, from the
course repository (``scripts/``) or from the root of a bundle (``make_bundle.py`` copies it there).

    python3.11 install_offline.py                                # bundle = this folder, venv = .venv
    python3.11 scripts/install_offline.py --bundle /media/usb/bundle --editable .
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


class BundleIncomplete(RuntimeError):
    """The bundle is missing, partly copied or built for another Python/platform."""


def sha256_of(path: pathlib.Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (also used by make_bundle.py to write SHA256SUMS)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_bundle(bundle: pathlib.Path, verify: bool = True) -> pathlib.Path:
    """Check that ``bundle`` can install this Python; return its wheelhouse.

    Args:
        bundle: the folder ``make bundle`` wrote (holds ``wheelhouse/``, ``constraints.txt``,
            ``SHA256SUMS``).
        verify: also compare the SHA-256 of every ``wheelhouse/`` file with ``SHA256SUMS``.
    Returns:
        ``bundle / "wheelhouse"``.
    Raises:
        BundleIncomplete: a folder or file is missing, a wheel is missing or damaged (name given),
            or no numpy wheel matches this interpreter (``cp311`` etc.).
    """
    if not bundle.is_dir():
        raise BundleIncomplete(f"'{bundle}' does not exist: give the bundle folder "
                               "(make install-offline BUNDLE=/path/to/bundle)")
    wheelhouse = bundle / "wheelhouse"
    for needed in (wheelhouse, bundle / "constraints.txt", bundle / "SHA256SUMS"):
        if not needed.exists():
            raise BundleIncomplete(f"'{needed}' is missing: the bundle is incomplete; copy it again "
                                   "or rebuild it with `make bundle`")
    if verify:
        listed = {}
        for number, line in enumerate((bundle / "SHA256SUMS").read_text().splitlines(), 1):
            digest, _, rel = line.partition("  ")
            if len(digest) != 64 or not rel:
                raise BundleIncomplete(f"'{bundle / 'SHA256SUMS'}' line {number} is not "
                                       "'<sha256>  <path>'")
            listed[rel] = digest
        for rel, digest in listed.items():
            if not rel.startswith("wheelhouse/") and rel != "constraints.txt":
                continue
            path = bundle / rel
            if not path.is_file():
                raise BundleIncomplete(f"'{path}' is listed in SHA256SUMS but missing: copy the "
                                       "bundle again")
            if sha256_of(path) != digest:
                raise BundleIncomplete(f"'{path}' is damaged (its SHA-256 differs from SHA256SUMS): "
                                       "copy the bundle again")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    numpy = [p.name for p in wheelhouse.glob("numpy-*.whl")]
    if not numpy:
        raise BundleIncomplete(f"'{wheelhouse}' holds no numpy wheel: the bundle is incomplete")
    if not any(f"-{tag}-" in name for name in numpy):
        have = sorted({n.split("-")[2] for n in numpy})
        raise BundleIncomplete(f"'{wheelhouse}' has wheels for {', '.join(have)}, but this is "
                               f"Python {sys.version.split()[0]} ({tag}): run this script with "
                               "that Python (e.g. python3.11 / py -3.11)")
    return wheelhouse


def offline_env() -> dict[str, str]:
    """The environment for pip: no index, no configuration files, and none of the machine's
    ``PIP_*`` settings (a ``PIP_FIND_LINKS`` or ``PIP_EXTRA_INDEX_URL`` would add other sources)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def venv_python(venv: pathlib.Path) -> pathlib.Path:
    """Path of the interpreter inside ``venv`` (``Scripts/python.exe`` on Windows)."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install(bundle: pathlib.Path, venv: pathlib.Path, editable: pathlib.Path | None = None,
            dev: bool = True, verify: bool = True) -> float:
    """Create ``venv`` (if needed) and install tinymlkit into it from ``bundle`` only.

    Args:
        bundle: the bundle folder.
        venv: the virtual environment to create or complete.
        editable: a course source folder to install with ``-e`` (else the wheel from the bundle).
        dev: include the ``[dev]`` extra (pytest, nbval, the Edge Impulse SDK).
        verify: check the wheels' SHA-256 first (:func:`check_bundle`).
    Returns:
        seconds the ``pip install`` took.
    Raises:
        BundleIncomplete: see :func:`check_bundle`.
        subprocess.CalledProcessError: venv creation or pip failed (pip's message is printed).
    """
    wheelhouse = check_bundle(bundle, verify)
    if not venv_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    extra = "[dev]" if dev else ""
    target = ["-e", f"{editable.resolve()}{extra}"] if editable else [f"tinymlkit{extra}"]
    started = time.perf_counter()
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "--no-index",
                    "--find-links", str(wheelhouse), "-c", str(bundle / "constraints.txt"),
                    *target], check=True, env=offline_env())
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Command line; 0 on success, 1 if the bundle is incomplete, 2 if pip failed."""
    parser = argparse.ArgumentParser(description="Install TinyML Lab Kit from an offline bundle.")
    default = HERE if (HERE / "wheelhouse").is_dir() else HERE.parent / "build" / "bundle"
    parser.add_argument("--bundle", type=pathlib.Path, default=default)
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path(".venv"))
    parser.add_argument("--editable", type=pathlib.Path, default=None,
                        help="course folder to install with -e (default: the tinymlkit wheel)")
    parser.add_argument("--no-dev", action="store_true", help="leave out the [dev] extra")
    parser.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check")
    args = parser.parse_args(argv)
    try:
        seconds = install(args.bundle.resolve(), args.venv, args.editable, not args.no_dev,
                          not args.no_verify)
    except BundleIncomplete as exc:
        print(f"install_offline: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"install_offline: '{' '.join(map(str, exc.cmd[:4]))} ...' failed (exit "
              f"{exc.returncode}); pip's message is above. Nothing was downloaded.", file=sys.stderr)
        return 2
    print(f"Installed from '{args.bundle}' into '{args.venv}' in {seconds:.0f} s, with no index.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
