"""The workshop server: one Linux machine on the room's Wi-Fi running JupyterHub with nbgrader's
exchange, for students whose laptops are too weak for TensorFlow (or who have tablets).
Guide: book/instructor_guide/workshop_server.md.

    sudo make server CLASS=class.csv              # setup + start (what most instructors run)
    sudo .venv/bin/python grading/server.py setup --class class.csv [--dir /srv/tinymlkit]
    sudo .venv/bin/python grading/server.py start [--dir /srv/tinymlkit]
    sudo .venv/bin/python grading/server.py status [--dir /srv/tinymlkit]
    python $TINYMLKIT_REPO/grading/server.py grade lab01     # the instructor, in a terminal of their server

``setup`` (root): a Unix account per name of the class list with a first-login password
(``accounts.csv``: print it, cut it into slips), the course's groups, nbgrader's exchange with
safe permissions, a self-signed HTTPS certificate for the LAN, ``server.json``.
``start`` (root): JupyterHub (grading/jupyterhub_config.py) with configurable-http-proxy.
``grade`` (instructor): nbgrader collect → ``grading/grade.py --root ~/course`` (the sandboxed,
integrity-checked grading of ``make grade``) → nbgrader release_feedback.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import grp
import ipaddress
import os
import pathlib
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time
import unicodedata

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import hub_settings  # noqa: E402
from hub_settings import COURSE_ID, GRADING, ROOT, Settings  # noqa: E402

GROUPS = {"student": "tinymlkit-students", "instructor": "tinymlkit-instructors"}
#: Unix user names: POSIX portable names, lower case, 2-32 characters (useradd(8) NAME_REGEX)
USERNAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
#: first-login passwords: no 0/o, 1/l/i (read off a paper slip, typed on a phone)
PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"
#: exchange permissions (nbgrader 0.9 docs, "Exchange"): the root is world-writable as nbgrader
#: requires, plus the sticky bit so no student can rename or delete the course's folder; the course
#: folder belongs to the instructor; inbound is write-only for students (sticky: none can delete
#: another's submission), feedback is not listable.
EXCHANGE_MODES = {"": 0o1777, COURSE_ID: 0o755, f"{COURSE_ID}/outbound": 0o755,
                  f"{COURSE_ID}/inbound": 0o3733, f"{COURSE_ID}/feedback": 0o711}


class ClassListError(ValueError):
    """The class list cannot be read (the message names the file, the line and the fault)."""


def username_for(name: str) -> str:
    """A Unix user name from a person's name: ``"Amina Kâmara"`` → ``"amina-kamara"``.

    Args:
        name: the person's name as in the class list.
    Returns:
        lower-case ASCII letters, digits and ``-``, at most 32 characters.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    user = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:32].strip("-")
    if user and not user[0].isalpha():
        user = ("s-" + user)[:32]
    return user


def read_class_list(path: pathlib.Path) -> list[dict[str, str]]:
    """The class list: a CSV with a header and a ``name`` column, optional ``username`` and
    ``role`` (``student``, the default, or ``instructor``).

    Returns:
        ``[{"name", "username", "role"}]`` in the file's order.
    Raises:
        ClassListError: no such file, no ``name`` column, a bad role or user name, a duplicate user
            name, no instructor.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassListError(f"{path}: cannot read the class list: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "name" not in fields:
        raise ClassListError(f"{path}: the first line must name the columns, with at least 'name' "
                             f"(optional: 'username', 'role'); it is {reader.fieldnames!r}")
    people, seen = [], {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row.get("name"):
            continue
        role = (row.get("role") or "student").lower()
        if role not in GROUPS:
            raise ClassListError(f"{path}, line {line}: role {row['role']!r} is neither 'student' nor 'instructor'")
        user = row.get("username") or username_for(row["name"])
        if not USERNAME.match(user):
            raise ClassListError(f"{path}, line {line}: {user!r} cannot be a user name (lower-case letters, "
                                 "digits and '-', starting with a letter, 2-32 characters): add a 'username' column")
        if user in seen:
            raise ClassListError(f"{path}, line {line}: user name {user!r} is also on line {seen[user]}: "
                                 "give one of them another 'username'")
        seen[user] = line
        people.append({"name": row["name"], "username": user, "role": role})
    if not any(p["role"] == "instructor" for p in people):
        raise ClassListError(f"{path}: no instructor: add a row with role 'instructor'")
    return people


def new_password(length: int = 10) -> str:
    """A random first-login password of unambiguous letters and digits, as ``abcde-fghjk``."""
    raw = "".join(secrets.choice(PASSWORD_LETTERS) for _ in range(length))
    return f"{raw[:length // 2]}-{raw[length // 2:]}"


def _run(cmd: list[str], **kwargs) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def ensure_account(person: dict[str, str]) -> bool:
    """Create the person's Unix account in the role's group (home folder private).

    Returns:
        True if the account was created, False if it was already the course's.
    Raises:
        SystemExit: the name belongs to an account that is not the course's (``root``, a colleague).
    """
    group = GROUPS[person["role"]]
    user = person["username"]
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        comment = unicodedata.normalize("NFKD", person["name"]).encode("ascii", "ignore").decode()[:60]
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--gid", group,
              "--comment", comment.replace(":", " "), user])
        os.chmod(pwd.getpwnam(user).pw_dir, 0o700)
        return True
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem} | {grp.getgrgid(account.pw_gid).gr_name}
    if not groups & set(GROUPS.values()):
        raise SystemExit(f"The class list's user name {user!r} is an account of this machine that is not the "
                         "course's: give that person another 'username' in the class list")
    return False


def set_password(user: str, password: str) -> None:
    """Set a Unix account's password with chpasswd(8) (read from stdin, never on a command line)."""
    _run(["chpasswd"], input=f"{user}:{password}\n")


