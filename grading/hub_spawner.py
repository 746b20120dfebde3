"""Each user's Jupyter server on the workshop hub: JupyterHub's LocalProcessSpawner (a process per
user, run as that user's Unix account) plus what a class needs:

- **the role's tools**: ``grading/jupyter-config/hub-instructor/`` (nbgrader's formgrader and course
  management) or ``…/hub-student/`` (Validate, Assignments: fetch, submit, fetch feedback), put first
  on Jupyter's config path, as ``make lab`` / ``make formgrader`` do on a laptop;
- **the course**: ``~/modules/`` for everyone, and ``~/course/`` (labs/, solutions/, grading/) for
  instructors, copied on the first start and never overwritten (it holds their work);
- **limits**: memory and CPU for the user's whole process tree (kernels included) with cgroups
  (``grading/sandbox.py``'s ``Cgroup``), where the machine has them; see
  book/instructor_guide/workshop_server.md;
- **a full disk**: no new server starts; the student is told their saved work is safe, the
  instructor's log says what to free.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import sys

from jupyterhub.spawner import LocalProcessSpawner
from tornado import web
from traitlets import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hub_settings  # noqa: E402
import sandbox  # noqa: E402

#: what ~/course gets from the repository (instructors): the released labs and their sources
COURSE_FOLDERS = ("labs", "solutions")
#: what never goes into a user's copy
IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "build", "*.tflite", "*.npz")


def role_of(user: str, settings: hub_settings.Settings) -> str:
    """``"instructor"`` or ``"student"`` for a user name of the class list."""
    return "instructor" if user in settings.instructors else "student"


def _chown_tree(path: pathlib.Path, uid: int, gid: int) -> None:
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def prepare_home(user: str, settings: hub_settings.Settings) -> list[pathlib.Path]:
    """Copy the course into the user's home where it is missing (never over the user's files).

    Args:
        user: a Unix account of the class list.
        settings: the server's settings (``repo`` is where the course is copied from).
    Returns:
        the folders copied this time (empty when everything was there).
    Raises:
        KeyError: no Unix account ``user``.
    """
    account = pwd.getpwnam(user)
    home = pathlib.Path(account.pw_dir)
    repo = pathlib.Path(settings.repo)
    wanted = {home / "modules": repo / "modules"}
    if role_of(user, settings) == "instructor":
        wanted.update({home / "course" / name: repo / name for name in COURSE_FOLDERS})
        for name in ("submitted", "autograded", "feedback"):
            wanted[home / "course" / "grading" / name] = None
    copied = []
    for target, source in wanted.items():
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            target.mkdir()
        else:
            shutil.copytree(source, target, ignore=IGNORE)
        copied.append(target)
    # only what was made now: a later start does not walk the instructor's whole grading tree again
    for target in copied:
        _chown_tree(target, account.pw_uid, account.pw_gid)
        for parent in target.relative_to(home).parents:
            folder = home / parent
            if folder != home and folder.stat().st_uid != account.pw_uid:
                os.chown(folder, account.pw_uid, account.pw_gid)
    os.chmod(home, 0o700)    # no one else reads a student's work
    return copied


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with the course's roles, per-user limits and a disk check.

    ``settings`` and ``server_folder`` are set by grading/jupyterhub_config.py.
    """

    settings = Any(help="hub_settings.Settings of this server").tag(config=True)
    server_folder = Any(help="the server folder (pathlib.Path)").tag(config=True)
    _cgroup = None

    @property
    def cgroup_name(self) -> str:
        """The cgroup folder of this user's server."""
        return f"tinymlkit-hub-{self.user.name}"

    def get_env(self):
        """The server's environment: the role's Jupyter config, nbgrader's exchange, the course
        environment first on PATH, and the limits for jupyter-resource-usage and the math libraries."""
        env = super().get_env()
        role = role_of(self.user.name, self.settings)
        python = pathlib.Path(self.settings.python)
        env.update({
            "JUPYTER_CONFIG_PATH": str(hub_settings.GRADING / "jupyter-config" / f"hub-{role}"),
            "TINYMLKIT_EXCHANGE": str(hub_settings.exchange_dir(self.server_folder)),
            "TINYMLKIT_REPO": self.settings.repo,
            "PATH": os.pathsep.join([str(python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "MEM_LIMIT": str(int(self.settings.memory_gb * 1024**3)),
            "CPU_LIMIT": str(self.settings.cpus),
            # one core per user: more threads per kernel only compete with the other students
            "OMP_NUM_THREADS": str(max(1, int(self.settings.cpus))),
            "TF_NUM_INTRAOP_THREADS": str(max(1, int(self.settings.cpus))),
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        })
        if role == "instructor":
            env["TINYMLKIT_COURSE_ROOT"] = str(pathlib.Path(pwd.getpwnam(self.user.name).pw_dir) / "course")
        return env

    def make_preexec_fn(self, name):
        """Enter the user's cgroup (as root), then become the user (LocalProcessSpawner's)."""
        become_user = super().make_preexec_fn(name)
        cgroup = self._cgroup

        def preexec():
            if cgroup is not None and cgroup.active:
                cgroup.enter()
            become_user()

        return preexec

    async def start(self):
        """Check the disk, copy the course where missing, set the limits, start the server.

        Raises:
            tornado.web.HTTPError: 507, the disk is nearly full (the message is what the student sees).
        """
        # read again at every start: an instructor's change to server.json applies without a hub restart
        self.settings = hub_settings.Settings.load(self.server_folder)
        message = hub_settings.disk_message(self.server_folder, self.settings)
        if message:
            self.log.error("Not starting %s's server. %s", self.user.name, message)
            error = web.HTTPError(507, "Your server cannot start now: the workshop server's disk is nearly full. "
                                       "Your saved work is safe. Please tell your instructor.")
            error.jupyterhub_message = error.log_message      # what the spawn page shows the student
            raise error
        prepare_home(self.user.name, self.settings)
        sandbox.remove_cgroups(self.cgroup_name)      # left by a server that died with the hub down
        limits = sandbox.Limits(memory_bytes=int(self.settings.memory_gb * 1024**3), processes=1024)
        self._cgroup = sandbox.Cgroup(self.cgroup_name, limits, cpus=self.settings.cpus)
        if not self._cgroup.active:
            self.log.warning("No cgroups on this machine: %s's memory and CPU are not limited", self.user.name)
        self.mem_limit = limits.memory_bytes
        self.cpu_limit = self.settings.cpus
        return await super().start()

    async def stop(self, now=False):
        """Stop the server (LocalProcessSpawner's), then end what is left in its cgroup."""
        await super().stop(now=now)
        sandbox.remove_cgroups(self.cgroup_name)
        self._cgroup = None
