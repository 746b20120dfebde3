"""The workshop server (grading/server.py, book/instructor_guide/workshop_server.md): a real
JupyterHub 5 with configurable-http-proxy on 127.0.0.1, real Unix accounts for a small class, real
users' servers, nbgrader's exchange, driven through JupyterHub's REST API and the users' servers as
a browser would (grading/hub_client.py):

- the cycle: the instructor releases lab01 (formgrader API) → each student fetches it (Assignments
  API), works (one runs the solution in a kernel, one leaves it blank, one does part) and submits →
  the instructor grades in a terminal of their server (``server.py grade``: collect, the sandboxed
  grade.py, release_feedback) → each student fetches their own feedback;
- isolation, tested by trying: a student cannot list the inbound or feedback folders, read another
  student's home or the instructor's course, nor rename the course's exchange folder;
- failures: a student's server killed mid-lab (their saved work survives), the hub restarted
  (users' servers keep running, nothing is lost), the disk nearly full (a plain message, no start).

Needs root (it creates Unix accounts), npm's configurable-http-proxy (make server-deps) and Linux.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import grp
import json
import os
import pathlib
import pwd
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "grading"))
import hub_settings  # noqa: E402
import server  # noqa: E402

LAB = "lab01_motion_data"


# --- without root: the class list --------------------------------------------------------------

def test_user_names_from_people_names():
    assert server.username_for("Amina Kâmara") == "amina-kamara"
    assert server.username_for("  José  de la Cruz ") == "jose-de-la-cruz"
    assert server.username_for("Nguyễn Thị Minh Khai") == "nguyen-thi-minh-khai"
    assert server.username_for("007 Bond").startswith("s-")


def test_class_list_errors_name_the_file_and_line(tmp_path):
    good = tmp_path / "class.csv"
    good.write_text("name,role\nTeach Er,instructor\nAmina Kâmara,\nBo Li,student\n")
    people = server.read_class_list(good)
    assert [(p["username"], p["role"]) for p in people] == [
        ("teach-er", "instructor"), ("amina-kamara", "student"), ("bo-li", "student")]
    cases = {"name,role\nA B,teacher\n": "line 2: role 'teacher'",
             "name\nAmina K\namina k\n": "line 3: user name 'amina-k' is also on line 2",
             "name,role\nA B,student\n": "no instructor",
             "who\nA B\n": "at least 'name'",
             "name,username,role\nA B,Root!,instructor\n": "line 2: 'Root!' cannot be a user name"}
    for text, expected in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(server.ClassListError, match=expected) as info:
            server.read_class_list(bad)
        assert str(bad) in str(info.value)


def test_passwords_are_random_and_unambiguous():
    passwords = {server.new_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 11 and not set(p) & set("01ilo") for p in passwords)


@pytest.mark.parametrize("role, disabled", [
    ("hub-student", {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"}),
    ("hub-instructor", set())])
def test_hub_roles_get_their_nbgrader_tools(role, disabled, tmp_path):
    """Students on the hub keep Validate and get the Assignments list (fetch, submit, feedback);
    only instructors get the formgrader and Create Assignment (the role's Jupyter config folder)."""
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "JUPYTER_CONFIG_PATH": str(ROOT / "grading" / "jupyter-config" / role)}
    proc = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    listed = re.search(r"Disabled extensions:\n((?:\s+\S.*\n?)*)", out)
    found = {p for p in (listed.group(1).split() if listed else []) if "nbgrader" in p}
    assert found == disabled, out
    config = json.loads((ROOT / "grading" / "jupyter-config" / role / "jupyter_server_config.json").read_text())
    extensions = config["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
    assert extensions["nbgrader.server_extensions.formgrader"] is (role == "hub-instructor")


# --- a real hub ----------------------------------------------------------------------------------

def _why_not() -> str | None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "the workshop server's tests create Unix accounts: they run as root on Linux (CI does)"
    if not hub_settings.PROXY.exists():
        return "configurable-http-proxy is not installed: run make server-deps (needs npm)"
    for tool in ("useradd", "userdel", "chpasswd", "groupadd"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in ("/usr/sbin", "/sbin", "/usr/bin")):
            return f"{tool} is missing (Debian package passwd)"
    return None


needs_root = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))