def make_certificate(folder: pathlib.Path, names: list[str], addresses: list[str], days: int = 400) -> None:
    """A self-signed certificate for the room's LAN: ``server.key`` (RSA 2048, mode 0600) and
    ``server.crt`` with the host names and IP addresses as subject alternative names.

    Browsers warn once ("not private"); students accept it once. 400 days: under the 398-day maximum
    browsers accept (CA/Browser Forum Baseline Requirements 6.3.2) plus a margin of the clock.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TinyML Lab Kit workshop")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(mode=0o700, exist_ok=True)
    key_path = folder / "server.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    (folder / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses (for the certificate), loopback first."""
    found = ["127.0.0.1"]
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
        found += [a for a in out.split() if ":" not in a]
    except (OSError, subprocess.TimeoutExpired):
        pass
    return list(dict.fromkeys(found))


def prepare_exchange(folder: pathlib.Path, owner: str) -> None:
    """nbgrader's exchange for the course, made before any student can log in (so no student can
    create the course's folder first), with the modes of ``EXCHANGE_MODES``."""
    root = hub_settings.exchange_dir(folder)
    account = pwd.getpwnam(owner)
    for relative, mode in EXCHANGE_MODES.items():
        path = root / relative
        path.mkdir(parents=True, exist_ok=True)
        if relative:
            os.chown(path, account.pw_uid, account.pw_gid)
        else:
            os.chown(path, 0, 0)
        os.chmod(path, mode)


