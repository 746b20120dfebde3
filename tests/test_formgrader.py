"""The grader's and the students' JupyterLab, started as grading/README.md says (`make formgrader`,
`make lab` → grading/jupyter_lab.py): real servers on a copy of the course without a gradebook,
with .venv not on PATH, read by headless Chromium.

- instructor: the formgrader lists lab01 … lab05 on a fresh checkout, its links open the
  source folders, and JupyterLab has nbgrader's menu, Create Assignment and Validate;
- student: Validate only — no Nbgrader menu, Create Assignment, Formgrader, Assignment or Course
  List, in the browser and on the server;
- a gradebook left without ``alembic_version`` by the old failure is repaired.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urljoin

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LABS = sorted(p.name for p in (ROOT / "labs").glob("lab*") if p.is_dir())
#: nbgrader 0.9's JupyterLab plugins for instructors only; students keep ...:validate-assignment.
INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:menu", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"]
VALIDATE_PLUGIN = "@jupyter/nbgrader:validate-assignment"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
needs_solutions = pytest.mark.skipif(not (ROOT / "solutions").is_dir(),
                                     reason="no solutions/ (a student bundle): the formgrader lists the labs from it")


def _load_launcher():
    spec = importlib.util.spec_from_file_location("jupyter_lab", ROOT / "grading" / "jupyter_lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


jupyter_lab = _load_launcher()


def _check_notebook(test_source: str) -> dict:
    """A one-exercise nbgrader notebook: ``x = 1`` and a locked autograded test ``test_source``."""
    def cell(cid, source, **nbgrader):
        meta = {"nbgrader": {"grade_id": cid, "schema_version": 3, "solution": False, "task": False,
                             "locked": True, **nbgrader}} if nbgrader else {}
        return {"cell_type": "code", "execution_count": None, "id": cid, "metadata": meta, "outputs": [], "source": source}
    return {"cells": [cell("answer", "x = 1"), cell("test-x", test_source, grade=True, points=1)],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> pathlib.Path:
    """A fresh checkout's course: solutions/ (if here), labs/, grading/'s code and role configs; no
    gradebook.db. modules/ holds one small notebook for the students' server."""
    course = tmp_path_factory.mktemp("course")
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "build", "*.tflite", "*.npz")
    for folder in ("solutions", "labs"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, course / folder, ignore=skip)
    (course / "grading").mkdir()
    for path in (ROOT / "grading").glob("*.py"):
        shutil.copy2(path, course / "grading")
    shutil.copytree(ROOT / "grading" / "jupyter-config", course / "grading" / "jupyter-config")
    (course / "modules").mkdir()
    (course / "modules" / "check.ipynb").write_text(json.dumps(_check_notebook("assert x == 2, 'x should be 2'")))
    for rel in ("modules/00_welcome_and_setup.ipynb", "book/reading_offline.ipynb", "tinymlkit/data/motion/DATACARD.md"):
        (course / rel).parent.mkdir(parents=True, exist_ok=True)  # what `make lab` must reach besides labs/
        shutil.copy2(ROOT / rel, course / rel)
    assert not (course / "grading" / "gradebook.db").exists()
    return course