def _free_port_block(size: int = 3) -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + size > 65535:
            continue
        try:
            for offset in range(size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no three free ports in a row")


def _traversable_python() -> list[tuple[pathlib.Path, int]]:
    """Let other users enter the folders above the course's Python (this CI machine's Python is
    pyenv's in /root, mode 700; a workshop server's is system-wide). Returns what to restore."""
    changed = []
    for path in (pathlib.Path(os.path.realpath(sys.executable)), pathlib.Path(sys.base_prefix) / "lib", ROOT):
        while (blocked := server.unreadable_path(path)) is not None:
            mode = blocked.stat().st_mode
            changed.append((blocked, mode))
            os.chmod(blocked, stat.S_IMODE(mode) | stat.S_IXOTH)
    return changed


class Class:
    """A running class: the hub process, its folder, the client, the users."""

    def __init__(self, folder: pathlib.Path, port: int, instructor: str, students: list[str]):
        self.folder, self.port, self.instructor, self.students = folder, port, instructor, students
        self.proc: subprocess.Popen | None = None
        self.log = folder.parent / "hub.log"

    def start_hub(self) -> None:
        import hub_client

        self.proc = subprocess.Popen([sys.executable, str(ROOT / "grading" / "server.py"), "start",
                                      "--dir", str(self.folder)], stdout=self.log.open("a"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.hub = hub_client.Hub(f"https://127.0.0.1:{self.port}", str(self.folder / "ssl" / "server.crt"),
                                  (self.folder / "hub" / "admin_token").read_text().strip())
        for _ in range(120):
            try:
                self.hub.request("/hub/api/")
                return
            except (OSError, hub_client.HubError):
                assert self.proc.poll() is None, f"the hub stopped:\n{self.log.read_text()[-3000:]}"
                time.sleep(0.5)
        raise AssertionError(f"the hub did not answer in 60 s:\n{self.log.read_text()[-3000:]}")

    def stop_hub(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


@contextlib.contextmanager
def running_class(students: int = 3, memory_gb: float = 3, cpus: float = 1):
    """A class on a real hub at 127.0.0.1 (also used by benchmarks/bench_server.py): accounts made
    by ``server.py setup``, the hub started by ``server.py start``; everything removed afterwards
    (``server.py remove-class``)."""
    tag = secrets.token_hex(2)
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinymlkit-hub-test-"))
    os.chmod(work, 0o755)
    instructor, names = f"t{tag}-teacher", [f"t{tag}-s{i}" for i in range(1, students + 1)]
    roster = work / "class.csv"
    with roster.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "username", "role"])
        writer.writerow(["Test Teacher", instructor, "instructor"])
        writer.writerows([[f"Student {i}", s, "student"] for i, s in enumerate(names, 1)])
    groups_before = {g for g in server.GROUPS.values() if g in {x.gr_name for x in grp.getgrall()}}
    restore = _traversable_python()
    folder = work / "srv"
    port = _free_port_block()
    klass = Class(folder, port, instructor, names)
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "grading" / "server.py"), "setup", "--class", str(roster),
                               "--dir", str(folder), "--ip", "127.0.0.1", "--port", str(port),
                               "--memory-gb", str(memory_gb), "--cpus", str(cpus), "--min-free-disk-mb", "200"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        klass.setup_output = proc.stdout
        klass.start_hub()
        yield klass
    finally:
        klass.stop_hub()
        pidfile = folder / "hub" / "proxy.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
        if folder.exists():
            subprocess.run([sys.executable, str(ROOT / "grading" / "server.py"), "remove-class", "--dir", str(folder),
                            "--yes"], capture_output=True, text=True, timeout=600)
        import sandbox

        for user in [instructor, *names]:
            sandbox.remove_cgroups(f"tinymlkit-hub-{user}")
        for group in set(server.GROUPS.values()) - groups_before:
            subprocess.run(["groupdel", group], capture_output=True)
        for path, mode in reversed(restore):
            os.chmod(path, stat.S_IMODE(mode))
        subprocess.run(["rm", "-rf", str(work)])


@pytest.fixture(scope="module")
def klass():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    with running_class() as running:
        yield running


@needs_root
def test_setup_makes_private_accounts_and_a_safe_exchange(klass):
    for user in [klass.instructor, *klass.students]:
        account = pwd.getpwnam(user)
        assert stat.S_IMODE(os.stat(account.pw_dir).st_mode) == 0o700, f"{user}'s home is readable by others"
    accounts = klass.folder / "accounts.csv"
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    rows = list(csv.DictReader(accounts.open()))
    assert {r["username"] for r in rows} == {klass.instructor, *klass.students}
    assert all(len(r["first_password"]) == 11 for r in rows)
    exchange = hub_settings.exchange_dir(klass.folder)
    for relative, mode in server.EXCHANGE_MODES.items():
        assert stat.S_IMODE((exchange / relative).stat().st_mode) == mode, relative
    assert pwd.getpwuid((exchange / "tinymlkit").stat().st_uid).pw_name == klass.instructor
    key = klass.folder / "ssl" / "server.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "127.0.0.1" in subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                                          str(klass.folder / "ssl" / "server.crt")],
                                         capture_output=True, text=True).stdout


