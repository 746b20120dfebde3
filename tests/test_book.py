"""The offline course book (`make book`, book/): builds, shows what it should, hides what it must,
and loads nothing from another host — checked in headless Chromium with the network blocked.

The book is built once for this module, fast: execution off except for the small example page
book/reading_offline.ipynb (math and a figure), which is executed to prove that outputs render.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = "book/reading_offline.ipynb"
#: Markers that exist only in solutions/ (nbgrader source); nbgrader strips them from labs/.
SOLUTION_MARKERS = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: http(s) strings in the shipped MathJax 3.2.2 that are not loads of this book: speech-rule-engine's
#: defaults for its locale maps (MathJax points it at its own `[mathjax]/sre/mathmaps`, shipped in
#: _static/mathjax/sre), the Internet-Explorer-only maps and an XPath polyfill for browsers without
#: document.evaluate. test_book_in_chromium_offline proves no page requests them.
MATHJAX_NON_LOADS = re.compile(r"https://cdn\.jsdelivr\.net/npm/(speech-rule-engine@|sre-mathmaps-ie@|wicked-good-xpath@)")


def _expected_pages() -> dict[str, pathlib.Path]:
    """Source file (relative to the repository) → the HTML page the book must build from it."""
    sources = (["book/index.md", EXAMPLE, "hardware/README.md", "hardware/PROTOCOL.md",
                "grading/README.md", "hardware/edge_impulse/README.md", "hardware/raspberry_pi/README.md"]
               + [str(p.relative_to(ROOT)) for pat in ("modules/*.ipynb", "labs/*/*.ipynb",
                  "hardware/*/README.md", "tinymlkit/data/**/DATACARD.md", "book/instructor_guide/*.md")
                  for p in sorted(ROOT.glob(pat))])
    return {s: pathlib.Path(s).with_suffix(".html") for s in dict.fromkeys(sources)}


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> pathlib.Path:
    """Build the book with sphinx-build into a temporary folder; returns its HTML folder."""
    out = tmp_path_factory.mktemp("book")
    # What the book must contain, listed before building: others may add notebooks meanwhile.
    (out / "pages.json").write_text(json.dumps({k: str(v) for k, v in _expected_pages().items()}))
    env = dict(os.environ, BOOK_EXECUTE="off", BOOK_EXECUTE_ONLY=EXAMPLE, BOOK_CACHE=str(out / "cache"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", "book", ".",
                           str(out / "html")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    print(f"book built in {time.perf_counter() - start:.1f} s")
    return out / "html"


def _built_text_files(html_dir: pathlib.Path, suffixes=(".html", ".js", ".css", ".txt", ".ipynb", ".md")):
    return [p for p in html_dir.rglob("*") if p.is_file() and p.name.endswith(suffixes)]


def _readable_text(path: pathlib.Path) -> str:
    """What a reader could see in a built file: HTML without tags, notebook cell sources, else raw."""
    text = path.read_text(errors="replace")
    if path.suffix == ".html":
        return html.unescape(re.sub(r"<[^>]+>", "", text))
    if path.name.endswith((".ipynb", ".ipynb.txt")):
        try:
            return "\n".join("".join(c.get("source", "")) for c in json.loads(text)["cells"])
        except (ValueError, KeyError):
            return text
    return text


def test_book_has_every_page(book):
    index = (book / "book" / "index.html").read_text()
    missing, unlinked = [], []
    for source, page in json.loads((book.parent / "pages.json").read_text()).items():
        if not (book / page).is_file():
            missing.append(f"{source} -> {page}")
        elif page != "book/index.html" and f'href="{os.path.relpath(page, "book")}"' not in index:
            unlinked.append(source)
    assert not missing, f"the book has no page for: {missing}"
    assert not unlinked, f"book/index.md's table of contents does not reach: {unlinked}"
    redirect = (book / "index.html").read_text()
    assert 'url=book/index.html' in redirect, "build/book/html/index.html must forward to book/index.html"


def test_executed_example_shows_its_output_and_figure(book):
    page = (book / "book" / "reading_offline.html").read_text()
    assert "representable range" in _readable_text(book / "book" / "reading_offline.html"), \
        "the example notebook's printed output is missing: was it executed?"
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert images, "the example notebook's matplotlib figure is not in the page"
    for src in images:
        png = (book / "book" / src).resolve()
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"figure {src} is not a PNG file"


def test_labs_are_student_versions_without_outputs(book):
    labs = sorted(ROOT.glob("labs/*/*.ipynb"))
    assert labs, "no student labs in labs/: run make release"
    for lab in labs:
        page = (book / lab.relative_to(ROOT).with_suffix(".html")).read_text()
        assert "NotImplementedError" in html.unescape(re.sub(r"<[^>]+>", "", page)), \
            f"{lab.name}: the student's exercise cells (raise NotImplementedError) are not shown"
        assert "cell_output" not in page, f"{lab.name} was executed in the book; labs must be shown unexecuted"


def test_no_solution_content_leaked(book):
    """No nbgrader marker, and no line of a model answer, in any built file (pages, sources, downloads,
    search index)."""
    answers = set()
    for nb_path in ROOT.glob("solutions/*/*.ipynb"):
        for cell in json.loads(nb_path.read_text())["cells"]:
            src = "".join(cell["source"])
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", src, flags=re.S):
                answers.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 40)
    assert answers, "found no model answers in solutions/ to look for"
    leaks = []
    for path in _built_text_files(book):
        text = _readable_text(path)
        leaks += [f"{path.relative_to(book)}: {m!r}" for m in SOLUTION_MARKERS if m in text]
        leaks += [f"{path.relative_to(book)}: answer line {a!r}" for a in answers if a in text]
    assert not leaks, f"solutions/ content leaked into the book: {leaks[:10]}"
    assert not any("solutions" in p.parts for p in book.rglob("*")), "a solutions/ folder was copied into the book"


_LOAD_TAG = re.compile(r"<(script|link|img|iframe|source|audio|video|embed|object)\b[^>]*?"
                       r"\b(src|href|data)\s*=\s*[\"']?(https?:)?//([^/\"'\s>]+)", re.I)
_CSS_LOAD = re.compile(r"(url\(\s*[\"']?|@import\s+[\"']?)(https?:)?//([^/\"')\s]+)", re.I)
_JS_URL = re.compile(r"https?://([^/\"'\s`)]+)[^\"'\s`)]*")


def test_no_page_loads_from_another_host(book):
    """Every script, style sheet, font and image comes from the book's own files (static check)."""
    loads = []
    for path in _built_text_files(book, (".html", ".css", ".js")):
        text = path.read_text(errors="replace")
        rel = path.relative_to(book)
        if path.suffix == ".html":
            loads += [f"{rel}: <{m[0]} {m[1]}=...//{m[3]}" for m in _LOAD_TAG.findall(text)
                      if m[3].split(":")[0] not in LOCAL_HOSTS and not (m[0].lower() == "link" and _is_plain_link(text, m))]
            for script in re.findall(r"<script\b[^>]*>(.*?)</script>", text, flags=re.S | re.I):
                loads += [f"{rel}: inline script names {u.group(0)}" for u in _JS_URL.finditer(script)
                          if u.group(1) not in LOCAL_HOSTS]
        elif path.suffix == ".css":
            loads += [f"{rel}: {m[0]}//{m[2]}" for m in _CSS_LOAD.findall(text) if m[2] not in LOCAL_HOSTS]
        else:  # a URL in a script that names a loadable resource or a CDN
            for u in _JS_URL.finditer(text):
                url = u.group(0)
                if MATHJAX_NON_LOADS.match(url) and rel.parts[:2] == ("_static", "mathjax"):
                    continue
                if (re.search(r"\.(js|mjs|css|woff2?|ttf|otf|eot)([?#].*)?$", url)
                        or re.search(r"cdn|unpkg|fonts\.(googleapis|gstatic)|githack|jsdelivr", u.group(1))):
                    loads.append(f"{rel}: {url}")
    assert not loads, f"the book loads from other hosts ({len(loads)}): {sorted(set(loads))[:15]}"


