"""A small client of the workshop hub's REST API and of users' Jupyter servers, for the server's
tests (tests/test_server.py) and benchmark (benchmarks/bench_server.py): start a user's server,
make a token for them, call their server's API (contents, nbgrader's Assignments, the formgrader),
and run code in a kernel of theirs over the Jupyter messaging protocol
(https://jupyter-client.readthedocs.io/en/stable/messaging.html) as JupyterLab does.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class HubError(RuntimeError):
    """The hub or a user's server answered with an error (the message has the status and body)."""


@dataclasses.dataclass
class Result:
    """What running code in a kernel gave: ``status`` ("ok" or "error"), printed ``stdout``, the
    error's ``ename``/``evalue`` and the seconds it took."""

    status: str
    stdout: str
    ename: str = ""
    evalue: str = ""
    seconds: float = 0.0


class Hub:
    """The hub at ``url`` (``https://127.0.0.1:8443``), trusted through its certificate ``cafile``,
    called with an admin ``token`` (the course's admin service)."""

    def __init__(self, url: str, cafile: str, token: str):
        self.url = url.rstrip("/")
        self.cafile = cafile
        self.token = token
        self.context = ssl.create_default_context(cafile=cafile)
        self.context.check_hostname = False     # the certificate names the LAN host, tests use 127.0.0.1
        self.user_tokens: dict[str, str] = {}

    def request(self, path: str, method: str = "GET", body=None, token: str | None = None,
                raw: bytes | None = None, timeout: float = 120, headers: dict | None = None):
        """One HTTPS request to ``path`` (under the hub's URL) with a token.

        Returns:
            the decoded JSON answer (or the text when it is not JSON; None when empty).
        Raises:
            HubError: the answer's status is 400 or more.
        """
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {token or self.token}",
                                                  **(headers or {})})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=timeout) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as exc:
            raise HubError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')[:2000]}") from None
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def start_server(self, user: str, timeout: float = 300) -> float:
        """Start ``user``'s server and wait until it answers.

        Returns:
            seconds from the request until the server answered.
        Raises:
            HubError: the spawn failed (the hub's message) or took longer than ``timeout`` s.
        """
        start = time.perf_counter()
        try:
            self.request(f"/hub/api/users/{user}/server", "POST", {})
        except HubError as exc:
            if " 400 " not in str(exc) or "already running" not in str(exc):
                raise
        while time.perf_counter() - start < timeout:
            model = self.request(f"/hub/api/users/{user}")
            server = (model.get("servers") or {}).get("", {})
            if server.get("ready"):
                return time.perf_counter() - start
            if not model.get("pending") and not server:
                raise HubError(f"{user}'s server stopped while starting (see the hub's log)")
            time.sleep(0.5)
        raise HubError(f"{user}'s server did not start in {timeout:.0f} s")

    def stop_server(self, user: str) -> None:
        """Stop ``user``'s server (their files stay) and wait until it has stopped."""
        self.request(f"/hub/api/users/{user}/server", "DELETE")
        for _ in range(240):
            if not self.request(f"/hub/api/users/{user}").get("servers"):
                return
            time.sleep(0.5)
        raise HubError(f"{user}'s server did not stop in 120 s")

    def user_token(self, user: str) -> str:
        """A token of ``user`` (made once by the admin service), to act as that user."""
        if user not in self.user_tokens:
            made = self.request(f"/hub/api/users/{user}/tokens", "POST", {"note": "tinymlkit tests", "expires_in": 7200})
            self.user_tokens[user] = made["token"]
        return self.user_tokens[user]

    def as_user(self, user: str, path: str, method: str = "GET", body=None, **kwargs):
        """A request to ``/user/<user><path>`` with ``user``'s own token."""
        return self.request(f"/user/{user}{path}", method, body, token=self.user_token(user), **kwargs)

    def put_notebook(self, user: str, path: str, notebook: dict) -> None:
        """Save a notebook into the user's home (Jupyter's contents API, as JupyterLab saves)."""
        self.as_user(user, f"/api/contents/{urllib.parse.quote(path)}", "PUT",
                     {"type": "notebook", "format": "json", "content": notebook})

    def get_file(self, user: str, path: str) -> dict:
        """A file's model from the user's contents API (``content`` holds the notebook or text)."""
        return self.as_user(user, f"/api/contents/{urllib.parse.quote(path)}")

    def assignments(self, user: str, action: str, lab: str, course: str = "tinymlkit") -> dict:
        """nbgrader's Assignments tab: ``action`` is fetch, submit or fetch_feedback.

        Raises:
            HubError: nbgrader answered ``success: false`` (its message).
        """
        body = urllib.parse.urlencode({"course_id": course, "assignment_id": lab}).encode()
        answer = self.as_user(user, f"/assignments/{action}", "POST", raw=body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        if not answer.get("success"):
            raise HubError(f"{user}: nbgrader {action} {lab}: {answer.get('value') or answer}")
        return answer

    def kernel(self, user: str, path: str = "") -> "Kernel":
        """A new Python kernel in ``user``'s server, its working folder ``path`` (relative to home)."""
        model = self.as_user(user, "/api/kernels", "POST", {"name": "python3", "path": path})
        return Kernel(self, user, model["id"])


class Kernel:
    """A kernel of a user's server, run over its WebSocket as JupyterLab does."""

    def __init__(self, hub: Hub, user: str, kernel_id: str):
        import websocket  # websocket-client (a Jupyter Server dependency)

        self.hub, self.user, self.id = hub, user, kernel_id
        ws_url = hub.url.replace("https://", "wss://") + f"/user/{user}/api/kernels/{kernel_id}/channels"
        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {hub.user_token(user)}"],
                                              sslopt={"ca_certs": hub.cafile, "check_hostname": False},
                                              timeout=300)   # the handshake, on a busy server
        self.ws.settimeout(30)       # then each read: run() checks its own deadline between reads

    def run(self, code: str, timeout: float = 600, stop_on_error: bool = True) -> Result:
        """Run ``code`` and wait for its reply. ``stop_on_error`` is Jupyter's: after an error the
        kernel aborts requests that reach it soon after (status ``"aborted"``), as JupyterLab asks;
        pass False for independent runs that each may fail.

        Returns:
            Result (status, what it printed, the error if any, seconds).
        Raises:
            HubError: no reply within ``timeout`` s, or the connection closed.
        """
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                       "username": self.user, "version": "5.3",
                       "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": stop_on_error}}))
        start = time.perf_counter()
        out, result = [], Result("", "")
        import websocket

        while time.perf_counter() - start < timeout:
            try:
                # control frames too: the server's pings would otherwise keep recv() waiting forever
                opcode, frame = self.ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:  # websocket-client raises its own classes for a closed socket
                raise HubError(f"{self.user}'s kernel connection ended: {exc!r}") from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise HubError(f"{self.user}'s kernel connection was closed by the server")
            if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                continue
            msg = json.loads(frame.data)
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                # what JupyterLab shows as "Kernel Restarting": the kernel died (often: out of memory)
                raise HubError(f"{self.user}'s kernel died while running (out of memory?) and is "
                               f"{content['execution_state']}")
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "stream":
                out.append(content.get("text", ""))
            elif kind == "error":
                result.ename, result.evalue = content.get("ename", ""), content.get("evalue", "")
            elif kind == "execute_reply":
                result.status = content.get("status", "")
                result.ename = result.ename or content.get("ename", "")
                result.evalue = result.evalue or content.get("evalue", "")
                result.stdout = "".join(out)
                result.seconds = time.perf_counter() - start
                return result
        raise HubError(f"{self.user}'s kernel gave no reply in {timeout:.0f} s")

    def close(self) -> None:
        """Close the connection and shut the kernel down."""
        try:
            self.ws.close()
        finally:
            self.hub.as_user(self.user, f"/api/kernels/{self.id}", "DELETE")
