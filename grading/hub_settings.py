"""The workshop server's settings and folders, shared by ``grading/server.py`` (setup, start,
check), ``grading/jupyterhub_config.py`` (the hub) and ``grading/hub_spawner.py`` (each user's
server). See book/instructor_guide/workshop_server.md.

One server folder (default ``/srv/tinymlkit``) holds everything a class creates::

    server.json        these settings (written by ``server.py setup``)
    hub/               JupyterHub's database, cookie secret, proxy token and pid, the admin token (root only)
    ssl/               the self-signed certificate for the room's LAN (root only)
    exchange/          nbgrader's exchange (``exchange/tinymlkit/{outbound,inbound,feedback}``)
    accounts.csv       the class list with first-login passwords (root only: print it, hand out slips)

Instructors grade in ``~/course`` (labs/, solutions/, grading/) with the repository's
``grading/grade.py --root ~/course``: the same sandboxed, integrity-checked grading as ``make grade``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil

GRADING = pathlib.Path(__file__).resolve().parent
ROOT = GRADING.parent
COURSE_ID = "tinymlkit"
DEFAULT_DIR = pathlib.Path("/srv/tinymlkit")
#: the environment variable that names the server folder (the hub's config reads it)
DIR_VARIABLE = "TINYMLKIT_SERVER_DIR"
#: configurable-http-proxy, installed from npm by `make server-deps` (grading/hub-proxy/package-lock.json)
PROXY = GRADING / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"


@dataclasses.dataclass
class Settings:
    """What ``server.py setup`` chose for one class (``server.json``).

    Attributes:
        instructors, students: Unix user names (the class list's accounts).
        ip, port: where the hub listens (HTTPS), e.g. "0.0.0.0" and 8443.
        memory_gb: memory limit of one user's whole server (GiB), kernels included.
        cpus: CPU quota of one user's server (cores; 1.0 = one core).
        idle_minutes: a server idle this long is stopped by jupyterhub-idle-culler (its work is saved).
        min_free_disk_mb: below this much free disk (MB) no new server starts, and the instructor is told.
        python: the Python of the course environment (its ``bin/`` has jupyterhub-singleuser).
        repo: the course repository (modules/, labs/, grading/).
    """

    instructors: list[str]
    students: list[str]
    ip: str = "0.0.0.0"
    port: int = 8443
    memory_gb: float = 3.0
    cpus: float = 1.0
    idle_minutes: int = 60
    min_free_disk_mb: int = 2048
    python: str = ""
    repo: str = str(ROOT)

    def save(self, folder: pathlib.Path) -> None:
        """Write ``folder/server.json`` atomically."""
        tmp = folder / "server.json.tmp"
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        os.replace(tmp, folder / "server.json")

    @classmethod
    def load(cls, folder: pathlib.Path) -> "Settings":
        """Read ``folder/server.json``.

        Raises:
            SystemExit: the file is missing (run ``make server CLASS=…`` first) or not these settings.
        """
        path = folder / "server.json"
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except FileNotFoundError:
            raise SystemExit(f"{path} does not exist: set the server up first "
                             "(make server CLASS=class.csv, book/instructor_guide/workshop_server.md)") from None
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"{path} is not a TinyML Lab Kit server's settings: {exc}") from None


def server_dir() -> pathlib.Path:
    """The server folder: ``$TINYMLKIT_SERVER_DIR`` or ``/srv/tinymlkit``."""
    return pathlib.Path(os.environ.get(DIR_VARIABLE) or DEFAULT_DIR)


def exchange_dir(folder: pathlib.Path) -> pathlib.Path:
    """nbgrader's exchange root in the server folder."""
    return folder / "exchange"


def free_disk_mb(path: pathlib.Path) -> float:
    """Free space (MB, 10**6 bytes) on the file system holding ``path``."""
    return shutil.disk_usage(path).free / 1e6


def disk_message(folder: pathlib.Path, settings: Settings) -> str | None:
    """None when there is room; else a plain message for the instructor.

    The server folder (submissions, feedback) and ``/home`` (students' work) are checked.
    """
    for where in (folder, pathlib.Path("/home")):
        if not where.exists():
            continue
        free = free_disk_mb(where)
        if free < settings.min_free_disk_mb:
            return (f"The server's disk is nearly full: {free:,.0f} MB free where {where} is "
                    f"(the limit is {settings.min_free_disk_mb:,} MB). New servers are not started, so "
                    "students' saved work is not lost. Free space (delete old build/ folders or "
                    "old classes' submissions), then students can start again.")
    return None
