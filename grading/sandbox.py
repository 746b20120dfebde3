"""The autograding sandbox: every student's kernel runs in bubblewrap, with nothing of the course
but a read-only Python environment and an empty folder of its own.

``grading/grade.py`` installs a kernelspec (:func:`write_kernelspec`) whose argv is this file's
``kernel`` command; nbgrader starts it like any kernel, over IPC sockets (the sandbox has no
network, so no TCP). What the kernel can see (``bwrap``, Debian package ``bubblewrap``;
https://github.com/containers/bubblewrap):

* read-only: ``/usr``, ``/etc``, ``/lib*``, ``/bin``, ``/sbin``, the Python installation and the
  course's virtual environment, and the ``tinymlkit`` package folder — nothing else of the
  repository: no ``solutions/``, no ``grading/`` (gradebook, config, other students), no ``.git``;
* read-write: ``/course`` (an empty per-student scratch folder on disk, deleted after the
  student; the kernel starts in ``/course/labs/<lab>`` so a lab's ``../../build`` stays inside it),
  its ``/tmp``, and the folder of its own connection sockets;
* new PID, network, IPC and UTS namespaces: no network, no other process visible (not nbgrader,
  not ``grade.py``, not the other students); every process it starts ends with it;
* limits (``setrlimit``; :class:`Limits`): address space per process, number of processes,
  CPU seconds, file size, open files; no core dumps.

Run as root (a workshop server), the kernel drops to an unprivileged user id of its own
(61000 + a slot number) so the process limit counts only its processes. Run as a normal user,
bwrap makes an unprivileged user namespace, in which the process limit counts only the sandbox.

``python grading/sandbox.py check`` says whether the sandbox can start on this machine.
"""

from __future__ import annotations

import dataclasses
import fcntl
import importlib.util
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

#: Name of the kernelspec grade.py installs (and nbgrader is told to use, whatever the notebook says).
KERNEL_NAME = "tinymlkit-sandbox"
#: Environment variables grade.py sets for the kernel launcher.
ENV_SCRATCH = "TINYMLKIT_SANDBOX_SCRATCH"    # folder in which per-student scratch folders are made
ENV_LIMITS = "TINYMLKIT_SANDBOX_LIMITS"      # JSON of Limits
ENV_PACKAGE = "TINYMLKIT_SANDBOX_PACKAGE"    # the tinymlkit package folder to show read-only
#: First user id of the unprivileged users a root grader's kernels run as (one per parallel slot).
FIRST_UID = 61000
SLOTS = 256
#: Environment variables passed into the sandbox (everything else is cleared).
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE",
              "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED",
              "PYDEVD_DISABLE_FILE_VALIDATION", "TINYMLKIT_LANG")


def package_folder() -> pathlib.Path:
    """The folder of the installed ``tinymlkit`` package (shown read-only to the kernel).

    Raises:
        SandboxError: tinymlkit is not installed in this Python.
    """
    spec = importlib.util.find_spec("tinymlkit")
    if spec is None or not spec.origin:
        raise SandboxError("tinymlkit is not installed in this Python: run 'make setup'")
    return pathlib.Path(spec.origin).resolve().parent


class SandboxError(RuntimeError):
    """The sandbox cannot start here; the message says why and what the grader can do."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one student's kernel (``setrlimit``; each applies per process, except
    ``processes`` which counts every process and thread of the sandbox).

    Attributes:
        memory_bytes: address space of one process (RLIMIT_AS), bytes. TensorFlow reserves about
            2 GiB of address space at import; the labs peak near 3 GiB.
        processes: processes and threads of the sandbox (RLIMIT_NPROC); TensorFlow starts ~60
            threads, a simulated kit a few processes.
        cpu_seconds: CPU time of one process (RLIMIT_CPU), s: a backstop beside the per-cell
            wall-clock timeout.
        file_bytes: largest file the kernel may write (RLIMIT_FSIZE), bytes.
        open_files: open file descriptors (RLIMIT_NOFILE).
    """

    memory_bytes: int = 6 * 1024**3
    processes: int = 512
    cpu_seconds: int = 3600
    file_bytes: int = 1024**3
    open_files: int = 1024

    def rlimits(self) -> dict[str, int]:
        """{``resource`` constant name: value} for ``setrlimit`` (soft = hard)."""
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_NPROC": self.processes,
                "RLIMIT_CPU": self.cpu_seconds, "RLIMIT_FSIZE": self.file_bytes,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0}


