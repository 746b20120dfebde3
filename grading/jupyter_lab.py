"""Start JupyterLab as a student (`make lab`) or as an instructor (`make formgrader`).

nbgrader 0.9 installs five JupyterLab plugins and four server extensions for everyone who uses
.venv. Which of them a role gets is written down per role in ``grading/jupyter-config/<role>/``
(nbgrader's documented switches, "Installation → Disabling extensions": a ``labconfig/page_config.json``
``disabledExtensions`` list and ``jupyter_server_config.json`` ``jpserver_extensions``). That folder
is put first on Jupyter's config path (``JUPYTER_CONFIG_PATH``), so the role does not depend on
what ~/.jupyter or .venv/etc/jupyter enable or disable:

- student: only Validate (the notebook toolbar button and its server extension);
- instructor: everything — the Nbgrader menu, Create Assignment, Formgrader, Assignment and
  Course List.

The instructor's server starts in ``grading/`` (where nbgrader finds ``nbgrader_config.py``) with
the repository as its root, so the formgrader's links to ``solutions/<lab>/`` open
(``nbgrader_config.py`` puts .venv's programs on PATH: nbgrader runs ``alembic`` to create the
gradebook). A gradebook left without its ``alembic_version`` table by an earlier failed start is
repaired first. See grading/README.md, section 3.

    python grading/jupyter_lab.py student modules/          # what `make lab` runs
    python grading/jupyter_lab.py instructor [jupyter lab options]   # what `make formgrader` runs

Language (issue #18): when ``TINYMLKIT_LANG`` names a course language (``make lab LANG=es``), the
JupyterLab interface starts in it, through the official language pack (jupyterlab-language-pack-es-ES,
-pt-BR, -fr-FR, pinned in constraints.txt): an ``overrides.json`` giving the translation plugin's
default ``locale`` (JupyterLab's documented "overrides" mechanism) in ``build/jupyterlab-settings/<lang>/``,
passed as ``--LabApp.app_settings_dir``. A student can still switch language in Settings → Language.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sqlite3
import sys

GRADING = pathlib.Path(__file__).resolve().parent
ROOT = GRADING.parent
ROLES = ("student", "instructor")
GRADEBOOK = GRADING / "gradebook.db"


def role_config_dir(role: str) -> pathlib.Path:
    """The Jupyter config folder that says which nbgrader extensions ``role`` gets."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return GRADING / "jupyter-config" / role


def role_env(role: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment JupyterLab runs in for ``role``: ``base`` (default: this process's) with the
    role's config folder as Jupyter's first config folder."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_CONFIG_PATH"] = str(role_config_dir(role))
    return env


def repair_gradebook(db_path: pathlib.Path = GRADEBOOK) -> bool:
    """Stamp a gradebook that has nbgrader's tables but no ``alembic_version`` table (left so by a
    start that could not run ``alembic``) with the schema version nbgrader would have written.
    Returns True if the gradebook was repaired."""
    if not db_path.is_file():
        return False
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "alembic_version" in tables:
            return False
        # Imported only for a repair: alembic takes about 0.5 s to import, and `make lab` never needs it.
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import ALEMBIC_DIR

        head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
        # The same table and row nbgrader's Gradebook creates for a new database.
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    return True


#: Course language (TINYMLKIT_LANG, tinymlkit.i18n) → the JupyterLab language pack's locale.
LAB_LOCALES = {"es": "es_ES", "pt_BR": "pt_BR", "fr": "fr_FR"}


def language_settings_dir(lang: str, root: pathlib.Path = ROOT) -> pathlib.Path | None:
    """Write and return the JupyterLab settings folder that makes ``lang`` the default interface
    language (``overrides.json``), or None for English or a language without a pack."""
    import json

    locale = LAB_LOCALES.get(lang)
    if locale is None:
        return None
    folder = root / "build" / "jupyterlab-settings" / lang
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/translation-extension:plugin": {"locale": locale}}, indent=1) + "\n")
    return folder


def lab_command(role: str, args: list[str]) -> tuple[list[str], pathlib.Path | None]:
    """The ``jupyter lab`` command line for ``role`` and the folder to start it in (None: here)."""
    command = [sys.executable, "-m", "jupyterlab"]
    from tinymlkit.i18n import current_language  # the course package (installed editable by make setup)

    settings = language_settings_dir(current_language())
    if settings is not None:
        command.append(f"--LabApp.app_settings_dir={settings}")
    if role == "instructor":
        return command + [f"--ServerApp.root_dir={ROOT}", *args], GRADING
    return command + args, None


def main(argv: list[str] | None = None) -> None:
    """Replace this process with JupyterLab for the role named in ``argv[0]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ROLES:
        sys.exit(f"usage: python grading/jupyter_lab.py {{{'|'.join(ROLES)}}} [jupyter lab options]")
    role, args = argv[0], argv[1:]
    if role == "instructor" and repair_gradebook():
        print(f"Repaired {GRADEBOOK}: it had no alembic_version table (an earlier start failed)")
    command, cwd = lab_command(role, args)
    if cwd is not None:
        os.chdir(cwd)
    os.execve(sys.executable, command, role_env(role))


if __name__ == "__main__":
    main()
