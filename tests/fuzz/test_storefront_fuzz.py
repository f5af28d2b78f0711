"""What storefronts and friends call: the widget API, the landing page and claim form, the portal.
Hostile input gets a 4xx (or the ordinary page), never a 5xx, never a redirect off the app,
and a refused request writes nothing."""

from __future__ import annotations

import ipaddress
import itertools
import random
import string
from urllib.parse import quote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import (
    FUZZ,
    Form,
    dumps,
    header_text,
    hostile_text,
    json_values,
    unchanged_unless_accepted,
)

_ips = itertools.count(1)


def fresh_ip() -> dict:
    """Each request from its own client address, so the per-IP limits do not end the fuzzing early."""
    return {"REMOTE_ADDR": str(ipaddress.IPv4Address("10.0.0.0") + next(_ips))}


# -- widget API ----------------------------------------------------------------------------------


@FUZZ
@given(
    api_url=st.none() | hostile_text(),
    order_id=st.none() | hostile_text(),
    locale=st.none() | hostile_text(20),
    origin=st.none() | header_text(),
    real_shop=st.booleans(),
    real_order=st.booleans(),
)
def test_widget_state_with_hostile_parameters(fuzz_shop, api_url, order_id, locale, origin, real_shop, real_order):
    params = {
        "saleorApiUrl": fuzz_shop.saleor.api_url if real_shop else api_url,
        "orderId": fuzz_shop.advocate_order_id if real_order else order_id,
        "locale": locale,
    }
    headers = {"Origin": origin} if origin is not None else {}
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.get(
            "/api/widget/state",
            query_string={k: v for k, v in params.items() if v is not None},
            headers=headers,
            environ_base=fresh_ip(),
        )
        responses.append(response)
    assert response.status_code in (200, 304, 400, 429), response.status_code
    assert response.is_json
    body = response.get_json()
    if not (real_shop and real_order):
        assert body == {"show": False}, "unknown shops and orders learn nothing"


@FUZZ
@given(
    body=st.binary(max_size=5000) | json_values.map(dumps),
    channel=st.none() | hostile_text(20),
    origin=st.none() | header_text(),
)
def test_widget_share_with_hostile_bodies(fuzz_shop, body, channel, origin):
    if channel is not None:
        body = dumps(
            {"saleorApiUrl": fuzz_shop.saleor.api_url, "orderId": fuzz_shop.advocate_order_id, "channel": channel}
        )
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post(
            "/api/widget/share", data=body, headers={"Origin": origin} if origin else {}, environ_base=fresh_ip()
        )
        responses.append(response)
    assert response.status_code in (204, 400, 413, 429), response.status_code


def test_guessing_order_ids_is_rate_limited(fuzz_shop):
    """Someone walking order ids from one address is stopped (and learns nothing before that)."""
    client, statuses = fuzz_shop.client, []
    for i in range(200):
        response = client.get(
            "/api/widget/state",
            query_string={"saleorApiUrl": fuzz_shop.saleor.api_url, "orderId": f"T3JkZXI6{i:08d}"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            assert response.get_json() == {"show": False}
    assert 429 in statuses, "no limit on guessing order ids"
    assert statuses.index(429) <= 150


# -- landing page and claim ----------------------------------------------------------------------------

codes = st.one_of(
    hostile_text(60).filter(lambda s: "/" not in s and s not in ("", ".", "..")),
    st.text(string.ascii_uppercase + string.digits + "-", min_size=1, max_size=40),
)


@FUZZ
@given(
    code=codes,
    params=st.dictionaries(
        st.sampled_from(["lang", "utm_source", "next", "url", "redirect", "return_to", "r"]),
        hostile_text(80),
        max_size=4,
    ),
    user_agent=header_text(),
    referer=st.none() | header_text(),
    suffix=st.sampled_from(["", "/qr.svg", "/og.png"]),
)
def test_landing_with_hostile_codes_and_parameters(fuzz_shop, code, params, user_agent, referer, suffix):
    headers = {"User-Agent": user_agent}
    if referer is not None:
        headers["Referer"] = referer
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.get(
            f"/r/{quote(code, safe='')}{suffix}", query_string=params, headers=headers, environ_base=fresh_ip()
        )
        responses.append(response)
    assert response.status_code in (200, 304, 404, 429), response.status_code
    assert_stays_on_the_app(response)


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["lang", "utm_source", "next", "url", "redirect", "return_to", "to"]),
        hostile_text(80),
        min_size=1,
        max_size=4,
    )
)
def test_a_real_landing_page_never_redirects_off_the_app(fuzz_shop, params):
    response = fuzz_shop.client.get(f"/r/{fuzz_shop.advocate_code}", query_string=params, environ_base=fresh_ip())
    assert response.status_code == 200, response.status_code
    assert_stays_on_the_app(response)
    html = response.get_data(as_text=True)
    for value in params.values():
        if value.startswith(("http", "//", "\\\\")) and "127.0.0.1" not in value:
            assert f'href="{value}"' not in html and f"url={value}" not in html.lower()