def _is_plain_link(text: str, match) -> bool:
    """True if a <link href=//host> is only a hyperlink-like relation (canonical, author, ...),
    which a browser does not fetch."""
    for tag in re.findall(r"<link\b[^>]*>", text, flags=re.I):
        if f"//{match[3]}" in tag:
            rel = re.search(r"rel\s*=\s*[\"']([^\"']+)", tag)
            return bool(rel) and not set(rel.group(1).lower().split()) & {
                "stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "dns-prefetch", "icon",
                "manifest", "apple-touch-icon"}
    return False


# --- Headless Chromium with the network blocked, driven through the DevTools protocol ---------

class _Chromium:
    """Debian's headless Chromium with every non-loopback request sent to a dead proxy
    (127.0.0.1:9) and DNS failing, driven over the DevTools protocol (websocket on 127.0.0.1).

    Every request a page tries is recorded (Network.requestWillBeSent fires even when the request
    then fails), so ``requests`` lists what the book *asks for*, not only what it got.
    """

    def __init__(self, exe: str, profile: pathlib.Path):
        """Start Chromium; raises RuntimeError with its stderr if DevTools does not come up in 60 s."""
        import websocket  # websocket-client, a Jupyter dependency

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking", "--disable-sync",
             "--disable-component-update", "--disable-default-apps", "--mute-audio",
             f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)  # its own process group: close() ends every Chromium process
        deadline, err = time.monotonic() + 60, []
        port = None
        while time.monotonic() < deadline and port is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            err.append(line)
            if m := re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line):
                port = int(m.group(1))
        if port is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint:\n" + "".join(err[-20:]))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._id = 0
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.call("Network.enable")
        self.call("Page.enable")

    def call(self, method: str, **params):
        """Send one DevTools command and return its result (dict); events met meanwhile are recorded."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg["result"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.requests.append(msg["params"]["request"]["url"])
            elif msg.get("method") == "Network.loadingFailed":
                self.failed.append(f"{msg['params'].get('errorText')} (request {msg['params']['requestId']})")

    def evaluate(self, expression: str):
        """Evaluate a JavaScript expression in the page; returns its JSON value."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, until: str = "true", timeout_s: float = 60.0, lands_on: str | None = None):
        """Navigate to ``url`` and wait until the page (``lands_on`` if it forwards there) has loaded
        and the JS ``until`` is true; raises TimeoutError after ``timeout_s`` seconds."""
        self.call("Page.navigate", url=url)
        target = lands_on or url
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate(f"document.readyState === 'complete' && location.href === {json.dumps(target)} "
                             f"&& Boolean({until})"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"{url}: not ready within {timeout_s} s (waiting for {until})")

    def close(self):
        """Close the websocket and end the Chromium process this object started."""
        if getattr(self, "ws", None):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Chromium's helpers (crashpad, utility processes) can outlive the browser and still be
        # writing into the profile, so removing it failed once (ENOTEMPTY): end the whole group
        # and wait until none is left.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.1)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (scripts/system_deps.sh)")