def _jupyter_env(home: pathlib.Path) -> dict[str, str]:
    """This environment with .venv *not* on PATH (as in a terminal where it is not activated) and
    Jupyter's per-user folders in ``home``, so nothing is read from or written to ~/.jupyter."""
    venv_bin = os.path.dirname(sys.executable)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(venv_bin)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env.update(PATH=os.pathsep.join(path) or "/usr/bin:/bin", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc), kernels included."""
    children: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class _Lab:
    """``python grading/jupyter_lab.py <role>`` (what `make lab` / `make formgrader` run) on
    127.0.0.1, a free port and a random token; ``stop`` ends it and every process it started."""

    def __init__(self, course: pathlib.Path, role: str, home: pathlib.Path, args: list[str] = ()):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = home / f"{role}-server.log"
        home.mkdir(parents=True, exist_ok=True)
        root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(course / "grading" / "jupyter_lab.py"), role, *args, f"--port={self.port}",
                 "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}", "--no-browser", *root_flag],
                cwd=course, env=_jupyter_env(home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started: set[int] = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the {role} server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if self.get("/api/status")[0] == 200:
                    return
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"the {role} server did not answer within 90 s:\n{self.log.read_text()[-3000:]}")

    def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        """(HTTP status, body) of ``path`` on this server, authenticated with the token."""
        request = urllib.request.Request(urljoin(self.base, path), method=method,
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def url(self, path: str) -> str:
        """``path`` with the token, for a browser."""
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}"

    def page_config(self, path: str = "/lab") -> dict:
        """The JupyterLab page config the server sends with ``path``."""
        status, page = self.get(path)
        assert status == 200, f"{path}: HTTP {status}"
        return json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                    page, re.S).group(1))

    def stop(self):
        """SIGTERM (the server shuts its kernels down), then SIGKILL whatever it started and is left."""
        self.started |= _descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _running(course, role, home, args=()):
    lab = _Lab(course, role, home, list(args))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def instructor(course, tmp_path_factory):
    with _running(course, "instructor", tmp_path_factory.mktemp("instructor-home")) as lab:
        yield lab


@pytest.fixture(scope="module")
def student(course, tmp_path_factory):
    with _running(course, "student", tmp_path_factory.mktemp("student-home"), STUDENT_ARGS) as lab:
        yield lab


#: What `make lab` passes (Makefile LAB_ARGS): the course's root, opening at module 00.
STUDENT_ARGS = ["--ServerApp.default_url=/lab/tree/modules/00_welcome_and_setup.ipynb"]


def test_make_lab_serves_the_whole_course(student):
    """Students reach the labs, the data cards and the offline book's notebook, not only modules/."""
    for path in ("modules/00_welcome_and_setup.ipynb", f"labs/{LABS[0]}/{LABS[0]}.ipynb",
                 "tinymlkit/data/motion/DATACARD.md", "book/reading_offline.ipynb"):
        status, body = student.get(f"/api/contents/{path}?content=0")
        assert status == 200, f"`make lab` cannot open {path}: HTTP {status} {body[:200]}"
    status, _ = student.get("/")
    assert status == 200


def _dom(url: str, profile: pathlib.Path, budget_ms: int = 30000) -> str:
    """The page's DOM after it ran its scripts (headless Chromium --dump-dom, network other than
    127.0.0.1 blocked); Chromium is always ended."""
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
         f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",  # Chromium never proxies loopback
         f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert out.strip(), f"chromium printed no DOM for {url}:\n{err[-2000:]}"
    return out


def _menus(dom: str) -> list[str]:
    return re.findall(r'class="lm-MenuBar-itemLabel[^"]*">([^<]*)<', dom)


def _nbgrader_ui(dom: str) -> dict[str, bool]:
    """What of nbgrader's JupyterLab tools a DOM shows (element attributes, not style sheets)."""
    return {"Nbgrader menu": "Nbgrader" in _menus(dom),
            "Create Assignment sidebar": 'data-id="nbgrader-create_assignemnt"' in dom,  # sic, nbgrader 0.9's id
            "Validate button": bool(re.search(r'<[^>]+class="[^"]*validate-button', dom))}


def test_make_and_the_guide_start_these_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert f"LAB_ARGS = {' '.join(STUDENT_ARGS)}" in makefile
    for target, command in (("lab", "grading/jupyter_lab.py student $(LAB_ARGS)"),
                            ("formgrader", "grading/jupyter_lab.py instructor")):
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe and command in recipe.group(1), f"`make {target}` should run {command}"
    assert "make formgrader" in (ROOT / "grading" / "README.md").read_text(), "the grader's guide should say `make formgrader`"