def _browser(klass, user: str, password: str):
    """Log in through the hub's login form as a browser does (the _xsrf cookie and form field
    JupyterHub >= 4.1 asks for). Returns (status, final URL, opener with the session's cookies)."""
    import http.cookiejar
    import urllib.error
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                         urllib.request.HTTPSHandler(context=klass.hub.context))
    page = opener.open(f"{klass.hub.url}/hub/login", timeout=60).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": xsrf}).encode()
    try:
        answer = opener.open(f"{klass.hub.url}/hub/login?next=%2Fhub%2Fhome", data=data, timeout=120)
        return answer.status, answer.geturl(), opener, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.geturl(), opener, ""


def _password(klass, user: str) -> str:
    return {r["username"]: r for r in csv.DictReader((klass.folder / "accounts.csv").open())}[user]["first_password"]


@needs_root
def test_first_login_password_works_and_others_do_not(klass):
    student = klass.students[0]
    status, url, _, _ = _browser(klass, student, _password(klass, student))
    assert status == 200 and "/login" not in url, (status, url)
    status, url, _, _ = _browser(klass, student, "wrong-password")
    assert status == 403 or "/login" in url


def _partial(solution: dict) -> dict:
    """The solution with every exercise after the first two replaced by the student stub."""
    notebook = copy.deepcopy(solution)
    answered = 0
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            answered += 1
            if answered > 2:
                cell["source"] = "# YOUR CODE HERE\nraise NotImplementedError()"
    return notebook


@needs_root
def test_release_fetch_submit_grade_feedback_through_the_hub(klass):
    hub, teacher = klass.hub, klass.instructor
    full, blank, partial = klass.students
    hub.start_server(teacher)
    released = hub.as_user(teacher, f"/formgrader/api/assignment/{LAB}/release", "POST", {})
    assert released["success"], released

    solution = json.loads((ROOT / "solutions" / LAB / f"{LAB}.ipynb").read_text())
    for student in klass.students:
        hub.start_server(student)
        fetched = hub.assignments(student, "fetch", LAB)
        assert any(a["assignment_id"] == LAB and a["status"] == "fetched" for a in fetched["value"])
    # the full student runs the lab in their kernel, as in class, and saves it
    kernel = hub.kernel(full, LAB)
    try:
        for cell in solution["cells"]:
            if cell["cell_type"] == "code":
                result = kernel.run("".join(cell["source"]))
                assert result.status == "ok", f"{cell['metadata'].get('nbgrader', {}).get('grade_id')}: " \
                                              f"{result.ename}: {result.evalue}"
    finally:
        kernel.close()
    hub.put_notebook(full, f"{LAB}/{LAB}.ipynb", solution)
    hub.put_notebook(partial, f"{LAB}/{LAB}.ipynb", _partial(solution))
    for student in klass.students:
        hub.assignments(student, "submit", LAB)

    # the instructor grades in a terminal of their server (here: their kernel runs the command)
    kernel = hub.kernel(teacher, "course")
    try:
        result = kernel.run(
            "import os, subprocess, sys\n"
            "p = subprocess.run([sys.executable, os.environ['TINYMLKIT_REPO'] + '/grading/server.py', 'grade', "
            f"'lab01', '--no-progress'], capture_output=True, text=True)\nprint(p.returncode)\nprint(p.stdout)\n"
            "print(p.stderr[-4000:])", timeout=1200)
    finally:
        kernel.close()
    assert result.status == "ok" and result.stdout.startswith("0\n"), result.stdout[-5000:]
    assert "Sandbox: bubblewrap" in result.stdout
    grades = {}
    for student in klass.students:
        answer = hub.assignments(student, "fetch_feedback", LAB)
        feedback_dirs = [n["local_feedback_path"] for a in answer["value"] for s in a.get("submissions", [])
                         for n in s["notebooks"] if n.get("local_feedback_path")]
        assert feedback_dirs, f"{student} got no feedback: {answer}"
        listing = hub.get_file(student, f"{LAB}/feedback")["content"]
        pages = [f for d in listing for f in hub.get_file(student, d["path"])["content"] if f["name"].endswith(".html")]
        assert len(pages) == 1, f"{student}: {pages}"
        html = hub.get_file(student, pages[0]["path"])["content"]
        match = re.search(r"Score:\s*([0-9.]+)\s*/\s*([0-9.]+)", html)
        assert match, f"{student}'s feedback page has no score"
        grades[student] = float(match.group(1))
        for other in set(klass.students) - {student}:
            assert other not in html, f"{student}'s feedback mentions {other}"
    assert grades[full] > grades[partial] > grades[blank] == 0, grades


