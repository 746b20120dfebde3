"""JupyterHub configuration of the workshop server (JupyterHub 5.3, configurable-http-proxy 5.1).
Started by ``grading/server.py start`` (``make server``) with ``TINYMLKIT_SERVER_DIR`` naming the
server folder whose ``server.json`` ``server.py setup`` wrote. Every choice is explained in
book/instructor_guide/workshop_server.md.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hub_settings  # noqa: E402
from hub_spawner import CourseSpawner  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

folder = hub_settings.server_dir()
settings = hub_settings.Settings.load(folder)
hub = folder / "hub"

# --- where it listens: HTTPS on the room's LAN with the self-signed certificate of `server.py setup`
c.JupyterHub.bind_url = f"https://{settings.ip}:{settings.port}"
c.JupyterHub.ssl_key = str(folder / "ssl" / "server.key")
c.JupyterHub.ssl_cert = str(folder / "ssl" / "server.crt")
c.JupyterHub.hub_ip = "127.0.0.1"           # the hub's own API: only the proxy and the servers reach it
c.JupyterHub.hub_port = settings.port + 2
c.JupyterHub.db_url = f"sqlite:///{hub / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(hub / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(hub_settings.PROXY)]
c.ConfigurableHTTPProxy.pid_file = str(hub / "proxy.pid")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.port + 1}"
c.ConfigurableHTTPProxy.auth_token = (hub / "proxy_token").read_text().strip()

# --- a hub restart during class: users' servers and the proxy keep running, the restarted hub
# finds them again (its database has their addresses), students see nothing.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.cleanup_proxy = False

# --- accounts: the class list's Unix accounts (server.py setup), checked by PAM. Instructors are
# hub admins (start and stop students' servers, see who is active).
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(settings.students) | set(settings.instructors)
c.Authenticator.admin_users = set(settings.instructors)
c.PAMAuthenticator.open_sessions = False    # no login session per notebook server (not needed, slow)

# --- each user's server: the course environment's jupyterhub-singleuser as the user's account
c.JupyterHub.spawner_class = CourseSpawner
c.CourseSpawner.settings = settings
c.CourseSpawner.server_folder = folder
c.Spawner.cmd = [str(pathlib.Path(settings.python).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120               # 40 students logging in at once on 2 cores
c.Spawner.http_timeout = 120
c.JupyterHub.concurrent_spawn_limit = 40

# --- idle servers are stopped (their saved work stays): jupyterhub-idle-culler as a hub service
c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [settings.python, "-m", "jupyterhub_idle_culler", f"--timeout={settings.idle_minutes * 60}"]},
    # the instructor's command line (server.py status), the tests and the benchmark
    {"name": "tinymlkit-admin", "api_token": (hub / "admin_token").read_text().strip()},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
     "services": ["idle-culler"]},
    {"name": "admin", "services": ["tinymlkit-admin"]},
]

# --- the formgrader: JupyterHub >= 4.1 forbids framing users' pages (frame-ancestors 'none'), which
# leaves nbgrader's Formgrader tab in JupyterLab blank (jupyter/nbgrader#1870). We keep that
# protection and give instructors a button on the hub's home page that opens the formgrader in its
# own browser tab (templates/home.html).
c.JupyterHub.template_paths = [str(hub_settings.GRADING / "hub-templates")]

# --- a full disk: say so when the hub starts (each server start checks again, hub_spawner.py)
message = hub_settings.disk_message(folder, settings)
if message:
    print(f"WARNING: {message}", file=sys.stderr)