@needs_chromium
@needs_solutions
def test_formgrader_lists_the_labs_on_a_fresh_checkout(instructor, course, tmp_path):
    dom = _dom(instructor.url("/formgrader/manage_assignments"), tmp_path / "profile")
    table = re.search(r'<tbody id="main-table">(.*?)</tbody>', dom, re.S)
    assert table, "the Manage Assignments table is missing"
    assert "Loading, please wait" not in table.group(1), \
        f"the formgrader stays on 'Loading, please wait…':\n{instructor.log.read_text()[-3000:]}"
    links = dict((name, href) for href, name in
                 re.findall(r'<td class="name[^"]*"[^>]*><a href="([^"]*)"[^>]*>([^<]*)</a>', table.group(1)))
    assert sorted(links) == LABS, f"Manage Assignments lists {sorted(links)}, expected {LABS}"
    page = instructor.url("/formgrader/manage_assignments")
    for lab, href in links.items():
        url = urljoin(page, href)  # as the browser resolves it (`..` would leave the server's root)
        status, _ = instructor.get(url)
        assert status == 200, f"{lab}: the formgrader links to {href} → {url}: HTTP {status}"
        # Inside JupyterLab the link asks the file browser to go to the same path.
        target = os.path.normpath(href.split("/tree/", 1)[1])
        status, body = instructor.get(f"/api/contents/{target}?content=1")
        assert status == 200 and f"{lab}.ipynb" in {i["name"] for i in json.loads(body)["content"]}, \
            f"{lab}: {target} is not the lab's source folder in the server (HTTP {status})"
    with contextlib.closing(sqlite3.connect(course / "grading" / "gradebook.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall(), "the new gradebook has no alembic_version"


@needs_chromium
def test_instructor_lab_has_nbgrader_tools(instructor, tmp_path):
    disabled = instructor.page_config()["disabledExtensions"]
    assert not [p for p in disabled if "nbgrader" in p], f"the instructor's JupyterLab disables {disabled}"
    notebook = f"/lab/tree/labs/{LABS[0]}/{LABS[0]}.ipynb"
    ui = _nbgrader_ui(_dom(instructor.url(notebook), tmp_path / "profile"))
    assert all(ui.values()), f"the instructor's JupyterLab misses {[k for k, v in ui.items() if not v]}"
    for path in ("/formgrader", "/formgraders", "/nbgrader_version?version=x"):
        assert instructor.get(path)[0] == 200, f"the instructor's server does not serve {path}"


@needs_chromium
def test_student_lab_has_validate_only(student, tmp_path):
    disabled = student.page_config()["disabledExtensions"]
    assert sorted(p for p in disabled if "nbgrader" in p) == sorted(INSTRUCTOR_PLUGINS), disabled
    ui = _nbgrader_ui(_dom(student.url("/lab/tree/modules/check.ipynb"), tmp_path / "profile"))
    assert ui == {"Nbgrader menu": False, "Create Assignment sidebar": False, "Validate button": True}, \
        f"the students' JupyterLab shows {ui}"
    for path in ("/formgrader", "/formgrader/manage_assignments", "/assignments", "/courses", "/formgraders"):
        assert student.get(path)[0] == 404, f"the students' server serves the instructor's {path}"
    log = student.log.read_text()
    for ext in ("formgrader", "assignment_list", "course_list"):
        assert f"nbgrader.server_extensions.{ext} | extension was successfully loaded" not in log, f"{ext} loaded"
    # Validate works: the button's version check, then the notebook is run and the failing test reported.
    status, body = student.get("/nbgrader_version?version=x")
    assert status == 200 and "success" in json.loads(body)
    status, body = student.get("/assignments/validate?path=modules/check.ipynb", method="POST")
    result = json.loads(body)
    assert status == 200 and result["success"], body
    assert "x should be 2" in json.dumps(result["value"]), f"Validate did not report the failing test: {body[:1000]}"


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_labextension_list_per_role(role, tmp_path):
    env = jupyter_lab.role_env(role, _jupyter_env(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    listed = re.search(r"Disabled extensions:\n((?:\s+\S.*\n?)*)", out)
    disabled = set(listed.group(1).split()) if listed else set()
    expected = set(INSTRUCTOR_PLUGINS) if role == "student" else set()
    assert {p for p in disabled if "nbgrader" in p} == expected, out
    assert VALIDATE_PLUGIN not in disabled


def test_broken_gradebook_is_repaired(tmp_path):
    """A gradebook as the old failure left it (nbgrader's tables, no alembic_version) is stamped with
    nbgrader's schema version, so `nbgrader db upgrade` and the formgrader work on it."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine

    db = tmp_path / "gradebook.db"
    assert not jupyter_lab.repair_gradebook(db), "no gradebook: nothing to repair"
    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(bind=engine)  # what nbgrader's Gradebook does before it runs `alembic`
    engine.dispose()
    assert jupyter_lab.repair_gradebook(db)
    assert not jupyter_lab.repair_gradebook(db), "a repaired gradebook was repaired again"
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "upgrade", f"--CourseDirectory.root={tmp_path}",
                           f"--CourseDirectory.db_url=sqlite:///{db}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"nbgrader db upgrade failed on the repaired gradebook:\n{proc.stderr[-2000:]}"