@needs_root
def test_students_cannot_read_each_others_work(klass):
    hub = klass.hub
    me, other = klass.students[2], klass.students[0]
    exchange = hub_settings.exchange_dir(klass.folder) / "tinymlkit"
    teacher_home = pwd.getpwnam(klass.instructor).pw_dir
    feedback_pages = sorted((exchange / "feedback").glob("*.html"))
    tries = {
        "list the inbound": f"os.listdir({str(exchange / 'inbound')!r})",
        "list the released feedback": f"os.listdir({str(exchange / 'feedback')!r})",
        "read another student's home": f"os.listdir({pwd.getpwnam(other).pw_dir!r})",
        "read another student's lab": f"open({pwd.getpwnam(other).pw_dir + '/' + LAB + '/' + LAB + '.ipynb'!r}).read()",
        "read the instructor's course": f"os.listdir({teacher_home + '/course/grading/submitted'!r})",
        "take over the course's exchange folder": f"os.rename({str(exchange)!r}, {str(exchange) + '-mine'!r})",
        "delete the course's exchange folder": f"import shutil; shutil.rmtree({str(exchange)!r})",
    }
    kernel = hub.kernel(me)
    try:
        for what, code in tries.items():
            # independent tries, each expected to fail: the kernel must not abort the next one
            result = kernel.run(f"import os\n{code}", stop_on_error=False)
            assert result.status == "error" and result.ename == "PermissionError", f"a student could {what}: {result}"
        # grading/README's promise holds on the server too: the feedback page of another student has
        # an unguessable name (nbgrader: a hash with the submission's secret), and cannot be listed
        assert feedback_pages and all(len(p.stem) == 32 for p in feedback_pages)
    finally:
        kernel.close()
    assert exchange.is_dir() and (exchange / "inbound").is_dir()


@needs_root
def test_roles_formgrader_and_limits(klass):
    hub = klass.hub
    student, teacher = klass.students[1], klass.instructor
    with pytest.raises(Exception, match="404"):
        hub.as_user(student, "/formgrader/api/assignments")
    assert any(a["name"] == LAB for a in hub.as_user(teacher, "/formgrader/api/assignments"))
    # the hub's home page: instructors get a button that opens the formgrader in its own tab
    # (JupyterHub >= 4.1 forbids framing it in JupyterLab: frame-ancestors 'none', kept)
    _, _, _, home = _browser(klass, teacher, _password(klass, teacher))
    assert f"/user/{teacher}/formgrader" in home and 'target="_blank"' in home, home[-3000:]
    _, _, _, home = _browser(klass, student, _password(klass, student))
    assert "My Server" in home and "tinymlkit-formgrader" not in home, home[-3000:]
    folders = [f for f in pathlib.Path("/sys/fs/cgroup").glob(f"**/tinymlkit-hub-{student}") if f.is_dir()]
    if not folders:
        pytest.skip("no cgroups on this machine: per-user limits are not enforced here (the guide says so)")
    memory = [f for f in folders if (f / "memory.limit_in_bytes").exists() or (f / "memory.max").exists()]
    limit = next((f / n).read_text().strip() for f in memory for n in ("memory.limit_in_bytes", "memory.max")
                 if (f / n).exists())
    assert int(limit) == 3 * 1024**3
    pids = {int(p) for f in memory for p in (f / "cgroup.procs").read_text().split()}
    kernel = hub.kernel(student)
    try:
        pid = int(kernel.run("import os; print(os.getpid())").stdout)
        assert pid in {int(p) for f in memory for p in (f / "cgroup.procs").read_text().split()}, \
            "the student's kernel is outside their memory limit"
        assert pids, "the student's server is outside their memory limit"
    finally:
        kernel.close()


