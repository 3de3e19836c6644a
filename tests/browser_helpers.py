"""What the browser tests share: the built book, a headless Chromium over DevTools, its console.

Used by ``tests/test_book_browser.py`` (every page renders offline, with a clean console) and
``tests/test_explorer_browser.py`` (the latent explorer decodes like ``vae_np``).

* :func:`toc_pages` — the pages of ``_toc.yml`` (or of ``$VAE_NP_BOOK_TOC``);
* :func:`built_book` — the ``_build/html`` folder to test (``$VAE_NP_BOOK_HTML``, else the
  repository's own build), skipped with a reason when there is none (a failure when ``CI=true``);
* :func:`start_browser` — a :class:`DevTools` session on Debian's ``chromium`` (or
  ``$VAE_NP_CHROMIUM``), skipped with a reason when there is none (a failure when ``CI=true``);
* :meth:`DevTools.console_errors` and :meth:`DevTools.requests` — what the open page logged and
  fetched.

The browser runs with every host name unresolvable (``--host-resolver-rules``), so a page that
needed the network would not load its resources at all. It is driven through the DevTools protocol
over a pipe (``--remote-debugging-pipe``), so no extra Python package is needed.
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE_TIMEOUT = 90.0          # seconds for one page to load and typeset (shared, loaded machine)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
    "--disable-extensions", "--disable-default-apps", "--mute-audio",
    # Simulate an offline machine: no host name resolves (file:// pages are unaffected).
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _ci():
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason):
    """Skip the test with ``reason``, or fail it when ``CI=true``."""
    if _ci():
        pytest.fail("CI=true: " + reason)
    pytest.skip(reason)


# ------------------------------------------------------------------------------------ the book
def toc_pages():
    """Docnames (e.g. ``book/intro``) of the root and of every chapter in the toc, in order."""
    toc_file = Path(os.environ.get("VAE_NP_BOOK_TOC", ROOT / "_toc.yml"))
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                pages.append(e["file"])
            walk(e.get("sections"))
            walk(e.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", p) for p in pages]


def built_book():
    """The ``_build/html`` folder to test: ``$VAE_NP_BOOK_HTML`` or this repository's build."""
    given = os.environ.get("VAE_NP_BOOK_HTML")
    if given:
        html = Path(given).resolve()
        assert (html / "index.html").exists(), (
            f"VAE_NP_BOOK_HTML={given} has no index.html; build the book first "
            "(jupyter-book build . -W -n --keep-going)")
        return html
    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        skip_or_fail("no built book to test: run `jupyter-book build .` first (the README's "
                     "first command), or set VAE_NP_BOOK_HTML to a build")
    return html


def html_of(book_html, docname):
    """The built page of ``docname``; fails if the build has none."""
    p = book_html / (docname + ".html")
    assert p.exists(), f"{docname} is in the table of contents but the build has no {p}"
    return p


# ------------------------------------------------------------------------------------ browser
class DevTools:
    """A headless Chromium driven through the DevTools protocol over ``--remote-debugging-pipe``.

    Chromium reads JSON commands, each terminated by a NUL byte, on its fd 3 and writes responses
    and events on its fd 4. Events (console messages, exceptions, requests) are kept in
    ``events`` from the last :meth:`open` on.
    """

    def __init__(self, exe, user_data_dir):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
               "--remote-debugging-pipe", "about:blank"]
        # bash puts the two pipe ends on fds 3 and 4, where Chromium expects them (dash cannot
        # redirect fds above 9).
        shell = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self.proc = subprocess.Popen(["bash", "-c", shell, "bash", *cmd], pass_fds=(
            to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium exited: " + self.proc.stderr.read().decode(
                        errors="replace")[-2000:])
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False, timeout=PAGE_TIMEOUT):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method, timeout=PAGE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def drain(self, seconds):
        """Collect the events that arrive within ``seconds`` (late console messages)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def open(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression, timeout=PAGE_TIMEOUT):
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                             "returnByValue": True}, session=True,
                        timeout=timeout)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")         # undefined: None

    def console_errors(self):
        """Every error the page logged since :meth:`open`: uncaught exceptions,
        ``console.error``/``console.assert`` calls and the browser's own error entries (e.g. a
        resource that failed to load), as short strings."""
        found = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                text = (d.get("exception") or {}).get("description") or d.get("text", "")
                found.append(f"uncaught exception: {text.splitlines()[0] if text else d} "
                             f"({d.get('url', '')}:{d.get('lineNumber', '?')})")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                found.append(f"console.{p['type']}: {args}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                found.append(f"browser log ({entry.get('source')}): {entry.get('text')} "
                             f"{entry.get('url', '')}".rstrip())
        return found

    def requests(self):
        """The URL of every request the page made since :meth:`open`."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def find_chromium():
    for name in (os.environ.get("VAE_NP_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def start_browser(profile_dir):
    """A :class:`DevTools` session (close it when done), or skip (fail with ``CI=true``)."""
    exe = find_chromium()
    if exe is None:
        skip_or_fail("chromium is not installed, so the browser checks cannot run; install it "
                     "with `apt-get install -y chromium` (Debian/Ubuntu) or set VAE_NP_CHROMIUM "
                     "to a Chromium binary")
    return DevTools(exe, profile_dir)