def test_book_in_chromium_offline(book):
    """Open pages as a student would (file://) with the network blocked: MathJax typesets the
    math with its own fonts, the figure loads, and no page asks any other host for anything."""
    with tempfile.TemporaryDirectory() as profile:
        chrome = _Chromium(_chromium(), pathlib.Path(profile))
        try:
            example = (book / "book" / "reading_offline.html").as_uri()
            chrome.open(example, until="document.querySelectorAll('mjx-container').length >= 2")
            chrome.evaluate("document.fonts.ready.then(() => true)")
            math = chrome.evaluate("[...document.querySelectorAll('mjx-container')].length")
            assert math >= 4, f"MathJax typeset only {math} formulas on {example}"
            images = chrome.evaluate("[...document.images].filter(i => i.src.endsWith('.png'))"
                                     ".map(i => [i.src, i.complete, i.naturalWidth])")
            assert images and all(ok and width > 100 for _, ok, width in images), \
                f"the figure did not load: {images}"
            fonts = chrome.evaluate("[...document.fonts].filter(f => f.family.startsWith('MJX'))"
                                    ".map(f => [f.family, f.status])")
            assert any(s == "loaded" for _, s in fonts) and not any(s == "error" for _, s in fonts), \
                f"MathJax's fonts did not load from the book's files: {fonts}"
            others = ["book/index.html", "index.html", "README.html"]
            others += [str(p.relative_to(ROOT).with_suffix(".html")) for p in
                       sorted(ROOT.glob("modules/*.ipynb"))[:1] + sorted(ROOT.glob("labs/*/*.ipynb"))[:1]]
            for rel in others:
                forwards_to = (book / "book" / "index.html").as_uri() if rel == "index.html" else None
                chrome.open((book / rel).as_uri(), lands_on=forwards_to)
                assert chrome.evaluate("document.querySelector('.bd-sidebar-primary, nav') !== null"), \
                    f"{rel}: the book's navigation did not render"
            outside = sorted({u for u in chrome.requests
                              if urlparse(u).scheme not in ("file", "data", "blob", "about")
                              and (urlparse(u).hostname or "") not in LOCAL_HOSTS})
            assert not outside, f"pages requested other hosts: {outside}"
            assert any(u.endswith("tex-chtml.js") for u in chrome.requests), "MathJax was not loaded from _static"
        finally:
            chrome.close()