def unreadable_path(path: pathlib.Path) -> pathlib.Path | None:
    """The first folder on ``path`` that other users cannot enter (students' servers run the
    course's Python and read the course as themselves), or None."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not (part.stat().st_mode & stat.S_IXOTH):
            return part
    return None


def setup(args: argparse.Namespace) -> int:
    """``server.py setup``: accounts, exchange, certificate, settings. Re-running adds new names of
    the class list and keeps existing accounts and their passwords (``--new-passwords``: new ones)."""
    if os.geteuid() != 0:
        raise SystemExit("server.py setup creates Unix accounts: run it as root (sudo make server CLASS=…)")
    try:
        people = read_class_list(args.class_list)
    except ClassListError as exc:
        raise SystemExit(str(exc)) from None
    for path in (ROOT, pathlib.Path(sys.executable), pathlib.Path(os.path.realpath(sys.executable)),
                 pathlib.Path(sys.base_prefix) / "lib"):
        blocked = unreadable_path(path)
        if blocked is not None:
            raise SystemExit(f"Students cannot enter {blocked} (mode {stat.filemode(blocked.stat().st_mode)}), "
                             f"which holds {path}: their servers could not run the course. Put the course where everyone "
                             "can read it (e.g. git clone into /opt/tinymlkit) and run make server there, with a "
                             "Python installed for everyone (apt install python3.11-venv, or conda in /opt), not "
                             "one in root's home (pyenv).")
    if not hub_settings.PROXY.exists():
        raise SystemExit(f"configurable-http-proxy is not installed ({hub_settings.PROXY}): run make server-deps "
                         "(npm, with internet or the offline bundle)")
    folder = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    for private in ("hub", "ssl"):
        (folder / private).mkdir(mode=0o700, exist_ok=True)
    for name in ("proxy_token", "admin_token"):
        token = folder / "hub" / name
        if not token.exists():
            fd = os.open(token, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    if args.new_certificate or not (folder / "ssl" / "server.crt").exists():
        host = socket.gethostname()
        make_certificate(folder / "ssl", list(dict.fromkeys([host, f"{host}.local", "localhost"])),
                         lan_addresses() + list(args.address or []))

    for role, group in GROUPS.items():
        try:
            grp.getgrnam(group)
        except KeyError:
            _run(["groupadd", group])
    accounts_path = folder / "accounts.csv"
    known = {}
    if accounts_path.exists():
        with accounts_path.open(newline="") as f:
            known = {row["username"]: row for row in csv.DictReader(f)}
    rows, created = [], []
    for person in people:
        fresh = ensure_account(person)
        password = known.get(person["username"], {}).get("first_password", "")
        if fresh or args.new_passwords or not password:
            password = new_password()
            set_password(person["username"], password)
        if fresh:
            created.append(person["username"])
        rows.append({**person, "first_password": password})
    tmp = folder / "accounts.csv.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["name", "username", "role", "first_password"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, accounts_path)

    instructors = [p["username"] for p in people if p["role"] == "instructor"]
    prepare_exchange(folder, instructors[0])
    settings = Settings(instructors=instructors, students=[p["username"] for p in people if p["role"] == "student"],
                        ip=args.ip, port=args.port, memory_gb=args.memory_gb, cpus=args.cpus,
                        idle_minutes=args.idle_minutes, min_free_disk_mb=args.min_free_disk_mb,
                        python=sys.executable, repo=str(ROOT))
    settings.save(folder)
    print(f"{len(people)} accounts ({len(created)} new): {len(settings.students)} students, instructors: "
          f"{', '.join(instructors)}.\nFirst-login passwords: {accounts_path} (root only; print it and cut "
          f"it into slips).\nServer folder: {folder}. Start it: sudo .venv/bin/python grading/server.py start "
          f"--dir {folder}")
    return 0


def start(args: argparse.Namespace) -> int:
    """``server.py start``: replace this process with JupyterHub (it runs until Ctrl+C; users'
    servers and the proxy keep running, so a restart loses nothing)."""
    if os.geteuid() != 0:
        raise SystemExit("The hub starts each user's server as that user: run it as root (sudo)")
    settings = Settings.load(args.dir)
    message = hub_settings.disk_message(args.dir, settings)
    if message:
        print(f"WARNING: {message}", file=sys.stderr)
    env = {**os.environ, hub_settings.DIR_VARIABLE: str(args.dir),
           "PATH": os.pathsep.join([str(pathlib.Path(sys.executable).parent), os.environ.get("PATH", "")])}
    os.chdir(args.dir / "hub")
    host = socket.gethostname() if settings.ip == "0.0.0.0" else settings.ip
    print(f"Students open https://{host}:{settings.port}/ "
          "(accept the certificate warning once). Stop: Ctrl+C.", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(GRADING / "jupyterhub_config.py")],
              env)


def admin_client(folder: pathlib.Path):
    """A ``hub_client.Hub`` for the running hub, as the course's admin service (``hub/admin_token``)."""
    import hub_client

    settings = Settings.load(folder)
    host = "127.0.0.1" if settings.ip == "0.0.0.0" else settings.ip
    return hub_client.Hub(f"https://{host}:{settings.port}", str(folder / "ssl" / "server.crt"),
                          (folder / "hub" / "admin_token").read_text().strip())


def status(args: argparse.Namespace) -> int:
    """``server.py status``: free disk, limits, and who has a server running."""
    settings = Settings.load(args.dir)
    message = hub_settings.disk_message(args.dir, settings)
    print(message or f"Disk: {hub_settings.free_disk_mb(args.dir):,.0f} MB free (limit {settings.min_free_disk_mb:,} MB)")
    print(f"Limits per user: {settings.memory_gb} GiB, {settings.cpus} CPU; idle servers stop after "
          f"{settings.idle_minutes} min")
    import hub_client

    try:
        users = admin_client(args.dir).request("/hub/api/users")
    except (OSError, hub_client.HubError) as exc:
        print(f"The hub does not answer ({exc}): start it with server.py start")
        return 1
    running = [u["name"] for u in users if u.get("server")]
    print(f"{len(running)} of {len(users)} users have a server running: {', '.join(running) or '-'}")
    return 2 if message else 0