# Run inside the sandbox, before the kernel: set the limits, drop root, exec the kernel.
_STAGE = """\
import os, resource, sys
limits, uid = {limits!r}, {uid!r}
for name, value in limits.items():
    resource.setrlimit(getattr(resource, name), (value, value))
if os.getuid() == 0:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _readonly_paths(package: pathlib.Path | None) -> list[pathlib.Path]:
    """Host folders the kernel may read: the system, Python and the course package."""
    paths = [pathlib.Path(p) for p in ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt")]
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                   os.path.dirname(os.path.realpath(sys.executable))}:
        path = pathlib.Path(prefix).resolve()
        if path.name == "bin":
            path = path.parent
        paths.append(path)
    if package is not None:
        paths.append(package.resolve())
    out: list[pathlib.Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if path.exists() and not any(path.is_relative_to(o) for o in out):
            out.append(path)
    return out


def bwrap_command(scratch: pathlib.Path, lab: str, argv: list[str], limits: Limits, *,
                  package: pathlib.Path | None = None, uid: int | None = None,
                  sockets: pathlib.Path | None = None) -> list[str]:
    """The bubblewrap command line that runs ``argv`` (a Python command) in the sandbox.

    Args:
        scratch: the student's empty scratch folder (host path), shown as ``/course``.
        lab: lab folder name; the command starts in ``/course/labs/<lab>``.
        argv: arguments after the Python interpreter, e.g. ``["-m", "ipykernel_launcher", ...]``.
        limits: resource limits.
        package: the ``tinymlkit`` package folder to show read-only (an editable install).
        uid: user id to drop to when started as root (``None``: not root, no change).
        sockets: host folder of the kernel's IPC sockets, shown read-write as ``/sockets``.
    Returns:
        the argv list for ``subprocess``.
    Raises:
        SandboxError: ``bwrap`` is not installed.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap ('bwrap') is not installed: Debian/Ubuntu 'sudo apt-get install "
                           "bubblewrap' (make setup installs it when run as root)")
    for sub in ("tmp", "home", f"labs/{lab}"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grading"]
    if os.getuid() != 0:
        cmd += ["--unshare-user"]
    readonly = _readonly_paths(package)
    # bwrap makes the mount points' parents (/root for /root/.pyenv/...) mode 0700: open them
    parents = sorted({parent for path in readonly for parent in path.parents
                      if parent != pathlib.Path("/") and not any(parent.is_relative_to(r) for r in readonly)},
                     key=lambda p: len(p.parts))
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", str(parent)]
    for path in readonly:
        cmd += ["--ro-bind", str(path), str(path)]
    # /dev/shm: POSIX semaphores for multiprocessing/joblib, 256 MB at most
    cmd += ["--dev", "/dev", "--perms", "1777", "--size", str(256 * 1024**2), "--tmpfs", "/dev/shm", "--proc", "/proc",
            "--bind", str(scratch), "/course", "--bind", str(scratch / "tmp"), "/tmp"]
    if sockets is not None:
        cmd += ["--bind", str(sockets), "/sockets"]
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin", "HOME": "/course/home",
           "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "VIRTUAL_ENV": sys.prefix}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", f"/course/labs/{lab}", "--", sys.executable, "-c",
            _STAGE.format(limits=limits.rlimits(), uid=uid), *argv]
    return cmd


