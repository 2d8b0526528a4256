"""Fixtures of the portal's browser tests.

The real local stack (`chathooks-local`: moto, the stack's tables and queues,
the HTTP API, the dispatcher and retry scheduler) runs once per session on a
free port of 127.0.0.1; receivers are HTTP servers on 127.0.0.1 that record
every request. Chromium is Debian's (/usr/bin/chromium), driven by Playwright.
"""
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "target" / "portal-screenshots"
CHROMIUM = os.environ.get("CHATHOOKS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
WIDTHS = (1440, 375)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the API ---------------------------------------------------------------


class Api:
    """A tiny JSON client for the local stack."""

    def __init__(self, base, key=None):
        self.base = base
        self.key = key

    def with_key(self, key):
        return Api(self.base, key)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if self.key:
            req.add_header("authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw) if raw else None
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def ok(self, method, path, body=None, status=None):
        code, answer = self.call(method, path, body)
        assert (code == status) if status else 200 <= code < 300, f"{method} {path}: {code} {answer}"
        return answer

    def wait_for(self, what, check, timeout=30):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what} (last: {last})")


@pytest.fixture(scope="session")
def stack():
    """The local stack, built once (cargo) and started on a free port."""
    binary = os.environ.get("CHATHOOKS_LOCAL_BIN")
    if not binary:
        subprocess.run(
            ["cargo", "build", "--quiet", "-p", "chathooks-tests", "--bin", "chathooks-local"],
            cwd=ROOT,
            check=True,
        )
        binary = str(ROOT / "target" / "debug" / "chathooks-local")
    port = free_port()
    admin_key = "adm_browser_" + os.urandom(12).hex()
    env = dict(os.environ, PORT=str(port), CHATHOOKS_ADMIN_KEY=admin_key, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    log = open(ROOT / "target" / "portal-stack.log", "w")
    proc = subprocess.Popen([binary], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"
    lines = []

    def drain():
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chathooks-local exited: {''.join(lines)}")
        if any("chathooks is running locally" in line for line in lines):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("chathooks-local did not start within 180 s")
    try:
        yield {"base": base, "admin": Api(base, admin_key), "output": lines}
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: it stops its moto servers too
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def tenant(stack):
    """A fresh tenant: its API client (API key) and a helper to open portal links."""
    created = stack["admin"].ok("POST", "/v1/tenants", {"name": "browser test"}, status=201)
    return stack["admin"].with_key(created["api_key"])


def portal_session(tenant, **body):
    return tenant.ok("POST", "/v1/portal/sessions", body or None, status=201)


# ---- receivers -------------------------------------------------------------


class Receiver:
    """An HTTP endpoint on 127.0.0.1 recording every request. `statuses` is
    consumed one per request (then `default`); `reply` is the JSON body."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self.default = 200
        self.reply = {"ok": True}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path})
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    reply = json.dumps(receiver.reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.count() >= n:
                return self.requests[n - 1]
            time.sleep(0.1)
        raise AssertionError(f"receiver got {self.count()} requests, expected {n}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---- the browser -----------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """Console errors and page errors of a page; any one fails the test
    unless it matches a pattern the test allowed (an HTTP status it provoked)."""

    def __init__(self):
        self.errors = []
        self.allowed = []

    def allow_status(self, *codes):
        for code in codes:
            self.allowed.append(re.compile(rf"status of {code}\b"))

    def allow(self, pattern):
        self.allowed.append(re.compile(pattern))

    def unexpected(self):
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture()
def console():
    return Console()


@pytest.fixture()
def new_page(browser, console):
    """Open pages at a width; every page's console errors are collected and
    checked when the test ends. No dialog (alert) may ever open."""
    contexts = []

    def make(width=1440, height=900):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        page.on("console", lambda m: console.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.errors.append(f"pageerror: {e}"))

        def on_dialog(d):
            console.errors.append(f"unexpected dialog: {d.type} {d.message}")
            d.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    unexpected = console.unexpected()
    assert not unexpected, f"browser console errors: {unexpected}"


def shot(page, name):
    """Write a full-page screenshot to target/portal-screenshots/<name>_<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}_{width}.png"), full_page=True)
