"""The storefront kit in integrations/: its Node.js toolchain (npm ci, tsc, the harness bundle) and
a loopback "storefront" that serves pages to headless Chromium."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import IN_CI, ROOT, free_port

NEXTJS_KIT = ROOT / "integrations" / "nextjs"
HARNESS = NEXTJS_KIT / ".harness" / "harness.js"


def _unavailable(message: str):
    if IN_CI:
        pytest.fail(f"{message} (required under CI=true)", pytrace=False)
    pytest.skip(message)


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def nextjs_kit() -> Path:
    """integrations/nextjs with its node_modules installed by `npm ci` from the committed lock file
    (again only when the lock file changed). Optional packages are left out: the kit needs no
    native binaries (TypeScript and esbuild-wasm are JavaScript and WebAssembly)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        _unavailable("npm/node not found: install Node.js 20+ to check the Next.js storefront kit")
    lock = NEXTJS_KIT / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = NEXTJS_KIT / "node_modules" / ".installed-from-lock"
    if not stamp.exists() or stamp.read_text() != digest:
        done = run(["npm", "ci", "--omit=optional", "--no-audit", "--no-fund"], NEXTJS_KIT)
        if done.returncode != 0:
            _unavailable(f"npm ci failed in integrations/nextjs:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        stamp.write_text(digest)
    return NEXTJS_KIT


@pytest.fixture(scope="session")
def harness_bundle(nextjs_kit) -> bytes:
    """test/harness.tsx bundled with esbuild: React (development build, so StrictMode runs every
    effect twice), the kit's components, and a stand-in for next/navigation."""
    done = run(
        [
            "node",
            "node_modules/esbuild-wasm/bin/esbuild",
            "test/harness.tsx",
            "--bundle",
            "--format=esm",
            "--alias:next/navigation=./test/next-navigation.ts",
            '--define:process.env.NODE_ENV="development"',
            "--define:process.env.NEXT_PUBLIC_SALEOR_API_URL=undefined",
            f"--outfile={HARNESS.relative_to(nextjs_kit)}",
            "--log-level=warning",
        ],
        nextjs_kit,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return HARNESS.read_bytes()


class Storefront:
    """A loopback web server on its own origin; `pages` maps a path to (content type, body)."""

    def __init__(self):
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self.wsgi, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wsgi(self, environ, start_response):
        request = Request(environ)
        found = self.pages.get(request.path)
        if found is None:
            return Response("not found", status=404)(environ, start_response)
        content_type, body = found
        return Response(body, content_type=content_type)(environ, start_response)

    def page(self, path: str, html: str) -> str:
        self.pages[path] = ("text/html; charset=utf-8", html.encode())
        return self.origin + path

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def storefront():
    server = Storefront()
    yield server
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found: install the Debian package 'chromium' to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