class _Slot:
    """An unprivileged user id held for one kernel (root graders; a lock file per id)."""

    def __init__(self, folder: pathlib.Path):
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(SLOTS):
            handle = open(folder / f"uid-slot-{number}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.handle, self.uid = handle, FIRST_UID + number
            return
        raise SandboxError(f"all {SLOTS} sandbox user ids are in use (lock files in {folder})")

    def release(self) -> None:
        self.handle.close()


def _chown_tree(path: pathlib.Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid)


def _die_with_parent() -> None:
    """Get SIGTERM when nbgrader (the parent) ends, however it ends (prctl PR_SET_PDEATHSIG), so
    a stopped grader never leaves a kernel behind; exit at once if it has already gone."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)     # 1 = PR_SET_PDEATHSIG (linux/prctl.h)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(1)


class Cgroup:
    """Memory and process limits for a kernel's whole process tree, where the machine lets us
    (root, cgroup v1 ``memory``/``pids`` hierarchies or cgroup v2 with those controllers; see
    https://docs.kernel.org/admin-guide/cgroup-v2.html). Elsewhere the rlimits apply per process.

    Also used by the workshop server (``grading/hub_spawner.py``) for each user's whole server.

    Args:
        name: the cgroup's folder name (one per kernel or per user).
        limits: ``memory_bytes`` and ``processes`` of the whole tree.
        cpus: a CPU quota in cores (cgroup v1 ``cpu.cfs_quota_us`` / v2 ``cpu.max`` over a
            100 ms period), or None for no CPU limit.
    """

    def __init__(self, name: str, limits: Limits, cpus: float | None = None):
        self.folders: list[pathlib.Path] = []
        if os.getuid() != 0 or not sys.platform.startswith("linux"):
            return
        own = {}
        for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path.lstrip("/")
        wanted = {"memory": {"memory.limit_in_bytes": limits.memory_bytes},
                  "pids": {"pids.max": limits.processes}}
        if cpus is not None:
            wanted["cpu"] = {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": int(cpus * 100_000)}
        base = pathlib.Path("/sys/fs/cgroup")
        if (base / "cgroup.controllers").exists():          # cgroup v2 (unified)
            folder = base / own.get("", "") / name
            enabled = (folder.parent / "cgroup.subtree_control")
            if {"memory", "pids"} <= set(enabled.read_text().split()) if enabled.exists() else False:
                settings = {"memory.max": limits.memory_bytes, "pids.max": limits.processes, "memory.swap.max": 0}
                if cpus is not None:
                    settings["cpu.max"] = f"{int(cpus * 100_000)} 100000"
                self._make(folder, settings)
            return
        for controller, settings in wanted.items():           # cgroup v1
            root = base / controller
            if root.is_dir() and controller in own:
                self._make(root / own[controller] / name, settings)

    def _make(self, folder: pathlib.Path, settings: dict[str, int | str]) -> None:
        try:
            folder.mkdir()
            for key, value in settings.items():
                if (folder / key).exists():
                    (folder / key).write_text(str(value))
            self.folders.append(folder)
        except OSError:
            if folder.exists():
                self._remove(folder)

    def enter(self) -> None:
        """Put the calling process into the cgroups (run in the child before exec)."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    @property
    def active(self) -> bool:
        """Whether a whole-tree limit applies."""
        return bool(self.folders)

    @staticmethod
    def _remove(folder: pathlib.Path) -> None:
        for _ in range(50):
            procs = [int(p) for p in (folder / "cgroup.procs").read_text().split()] if folder.exists() else []
            if (folder / "cgroup.kill").exists() and procs:
                (folder / "cgroup.kill").write_text("1")
            for pid in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)

    def close(self) -> None:
        """End every process left in the cgroups and remove them."""
        for folder in self.folders:
            self._remove(folder)
        self.folders = []


def remove_cgroups(pattern: str) -> int:
    """End every process in the cgroups whose name matches ``pattern`` (a glob, any hierarchy)
    and remove them.

    Returns:
        how many cgroup folders were removed (0 when not root or no cgroups here).
    """
    base = pathlib.Path("/sys/fs/cgroup")
    if os.getuid() != 0 or not base.is_dir():
        return 0
    removed = 0
    for folder in base.glob(f"**/{pattern}"):
        if folder.is_dir():
            Cgroup._remove(folder)
            removed += not folder.exists()
    return removed


def sweep_cgroups(run_folder: pathlib.Path) -> int:
    """Remove the cgroups a grading run left (a kernel launcher killed with SIGKILL cannot remove
    its own), ending any process still in them.

    Args:
        run_folder: the grading run's temporary folder (its name is in the cgroups' names).
    Returns:
        how many cgroups were removed.
    """
    return remove_cgroups(f"tinymlkit-{run_folder.name}-*")


def run_kernel(connection_file: pathlib.Path, host_cwd: pathlib.Path) -> int:
    """Start an IPython kernel in the sandbox and wait for it (the kernelspec's command).

    Args:
        connection_file: the connection file jupyter_client wrote (IPC transport).
        host_cwd: the folder nbgrader started the kernel in (``autograded/<student>/<lab>``); only
            its name (the lab) is used: the kernel never sees it.
    Returns:
        the kernel's exit status.
    Raises:
        SandboxError: the environment grade.py sets is missing.
    """
    scratch_root = os.environ.get(ENV_SCRATCH)
    if not scratch_root:
        raise SandboxError(f"{ENV_SCRATCH} is not set: start autograding with grading/grade.py")
    _die_with_parent()
    limits = Limits(**json.loads(os.environ.get(ENV_LIMITS, "{}")))
    package = os.environ.get(ENV_PACKAGE)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="kernel-", dir=scratch_root))
    slot = _Slot(pathlib.Path(scratch_root) / "slots") if os.getuid() == 0 else None
    cgroup = Cgroup(f"tinymlkit-{pathlib.Path(scratch_root).parent.name}-{scratch.name}", limits)
    try:
        connection = json.loads(connection_file.read_text())
        if connection.get("transport") != "ipc":
            raise SandboxError("the sandboxed kernel needs IPC transport (--KernelManager.transport=ipc)")
        if not os.path.isabs(connection["ip"]):
            raise SandboxError("the kernel's IPC path must be absolute (--KernelManager.ip=/folder/kernel)")
        sockets = pathlib.Path(connection["ip"]).parent.resolve()
        if not sockets.is_relative_to(pathlib.Path(scratch_root).resolve().parent):
            raise SandboxError(f"the kernel's sockets ({sockets}) must be in the grading run's folder")
        (scratch / "home").mkdir()
        inner = scratch / "home" / "connection.json"
        # the same socket files, reached inside through the /sockets bind
        inner.write_text(json.dumps({**connection, "ip": f"/sockets/{pathlib.Path(connection['ip']).name}"}))
        cmd = bwrap_command(scratch, host_cwd.name, ["-m", "ipykernel_launcher", "-f", "/course/home/connection.json",
                                                     "--HistoryManager.enabled=False"],
                            limits, package=pathlib.Path(package) if package else None,
                            uid=slot.uid if slot else None, sockets=sockets)
        if slot:
            _chown_tree(scratch, slot.uid)
            os.chown(sockets, slot.uid, slot.uid)
        proc = subprocess.Popen(cmd, preexec_fn=cgroup.enter if cgroup.active else None)
        # jupyter_client stops a kernel with SIGTERM / SIGKILL to this process; the sandbox (its own
        # PID namespace) ends entirely when bwrap is killed.
        signal.signal(signal.SIGTERM, lambda *_: proc.kill())
        signal.signal(signal.SIGINT, lambda *_: proc.send_signal(signal.SIGINT))
        return proc.wait()
    finally:
        cgroup.close()
        shutil.rmtree(scratch, ignore_errors=True)
        if slot:
            slot.release()


