"""tests/saleor_schemas.py: where the tests find Saleor's schema files, and the `make schemas` step
that downloads a pinned file (here from a loopback server) and keeps it only if its sha256 matches."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import saleor_schemas
from tests.conftest import free_port
from tests.saleor_schemas import SchemaMismatch, SchemaMissing, schema_file

FAKE_SDL = b"type Query { shop: String }\n"
SCHEMA_ENV = (
    "SALEOR_SCHEMA",
    "SALEOR_SCHEMAS_DIR",
    "SALEOR_SCHEMA_CACHE_DIR",
    "SALEOR_SCHEMA_BASE_URL",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


class SchemaServer:
    """Serves <root>/<version>/saleor/graphql/schema.graphql like raw.githubusercontent.com/saleor/saleor."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, version: str, content: bytes) -> None:
        path = self.root / version / "saleor" / "graphql" / "schema.graphql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server(tmp_path):
    srv = SchemaServer(tmp_path / "www")
    yield srv
    srv.stop()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No env override, no ../shared, an empty cache; the fake SDL is 3.23.28's pinned file."""
    for name in SCHEMA_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(saleor_schemas, "SHARED_DIR", tmp_path / "shared" / "saleor")
    monkeypatch.setenv("SALEOR_SCHEMA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(saleor_schemas.PINNED, "3.23.28", hashlib.sha256(FAKE_SDL).hexdigest())
    return tmp_path


def put(path: Path, content: bytes = FAKE_SDL) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# ------------------------------------------------------------------------------- lookup


def test_lookup_order_is_env_file_then_env_folder_then_shared_then_cache(isolated, monkeypatch):
    env_file = put(isolated / "env" / "schema.graphql")
    env_dir_file = put(isolated / "envdir" / "3.23.28.graphql")
    shared = put(isolated / "shared" / "saleor" / "schema.graphql")
    cache = put(isolated / "cache" / "3.23.28.graphql")
    monkeypatch.setenv("SALEOR_SCHEMA", str(env_file))
    monkeypatch.setenv("SALEOR_SCHEMAS_DIR", str(isolated / "envdir"))

    assert schema_file("3.23.28") == env_file
    monkeypatch.delenv("SALEOR_SCHEMA")
    assert schema_file("3.23.28") == env_dir_file
    monkeypatch.delenv("SALEOR_SCHEMAS_DIR")
    assert schema_file("3.23.28") == shared
    shared.unlink()
    assert schema_file("3.23.28") == cache


def test_older_versions_come_from_the_schemas_folder(isolated, monkeypatch):
    old = b"type Query { old: String }\n"
    monkeypatch.setitem(saleor_schemas.PINNED, "3.22.67", hashlib.sha256(old).hexdigest())
    put(isolated / "shared" / "saleor" / "schema.graphql")  # 3.23.28's file is not 3.22's
    shared_old = put(isolated / "shared" / "saleor" / "schemas" / "3.22.67.graphql", old)
    assert schema_file("3.22.67") == shared_old
    monkeypatch.setenv("SALEOR_SCHEMA", str(isolated / "shared" / "saleor" / "schema.graphql"))
    assert schema_file("3.22.67") == shared_old  # SALEOR_SCHEMA names the 3.23.28 file only
    env_old = put(isolated / "envdir" / "3.22.67.graphql", old)
    monkeypatch.setenv("SALEOR_SCHEMAS_DIR", str(isolated / "envdir"))
    assert schema_file("3.22.67") == env_old


def test_a_file_with_another_sha256_is_refused_with_both_hashes(isolated, monkeypatch):
    content = b"type Query { other: Int }\n"
    other = put(isolated / "other.graphql", content)
    monkeypatch.setenv("SALEOR_SCHEMA", str(other))
    with pytest.raises(SchemaMismatch) as caught:
        schema_file("3.23.28")
    assert str(caught.value) == (
        f"{other} (from SALEOR_SCHEMA) is not Saleor 3.23.28's schema: its sha256 is "
        f"{hashlib.sha256(content).hexdigest()}, the pinned one is "
        f"{hashlib.sha256(FAKE_SDL).hexdigest()}; point SALEOR_SCHEMA at the file of Saleor's tag 3.23.28"
    )


def test_a_missing_env_file_is_an_error_not_a_fallback(isolated, monkeypatch):
    put(isolated / "shared" / "saleor" / "schema.graphql")
    monkeypatch.setenv("SALEOR_SCHEMA", str(isolated / "nowhere.graphql"))
    with pytest.raises(SchemaMissing, match="SALEOR_SCHEMA=.*nowhere.graphql does not exist"):
        schema_file("3.23.28")


def test_nothing_found_says_how_to_get_it(isolated):
    with pytest.raises(SchemaMissing) as caught:
        schema_file("3.23.28")
    assert str(caught.value) == (
        "Saleor 3.23.28's GraphQL schema was not found. Run `make schemas` to download it "
        "(https://raw.githubusercontent.com/saleor/saleor/3.23.28/saleor/graphql/schema.graphql, checked "
        f"against its pinned sha256) into {isolated / 'cache'}, or set SALEOR_SCHEMA=<file> or "
        "SALEOR_SCHEMAS_DIR=<a folder holding 3.23.28.graphql>, or check out the team's `shared` folder "
        "next to the repository."
    )


def test_pinned_versions_are_the_four_release_tags():
    assert saleor_schemas.PINNED == {
        "3.23.28": "36a111ba8f822b25a62fa82df0d7e4477e1aebc611d70adb83f5006a5cf76624",
        "3.22.67": "b4070edbbdc5784808fe26f4b93a4e112350a74e82e0e8e642140aacb1ee89b3",
        "3.21.69": "fea93985c393ce57eeddffb1c99040726d794b9044d19d40bc29f088969aeb67",
        "3.20.119": "3068ac899bf493e1db568818872db35a88fa9e98ed17e615f90a699112144ba4",
    }


# ------------------------------------------------------------------------------- download


def test_download_keeps_the_pinned_file_in_the_cache(isolated, server):
    server.publish("3.23.28", FAKE_SDL)
    path = saleor_schemas.download("3.23.28", base_url=server.url)
    assert path == isolated / "cache" / "3.23.28.graphql"
    assert path.read_bytes() == FAKE_SDL
    assert server.requests == ["/3.23.28/saleor/graphql/schema.graphql"]
    assert schema_file("3.23.28") == path


def test_download_with_another_sha256_keeps_nothing(isolated, server):
    server.publish("3.23.28", b"<html>rate limited</html>")
    with pytest.raises(SchemaMismatch, match=r"has sha256 [0-9a-f]{64}, not the pinned [0-9a-f]{64}: not kept"):
        saleor_schemas.download("3.23.28", base_url=server.url)
    assert os.listdir(isolated / "cache") == []
    with pytest.raises(SchemaMissing):
        schema_file("3.23.28")


def test_download_reports_an_http_error(isolated, server):
    with pytest.raises(SchemaMissing) as caught:
        saleor_schemas.download("3.23.28", base_url=server.url)
    assert str(caught.value) == (
        f"could not download Saleor 3.23.28's schema from {server.url}/3.23.28/saleor/"
        f"graphql/schema.graphql: HTTP 404 File not found"
    )
    assert os.listdir(isolated / "cache") == []


def test_ensure_replaces_a_stale_cache_copy(isolated, server):
    stale = put(isolated / "cache" / "3.23.28.graphql", b"truncated")
    server.publish("3.23.28", FAKE_SDL)
    assert saleor_schemas.ensure(["3.23.28"], base_url=server.url) == []
    assert stale.read_bytes() == FAKE_SDL
    assert saleor_schemas.ensure(["3.23.28"], base_url=server.url) == []
    assert len(server.requests) == 1  # found in the cache the second time


# ------------------------------------------------------------------------------- the make step


@pytest.fixture
def plain_clone(tmp_path):
    """The script alone in a folder laid out like a clone with no ../shared beside it."""
    repo = tmp_path / "clone" / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(saleor_schemas.__file__, repo / "tests" / "saleor_schemas.py")
    return repo


def run_fetch(repo: Path, *versions: str, base_url: str, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SCHEMA_ENV and k != "CI"}
    env["SALEOR_SCHEMA_BASE_URL"] = base_url
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "tests/saleor_schemas.py", "fetch", *versions],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_step_downloads_the_real_pinned_schema_and_then_reuses_it(plain_clone, server):
    server.publish("3.23.28", schema_file("3.23.28").read_bytes())
    done = run_fetch(plain_clone, "3.23.28", base_url=server.url, ci=True)
    cached = plain_clone / ".cache" / "saleor-schemas" / "3.23.28.graphql"
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"Saleor 3.23.28 schema: downloaded to {cached}\n"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == saleor_schemas.PINNED["3.23.28"]

    again = run_fetch(plain_clone, "3.23.28", base_url=server.url, ci=True)
    assert (again.returncode, again.stdout) == (0, f"Saleor 3.23.28 schema: {cached}\n")
    assert len(server.requests) == 1