@needs_root
def test_formgrader_in_a_browser_session_with_xsrf(klass):
    """The instructor's browser session (login form → the formgrader in its own tab, through the
    hub's OAuth): a formgrader POST with the _xsrf token works, one without it is refused (403),
    as JupyterHub >= 4.1 requires."""
    import urllib.error
    import urllib.request

    teacher = klass.instructor
    klass.hub.start_server(teacher)
    status, _, opener, _ = _browser(klass, teacher, _password(klass, teacher))
    assert status == 200
    page = opener.open(f"{klass.hub.url}/user/{teacher}/formgrader/manage_assignments", timeout=120)
    assert page.status == 200 and "Manage Assignments" in page.read().decode()
    assert "frame-ancestors 'none'" in page.headers.get("Content-Security-Policy", ""), \
        "JupyterHub's framing protection was turned off"
    jar = next(h for h in opener.handlers if hasattr(h, "cookiejar")).cookiejar
    xsrf = next(c.value for c in jar if c.name == "_xsrf" and c.path.startswith(f"/user/{teacher}"))
    url = f"{klass.hub.url}/user/{teacher}/formgrader/api/assignment/{LAB}/release"
    with pytest.raises(urllib.error.HTTPError, match="403"):
        opener.open(urllib.request.Request(url, data=b"{}", method="POST"), timeout=120)
    answer = opener.open(urllib.request.Request(url, data=b"{}", method="POST", headers={"X-XSRFToken": xsrf}),
                         timeout=120)
    assert answer.status == 200 and "success" in json.loads(answer.read())   # accepted (released again or not)


def _server_pids(user: str) -> list[int]:
    out = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@needs_root
def test_a_killed_server_keeps_the_students_saved_work(klass):
    hub, student = klass.hub, klass.students[1]
    hub.start_server(student)
    work = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "my notes before the crash"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    hub.put_notebook(student, "notes.ipynb", work)
    for pid in _server_pids(student):
        os.kill(pid, signal.SIGKILL)
    saved = None
    for _ in range(120):   # the student reloads (503: the hub finds the server dead) and presses Start
        try:
            saved = hub.get_file(student, "notes.ipynb")["content"]
            break
        except Exception:
            try:
                hub.start_server(student, timeout=60)
            except Exception:
                time.sleep(1)
    assert saved is not None, "the student's server could not be started again after it was killed"
    assert saved["cells"][0]["source"] == "my notes before the crash"
    assert _server_pids(student), "no server running for the student"


@needs_root
def test_hub_restart_keeps_servers_and_submissions(klass):
    hub, student = klass.hub, klass.students[0]
    hub.start_server(student)
    before = _server_pids(student)
    inbound_before = sorted(os.listdir(hub_settings.exchange_dir(klass.folder) / "tinymlkit" / "inbound"))
    klass.stop_hub()
    assert _server_pids(student) == before, "stopping the hub stopped a student's server"
    klass.start_hub()
    model = klass.hub.request(f"/hub/api/users/{student}")
    assert model["servers"][""]["ready"]
    assert _server_pids(student) == before
    klass.hub.user_tokens = dict(hub.user_tokens)
    assert klass.hub.get_file(student, LAB)["type"] == "directory"
    assert sorted(os.listdir(hub_settings.exchange_dir(klass.folder) / "tinymlkit" / "inbound")) == inbound_before


@needs_root
def test_a_nearly_full_disk_stops_new_servers_with_a_plain_message(klass):
    hub, student = klass.hub, klass.students[2]
    settings = hub_settings.Settings.load(klass.folder)
    hub.stop_server(student)
    try:
        settings.min_free_disk_mb = int(hub_settings.free_disk_mb(klass.folder)) + 10**7
        settings.save(klass.folder)
        with pytest.raises(Exception) as info:
            hub.start_server(student, timeout=60)
        assert "disk is nearly full" in str(info.value) and "saved work is safe" in str(info.value), info.value
        assert "disk is nearly full" in klass.log.read_text()
        status = subprocess.run([sys.executable, str(ROOT / "grading" / "server.py"), "status", "--dir",
                                 str(klass.folder)], capture_output=True, text=True, timeout=120)
        assert status.returncode == 2 and "Free space" in status.stdout, status.stdout + status.stderr
    finally:
        settings.min_free_disk_mb = 200
        settings.save(klass.folder)
    hub.start_server(student)