def write_kernelspec(folder: pathlib.Path) -> pathlib.Path:
    """Write the sandbox kernelspec into ``folder/kernels/`` (a ``JUPYTER_PATH`` entry).

    Args:
        folder: the data folder to put first on ``JUPYTER_PATH``.
    Returns:
        the kernelspec folder.
    """
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(pathlib.Path(__file__).resolve()), "kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (TinyML Lab Kit grading sandbox)",
        "language": "python",
        # the kernel is in a new session: no process-group signals reach it, so interrupt by message
        "interrupt_mode": "message",
    }, indent=1))
    return spec


def check(limits: Limits | None = None, package: pathlib.Path | None = None) -> str:
    """Start the sandbox once with Python and check what it sees.

    Args:
        limits: the limits to try (default :class:`Limits`).
        package: the tinymlkit package folder, as the kernel would see it.
    Returns:
        one line saying how memory and processes are limited on this machine.
    Raises:
        SandboxError: bwrap is missing or cannot start (no user namespaces, not Linux, a
            security module forbids it), with bwrap's own message and what the grader can do.
    """
    if not sys.platform.startswith("linux"):
        raise SandboxError(f"the grading sandbox needs Linux (bubblewrap); this is {sys.platform}")
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="tinymlkit-sandbox-check-") as tmp:
        scratch = pathlib.Path(tmp) / "scratch"
        scratch.mkdir()
        uid = FIRST_UID + SLOTS if os.getuid() == 0 else None
        code = "import os, socket; print(os.getcwd(), os.getuid(), len(os.listdir('/proc')) < 20)"
        cmd = bwrap_command(scratch, "check", ["-c", code], limits, package=package, uid=uid)
        if uid is not None:
            _chown_tree(scratch, uid)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"the grading sandbox could not start: {exc}") from exc
        if proc.returncode != 0 or "/course/labs/check" not in proc.stdout:
            raise SandboxError("the grading sandbox could not start (bubblewrap said: "
                               f"{(proc.stderr or proc.stdout).strip()[-500:]}). It needs Linux with user "
                               "namespaces (Ubuntu 24.04: the bubblewrap package's AppArmor profile; "
                               "'sysctl kernel.unprivileged_userns_clone=1' on older Debian)")
    cgroup = Cgroup(f"tinymlkit-check-{os.getpid()}", limits)
    whole = cgroup.active
    cgroup.close()
    if whole:
        return (f"memory ({limits.memory_bytes / 1024**3:.1f} GiB) and processes ({limits.processes}) limited "
                "for each kernel's whole process tree (cgroups)")
    return (f"memory limited to {limits.memory_bytes / 1024**3:.1f} GiB per process and {limits.processes} "
            "processes (no cgroup here: run grading as root on Linux to limit a kernel's whole tree)")


def main(argv: list[str] | None = None) -> int:
    """``sandbox.py kernel -f CONNECTION_FILE`` (the kernelspec) or ``sandbox.py check``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["kernel"] and len(args) == 3 and args[1] == "-f":
        return run_kernel(pathlib.Path(args[2]), pathlib.Path.cwd())
    if args[:1] == ["check"]:
        try:
            how = check()
        except SandboxError as exc:
            print(f"✖ {exc}")
            return 1
        print(f"✔ the grading sandbox starts on this machine; {how}")
        return 0
    print(__doc__.split("\n\n")[0] + "\n\nusage: sandbox.py check | sandbox.py kernel -f CONNECTION_FILE")
    return 2


if __name__ == "__main__":
    sys.exit(main())
