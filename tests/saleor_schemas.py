"""Where the tests find Saleor's GraphQL schema files, which are never stored in this repository.

For a version, the first of these that exists is used, and its sha256 must be the pinned one:

1. env ``SALEOR_SCHEMA``: a file (only for 3.23.28, the version the app targets);
2. env ``SALEOR_SCHEMAS_DIR``: a folder of ``<version>.graphql`` files;
3. the team's checkout next to the repository: ``../shared/saleor/schema.graphql`` (3.23.28) and
   ``../shared/saleor/schemas/<version>.graphql``;
4. the cache ``.cache/saleor-schemas/<version>.graphql`` (git-ignored; env ``SALEOR_SCHEMA_CACHE_DIR``
   moves it), which ``make schemas`` fills with the files of Saleor's release tags
   (``python tests/saleor_schemas.py fetch``; ``make test`` runs it first).

Only that make step downloads anything; a test never does. A missing or mismatching schema raises
``SchemaUnavailable`` with a message saying what to do; ``tests/conftest.py`` turns it into a skip,
or, under ``CI=true``, into a failure.

This file runs as a script too (the make step), so it imports nothing outside the standard library.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

TARGET_VERSION = "3.23.28"

# sha256 of saleor/graphql/schema.graphql at each release tag of saleor/saleor.
PINNED = {
    "3.23.28": "36a111ba8f822b25a62fa82df0d7e4477e1aebc611d70adb83f5006a5cf76624",
    "3.22.67": "b4070edbbdc5784808fe26f4b93a4e112350a74e82e0e8e642140aacb1ee89b3",
    "3.21.69": "fea93985c393ce57eeddffb1c99040726d794b9044d19d40bc29f088969aeb67",
    "3.20.119": "3068ac899bf493e1db568818872db35a88fa9e98ed17e615f90a699112144ba4",
}

ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = ROOT.parent / "shared" / "saleor"
DEFAULT_CACHE_DIR = ROOT / ".cache" / "saleor-schemas"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/saleor/saleor"
FETCH_TIMEOUT = 60


class SchemaUnavailable(RuntimeError):
    """The schema file of a version cannot be used; the message says what to do."""


class SchemaMissing(SchemaUnavailable):
    pass


class SchemaMismatch(SchemaUnavailable):
    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


def cache_dir() -> Path:
    return Path(os.environ.get("SALEOR_SCHEMA_CACHE_DIR") or DEFAULT_CACHE_DIR)


def source_url(version: str, base_url: str = DEFAULT_BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/{version}/saleor/graphql/schema.graphql"


def _pinned(version: str) -> str:
    try:
        return PINNED[version]
    except KeyError:
        raise ValueError(f"no pinned Saleor schema for {version!r}; known: {', '.join(PINNED)}") from None


def candidates(version: str) -> list[tuple[str, Path]]:
    """(where it came from, path) in lookup order; the paths need not exist."""
    _pinned(version)
    found: list[tuple[str, Path]] = []
    if version == TARGET_VERSION and os.environ.get("SALEOR_SCHEMA"):
        found.append(("SALEOR_SCHEMA", Path(os.environ["SALEOR_SCHEMA"])))
    if os.environ.get("SALEOR_SCHEMAS_DIR"):
        found.append(("SALEOR_SCHEMAS_DIR", Path(os.environ["SALEOR_SCHEMAS_DIR"]) / f"{version}.graphql"))
    if version == TARGET_VERSION:
        found.append(("../shared", SHARED_DIR / "schema.graphql"))
    found.append(("../shared", SHARED_DIR / "schemas" / f"{version}.graphql"))
    found.append(("cache", cache_dir() / f"{version}.graphql"))
    return found


_digests: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def schema_file(version: str = TARGET_VERSION) -> Path:
    """The verified schema file of a Saleor release, or SchemaUnavailable saying what to do."""
    expected = _pinned(version)
    for source, path in candidates(version):
        if source == "SALEOR_SCHEMA" and not path.is_file():
            raise SchemaMissing(
                f"SALEOR_SCHEMA={path} does not exist (it should be Saleor {version}'s saleor/graphql/schema.graphql)"
            )
        if not path.is_file():
            continue
        actual = sha256_of(path)
        if actual != expected:
            hint = (
                "run `make schemas` to download it again"
                if source == "cache"
                else f"point {source} at the file of Saleor's tag {version}"
            )
            raise SchemaMismatch(
                f"{path} (from {source}) is not Saleor {version}'s schema: its sha256 is {actual}, "
                f"the pinned one is {expected}; {hint}",
                path,
            )
        return path
    raise SchemaMissing(missing_message(version))


def placement_hint(version: str) -> str:
    where = "SALEOR_SCHEMA=<file> or " if version == TARGET_VERSION else ""
    return (
        f"set {where}SALEOR_SCHEMAS_DIR=<a folder holding {version}.graphql>, or check out the team's "
        f"`shared` folder next to the repository"
    )


def missing_message(version: str) -> str:
    return (
        f"Saleor {version}'s GraphQL schema was not found. Run `make schemas` to download it "
        f"({source_url(version)}, checked against its pinned sha256) into {cache_dir()}, or "
        f"{placement_hint(version)}."
    )


def download(version: str, *, base_url: str = DEFAULT_BASE_URL, into: Path | None = None) -> Path:
    """Download one pinned schema into the cache; kept only if its sha256 is the pinned one."""
    expected = _pinned(version)
    into = into or cache_dir()
    url = source_url(version, base_url)
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{version}.graphql"
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=into, prefix=f".{version}.", suffix=".part", delete=False) as tmp:
        try:
            try:
                with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        digest.update(chunk)
                        tmp.write(chunk)
            except urllib.error.HTTPError as exc:
                raise SchemaMissing(
                    f"could not download Saleor {version}'s schema from {url}: HTTP {exc.code} {exc.reason}"
                ) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise SchemaMissing(f"could not download Saleor {version}'s schema from {url}: {reason}") from None
            tmp.close()
            if digest.hexdigest() != expected:
                raise SchemaMismatch(
                    f"the file downloaded from {url} has sha256 {digest.hexdigest()}, "
                    f"not the pinned {expected}: not kept",
                    target,
                )
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)
    return target


def ensure(versions: list[str], *, base_url: str = DEFAULT_BASE_URL) -> list[str]:
    """Make every version's schema available (downloading what is missing or a stale cache copy);
    returns the problems left, as messages."""
    problems = []
    for version in versions:
        try:
            path = schema_file(version)
            print(f"Saleor {version} schema: {path}")
            continue
        except SchemaMismatch as exc:
            if exc.path.parent != cache_dir():
                problems.append(str(exc))
                continue
        except SchemaUnavailable:
            pass
        try:
            path = download(version, base_url=base_url)
            print(f"Saleor {version} schema: downloaded to {path}")
        except SchemaUnavailable as exc:
            problems.append(f"{exc}\n  To use a copy instead, {placement_hint(version)}.")
    return problems


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "fetch" or any(v not in PINNED for v in argv[1:]):
        print(f"usage: {sys.argv[0]} fetch [{' '.join(PINNED)}]", file=sys.stderr)
        return 2
    # Another base URL is only for the tests of this step (a loopback server) or a mirror.
    base_url = os.environ.get("SALEOR_SCHEMA_BASE_URL") or DEFAULT_BASE_URL
    problems = ensure(argv[1:] or list(PINNED), base_url=base_url)
    if not problems:
        return 0
    for problem in problems:
        print(f"Saleor schema: {problem}", file=sys.stderr)
    if os.environ.get("CI", "").lower() == "true":
        print("Saleor schema: required under CI=true; failing.", file=sys.stderr)
        return 1
    print("Saleor schema: the tests that need it will be skipped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