def grade(args: argparse.Namespace) -> int:
    """``server.py grade LAB`` (the instructor, on their server): collect the submissions from the
    exchange, grade them with grading/grade.py (sandboxed, integrity-checked, as ``make grade``),
    release the feedback to the students."""
    sys.path.insert(0, str(GRADING))
    import grade as grading

    course = pathlib.Path(os.environ.get("TINYMLKIT_COURSE_ROOT") or pathlib.Path.home() / "course")
    try:
        lab = grading.resolve_lab(args.lab, course)
    except SystemExit as exc:
        raise SystemExit(f"{exc} (course folder {course})") from None
    steps = [("collect", [sys.executable, "-m", "nbgrader", "collect", lab, "--update"]),
             ("grade", [sys.executable, str(GRADING / "grade.py"), lab, "--root", str(course),
                        "--workers", str(args.workers), *(["--regrade"] if args.regrade else []),
                        *(["--no-progress"] if args.no_progress else [])]),
             ("release feedback", [sys.executable, "-m", "nbgrader", "release_feedback", lab])]
    for name, cmd in steps:
        print(f"== {name}: {' '.join(pathlib.Path(c).name if c == sys.executable else c for c in cmd[1:])}",
              flush=True)
        proc = subprocess.run(cmd, cwd=course)
        if proc.returncode:
            print(f"Stopped: {name} failed (exit {proc.returncode}); the messages above say why.")
            return proc.returncode
    print(f"Done: grades in {course}/grading/grades_{lab}.csv; students get their feedback with "
          "Nbgrader → Assignments → Fetch Feedback.")
    return 0


def remove_class(args: argparse.Namespace) -> int:
    """``server.py remove-class`` (root, after the course's retention period): delete the class's
    accounts with their home folders (students' work, submissions, grades) and the server folder.
    Stop the hub first. Asks for ``--yes``: nothing of it can be recovered."""
    if os.geteuid() != 0:
        raise SystemExit("server.py remove-class deletes Unix accounts: run it as root")
    accounts = args.dir / "accounts.csv"
    if not accounts.exists():
        raise SystemExit(f"{accounts} does not exist: nothing to remove (is --dir the class's server folder?)")
    with accounts.open(newline="") as f:
        users = [row["username"] for row in csv.DictReader(f)]
    if not args.yes:
        print(f"This deletes {len(users)} accounts and their home folders, and {args.dir}. Run again with --yes.")
        return 1
    for user in users:
        for _ in range(100):     # userdel refuses while the user has processes (a running server)
            subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
            gone = subprocess.run(["userdel", "--remove", user], capture_output=True, text=True)
            if gone.returncode in (0, 6):            # 6: no such user (userdel(8))
                break
            time.sleep(0.1)
        else:
            print(f"Could not delete {user}: {gone.stderr.strip()}")
    for group in GROUPS.values():
        try:
            if not grp.getgrnam(group).gr_mem and not any(p.pw_gid == grp.getgrnam(group).gr_gid for p in pwd.getpwall()):
                subprocess.run(["groupdel", group], capture_output=True)
        except KeyError:
            pass
    shutil.rmtree(args.dir)
    print(f"Removed {len(users)} accounts and {args.dir}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--dir", type=pathlib.Path, default=hub_settings.server_dir(),
                       help="the server folder (default $TINYMLKIT_SERVER_DIR or /srv/tinymlkit)")
    p = sub.add_parser("setup", parents=[where], help="accounts, exchange, certificate (root)")
    p.add_argument("--class", dest="class_list", type=pathlib.Path, required=True,
                   help="CSV with columns name[,username][,role]")
    p.add_argument("--ip", default="0.0.0.0", help="address to listen on (default: every address)")
    p.add_argument("--port", type=int, default=8443,
                   help="HTTPS port for browsers (the hub also uses the next two ports on 127.0.0.1)")
    p.add_argument("--memory-gb", type=float, default=3.0, help="memory per user's server, kernels included")
    p.add_argument("--cpus", type=float, default=1.0, help="CPU cores per user's server")
    p.add_argument("--idle-minutes", type=int, default=60)
    p.add_argument("--min-free-disk-mb", type=int, default=2048)
    p.add_argument("--address", action="append", help="another IP address for the certificate")
    p.add_argument("--new-passwords", action="store_true", help="new first-login passwords for everyone")
    p.add_argument("--new-certificate", action="store_true")
    p.set_defaults(run=setup)
    sub.add_parser("start", parents=[where], help="run JupyterHub (root)").set_defaults(run=start)
    sub.add_parser("status", parents=[where], help="disk, limits, running servers").set_defaults(run=status)
    p = sub.add_parser("remove-class", parents=[where], help="delete the class's accounts and data (root)")
    p.add_argument("--yes", action="store_true")
    p.set_defaults(run=remove_class)
    p = sub.add_parser("grade", help="instructor: collect, grade, release feedback")
    p.add_argument("lab")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--regrade", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=grade)
    args = parser.parse_args(argv)
    if hasattr(args, "dir"):
        args.dir = args.dir.resolve()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