def assert_stays_on_the_app(response) -> None:
    if 300 <= response.status_code < 400 and response.status_code != 304:
        location = response.headers.get("Location", "")
        target = urlsplit(location)
        assert not target.netloc or target.hostname in ("127.0.0.1", "localhost"), f"open redirect to {location}"
        assert not location.startswith(("//", "\\")), f"open redirect to {location}"
    refresh = response.headers.get("Refresh", "")
    assert "evil" not in refresh and "//" not in refresh, refresh


ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
claim_forms = st.fixed_dictionaries(
    {},
    optional={
        "email": hostile_text(200),
        "consent": st.sampled_from(["yes", "no", ""]) | hostile_text(20),
        "csrf": ascii_text,
        "lang": hostile_text(20),
    },
)


@FUZZ
@given(form=claim_forms, real_code=st.booleans(), code=codes)
def test_claims_with_hostile_forms(fuzz_shop, form, real_code, code):
    target = fuzz_shop.advocate_code if real_code else code
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post(f"/r/{quote(target, safe='')}", data=form, environ_base=fresh_ip())
        responses.append(response)
    assert response.status_code in (200, 201, 400, 403, 404, 429), response.status_code
    assert_stays_on_the_app(response)


def claim_with_a_valid_form(fuzz_shop, email: str):
    client = fuzz_shop.client
    page = Form(
        client.get(f"/r/{fuzz_shop.advocate_code}", environ_base={"REMOTE_ADDR": "10.8.0.1"}).get_data(as_text=True)
    )
    with unchanged_unless_accepted() as responses:
        response = client.post(
            page.action,
            data={"email": email, "consent": "yes", "csrf": page.inputs["csrf"]},
            environ_base={"REMOTE_ADDR": "10.8.0.1"},
        )
        responses.append(response)
    return response


def test_a_valid_form_with_a_hostile_email_writes_nothing(fuzz_shop):
    for email in [
        "not-an-email",
        "a@b",
        "<script>@example.com",
        "x" * 400 + "@example.com",
        "alice@example.com\r\nBcc: x@y",
        "alice@example.com",
    ]:
        response = claim_with_a_valid_form(fuzz_shop, email)
        assert response.status_code in (400, 403), (email, response.status_code)


def test_a_claim_with_a_nul_in_the_email_is_refused(fuzz_shop):
    assert claim_with_a_valid_form(fuzz_shop, "eve\x00@example.com").status_code == 400


def test_non_ascii_form_tokens_are_refused(fuzz_shop):
    for path in (f"/r/{fuzz_shop.advocate_code}", "/portal/link"):
        response = fuzz_shop.client.post(
            path, data={"email": "eve@example.com", "consent": "yes", "csrf": "\u00e9t\u00e9"}, environ_base=fresh_ip()
        )
        assert response.status_code == 400, (path, response.status_code)


def test_guessing_referral_codes_is_rate_limited(fuzz_shop):
    """Walking the code space from one address: the landing page stops answering with 404s."""
    rng = random.Random(5)
    statuses = []
    for _ in range(150):
        guess = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        statuses.append(fuzz_shop.client.get(f"/r/{guess}", environ_base={"REMOTE_ADDR": "10.7.7.7"}).status_code)
    assert 429 in statuses, f"150 wrong codes from one address, answers: {sorted(set(statuses))}"


def test_guessing_referral_codes_by_claiming_is_rate_limited(fuzz_shop):
    rng = random.Random(6)
    statuses = []
    for _ in range(60):
        guess = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        statuses.append(
            fuzz_shop.client.post(
                f"/r/{guess}",
                data={"email": "eve@example.com", "consent": "yes"},
                environ_base={"REMOTE_ADDR": "10.7.7.8"},
            ).status_code
        )
    assert 429 in statuses, f"60 claims on wrong codes from one address, answers: {sorted(set(statuses))}"


def test_claiming_on_a_real_code_is_rate_limited(fuzz_shop):
    statuses = [
        fuzz_shop.client.post(
            f"/r/{fuzz_shop.advocate_code}",
            data={"email": f"eve{i}@example.com"},
            environ_base={"REMOTE_ADDR": "10.7.7.9"},
        ).status_code
        for i in range(30)
    ]
    assert 429 in statuses, sorted(set(statuses))


# -- the advocate portal -------------------------------------------------------------------------------


@FUZZ
@given(
    token=hostile_text(400).filter(lambda s: "/" not in s and s not in ("", ".", "..")),
    lang=st.none() | hostile_text(20),
)
def test_portal_with_hostile_tokens(fuzz_shop, token, lang):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.get(
            f"/portal/{quote(token, safe='')}", query_string={"lang": lang} if lang else {}, environ_base=fresh_ip()
        )
        responses.append(response)
    assert response.status_code in (400, 404, 410), response.status_code


@FUZZ
@given(
    form=st.fixed_dictionaries({}, optional={"email": hostile_text(200), "csrf": ascii_text, "lang": hostile_text(20)})
)
def test_portal_link_requests_with_hostile_forms(fuzz_shop, form):
    with unchanged_unless_accepted() as responses:
        response = fuzz_shop.client.post("/portal/link", data=form, environ_base=fresh_ip())
        responses.append(response)
    assert response.status_code in (200, 400, 429), response.status_code
