"""Hostile input against every endpoint: only 2xx/4xx answers, never a 5xx, and a refused
request changes nothing (every table is counted before and after).

Hypothesis runs `FUZZ_EXAMPLES` examples per property (default 50; `FUZZ_EXAMPLES=1000
pytest tests/fuzz` for a deeper run). Requests go through the app's WSGI interface (Flask's
test client): the same code as over HTTP, without sockets, so a property costs seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import Shop, wait_until

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("FUZZ_RANDOM", "") == "",  # reproducible in CI unless asked otherwise
)

XSS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "'><svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
    "</title><script>window.__xss=1</script>",
    '{{7*7}}<iframe src="javascript:window.__xss=1">',
    "\u202e<b onmouseover=window.__xss=1>x</b>",
]
HOSTILE_TEXT = XSS + [
    "",
    " ",
    "\x00",
    "\x01\x02\x1b[31m",
    "A" * 5000,
    "'; DROP TABLE referrals; --",
    "' OR '1'='1",
    "%s%s%n%x",
    "{0.__class__.__mro__}",
    "${jndi:ldap://127.0.0.1/x}",
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2f",
    "null",
    "true",
    "-1",
    "1e309",
    "NaN",
    "😀" * 50,
    "\ud7ff\ue000",
    "Ŝàľéőř",
    "ＡＬＩＣＥ",
    "alice\r\nSet-Cookie: x=1",
    "http://127.0.0.1:1/",
    "//evil.example/",
    "https://evil.example/",
    "\\\\evil.example\\x",
]


def hostile_text(max_size: int = 300, *, nul: bool = False):
    """Hostile and random text. NUL is left out unless asked for: PostgreSQL refuses it in text
    columns, which gets its own tests (see the FINDING markers)."""
    text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=max_size))
    return text if nul else text.filter(lambda s: "\x00" not in s)


def known_defect(finding: str):
    """A defect this suite found and reported (docs/RELIABILITY.md, "Findings"); remove once fixed."""
    return pytest.mark.xfail(strict=False, reason=f"FINDING {finding}")


def header_text(max_size: int = 200):
    """What an HTTP client can put in a header: latin-1, no CR/LF."""
    return st.one_of(
        st.sampled_from(
            [s for s in HOSTILE_TEXT if "\r" not in s and "\n" not in s and s.isascii() and "\x00" not in s]
        ),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=max_size),
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text(80),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(hostile_text(20), children, max_size=5),
    max_leaves=20,
)


# -- what the database holds ------------------------------------------------------------------------


def table_counts() -> dict[str, int]:
    from plugin import db
    from plugin.models import Base

    names = [t.name for t in Base.metadata.sorted_tables]
    query = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{n}")' for n in names)
    with db.engine().connect() as conn:
        return dict(zip(names, conn.execute(text(query)).one()))


@contextlib.contextmanager
def unchanged_unless_accepted():
    """Yields a list to append the response to; a refused (4xx) response must leave every table as it was."""
    before = table_counts()
    responses: list = []
    yield responses
    for response in responses:
        assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    if responses and all(400 <= r.status_code < 500 for r in responses):
        after = table_counts()
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not changed, f"a refused request changed {changed}"


# -- output a person sees must be inert ---------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") and "__xss" in value:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if tag in ("iframe", "svg", "img") and "__xss" in value:
                self.problems.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and "__xss" in data:
            self.problems.append(f"<script>{data[:80]}")


def assert_inert(html: str) -> None:
    """No element, attribute or script made from an injected payload."""
    parser = _Elements()
    parser.feed(html)
    assert not parser.problems, parser.problems
    for payload in XSS:
        if "<" in payload or '"' in payload:
            assert payload not in html, f"payload rendered unescaped: {payload}"


class Form(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self, html: str):
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action") or ""
        elif tag == "input" and attrs.get("name"):
            self.inputs.setdefault(attrs["name"], attrs.get("value") or "")


# -- a shop with one advocate --------------------------------------------------------------------------


class FuzzShop(Shop):
    advocate_code: str
    advocate_order_id: str

    @property
    def client(self):
        return self.flask_app.test_client()

    def tenant_counts(self) -> dict[str, int]:
        return table_counts()


def make_advocate(saleor, email: str, first_name: str = "Alice") -> tuple[str, str]:
    from tests.flows import advocate_code

    order = saleor.create_order(email, first_name=first_name, paid=True, total="50.00")
    saleor.checkout_complete(order)
    code = wait_until(lambda: advocate_code(email), timeout=15)
    assert code, f"{email} did not become an advocate"
    return code, order["id"]


@pytest.fixture
def fuzz_shop(install_shop):
    """The installed shop, with one advocate."""
    installed = install_shop()
    shop = FuzzShop(installed.saleor, installed.server, installed.app, installed.smtp)
    shop.advocate_code, shop.advocate_order_id = make_advocate(shop.saleor, "alice@example.com")
    return shop


def signed_headers(saleor, body: bytes, event: str = "order_fully_paid") -> dict[str, str]:
    from tests.saleor_emulator.signing import sign_detached_jws

    signature = sign_detached_jws(body, saleor.key)
    return {
        "Content-Type": "application/json",
        "Saleor-Event": event,
        "Saleor-Domain": saleor.domain,
        "Saleor-Api-Url": saleor.api_url,
        "Saleor-Signature": signature,
    }


def dumps(value) -> bytes:
    return json.dumps(value).encode()