def test_make_step_fails_under_ci_on_a_mismatching_download(plain_clone, server):
    server.publish("3.22.67", b"type Query { tampered: String }\n")
    done = run_fetch(plain_clone, "3.22.67", base_url=server.url, ci=True)
    assert done.returncode == 1
    assert f"the file downloaded from {server.url}/3.22.67/saleor/graphql/schema.graphql has sha256 " in done.stderr
    assert done.stderr.endswith("Saleor schema: required under CI=true; failing.\n")
    assert os.listdir(plain_clone / ".cache" / "saleor-schemas") == []


def test_make_step_without_network_fails_under_ci_and_warns_otherwise(plain_clone):
    unreachable = f"http://127.0.0.1:{free_port()}"
    done = run_fetch(plain_clone, "3.23.28", base_url=unreachable, ci=True)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "Saleor schema: could not download Saleor 3.23.28's schema from "
        f"{unreachable}/3.23.28/saleor/graphql/schema.graphql: "
    )
    assert "To use a copy instead, set SALEOR_SCHEMA=<file> or SALEOR_SCHEMAS_DIR=" in done.stderr

    local = run_fetch(plain_clone, "3.23.28", base_url=unreachable, ci=False)
    assert local.returncode == 0
    assert local.stderr.endswith("Saleor schema: the tests that need it will be skipped.\n")
