"""Unsubscribing: the link in every non-transactional e-mail (a page, then a button) and the RFC 8058
one-click POST a mail client sends stop the invitation, the reminders and the updates to that address
at that shop — and nothing else: the same address at another shop, the reward e-mails, and every
other address still get theirs. Headers and bodies are read from the real SMTP sink."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
import time_machine
from sqlalchemy import select

from plugin.db import session_scope
from plugin.mail.models import EmailSuppression, OutboundEmail
from plugin.program.models import ProgramSettings
from plugin.sweeper import sweep
from plugin.tenants.models import Tenant
from tests.conftest import wait_until
from tests.flows import friend_order, paid_advocate, referral_for
from tests.messages.helpers import claim, claim_row, html, outbox, plain, sent
from tests.ui.test_landing import parse


@pytest.fixture
def other_shop(shop):
    """A second Saleor with the app installed on the same deployment."""
    from tests.saleor_emulator import SaleorEmulator

    emulator = SaleorEmulator().start()
    assert emulator.install(f"{shop.url}/api/manifest").response.status_code == 200
    yield emulator
    emulator.stop()


def _program(shop, **overrides) -> None:
    with session_scope() as session:
        row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == shop.tenant_id()))
        if row is None:
            row = ProgramSettings(tenant_id=shop.tenant_id(), data={})
            session.add(row)
        row.data = {**(row.data or {}), **overrides}
        session.get(Tenant, shop.tenant_id()).shop_name = "Acme"


def _unsubscribe_url(message) -> str:
    header = message["List-Unsubscribe"]
    assert header and header.startswith("<") and header.endswith(">"), header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return str(header)[1:-1]


def _suppressions() -> list[tuple[int, str, str]]:
    with session_scope() as session:
        return [(s.tenant_id, s.email, s.source) for s in session.scalars(select(EmailSuppression))]


def test_link_page_then_button_stops_marketing_mail_to_that_address_at_that_shop_only(shop, other_shop, smtp):
    _program(shop, hold_days=14)
    _order, alice = paid_advocate(shop, "alice@example.com")
    [invite] = wait_until(lambda: sent(smtp, "invite", "alice@example.com"))
    url = _unsubscribe_url(invite)
    assert urlsplit(url).path.startswith("/unsubscribe/") and "alice" not in url
    body_link = re.search(r"(https?://\S+/unsubscribe/\S+)", plain(invite)).group(1)
    assert urlsplit(body_link).path.startswith("/unsubscribe/") and urlsplit(body_link).query == "lang=en"
    assert 'class="unsubscribe"' in html(invite)

    # A GET (what a mail scanner or a link preview does) only shows the page.
    page = requests.get(body_link, timeout=10)
    assert page.status_code == 200 and "Acme" in page.text and "a***@e***.com" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _suppressions() == []
    [action] = parse(page.text).forms
    done = requests.post(shop.url + action, timeout=10)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert _suppressions() == [(shop.tenant_id(), "alice@example.com", "link")]

    # Bob orders through Alice's link and is held for the return window: Alice's "on hold" update
    # is not sent; Bob, another address, still gets his own invitation.
    order = friend_order(shop.saleor, "bob@example.com", code=alice.code)
    assert referral_for(order["id"]).state == "held"
    [held] = outbox("advocate_update")
    assert held.to_email == "alice@example.com" and held.status == OutboundEmail.SUPPRESSED
    assert sent(smtp, "advocate_update") == []
    assert len(sent(smtp, "invite", "bob@example.com")) == 1

    # The rewards are transactional: Alice's still reaches her, saying why she gets it.
    with time_machine.travel(referral_for(order["id"]).hold_until + timedelta(minutes=5), tick=True):
        sweep()
    [reward] = wait_until(lambda: sent(smtp, "referrer_reward", "alice@example.com"))
    assert "because a friend you invited to Acme placed an order" in plain(reward)
    assert reward["List-Unsubscribe"] is None

    # The same address at another shop is another list.
    other_shop.checkout_complete(other_shop.create_order("alice@example.com", first_name="Alice", paid=True))
    invites = wait_until(lambda: [m for m in sent(smtp, "invite", "alice@example.com") if m is not invite])
    assert len(invites) == 1 and _unsubscribe_url(invites[0]) != url


def test_one_click_post_from_a_mail_client_stops_reminders_and_is_idempotent(shop, smtp):
    _order, alice = paid_advocate(shop, "alice@example.com")
    _order, carl = paid_advocate(shop, "carl@example.com", first_name="Carl")
    claim(shop, alice.code, "Rita+deals@Example.com", remind=True, lang="lv")
    claim(shop, alice.code, "nora@example.com", remind=True)
    [code_mail] = sent(smtp, "friend_offer", "Rita+deals@example.com")
    assert code_mail["List-Unsubscribe"] is None, "the code she asked for is transactional"
    assert "jo pieprasījāt šo kodu" in plain(code_mail)
    first_expiry = claim_row("nora@example.com")[1].expires_at
    with time_machine.travel(first_expiry - timedelta(days=5), tick=True):
        claim(shop, carl.code, "rita@example.com", remind=True)  # a second code, from Carl, later

    with time_machine.travel(first_expiry - timedelta(days=2), tick=True):
        sweep()
    [reminder] = sent(smtp, "friend_reminder", "Rita+deals@example.com")
    assert "Atteikties no šiem e-pastiem" in plain(reminder)
    url = _unsubscribe_url(reminder)
    for _ in range(2):  # as a mail client sends it: no cookie, no form token, just this body
        response = requests.post(
            url,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 200
    assert _suppressions() == [(shop.tenant_id(), "rita@example.com", "one_click")]

    with time_machine.travel(first_expiry + timedelta(days=7), tick=True):
        sweep()  # Carl's code (14 days from 5 days before) is 2 days from expiry: due, and suppressed
    assert sent(smtp, "friend_reminder", "rita@example.com") == []
    [suppressed] = [e for e in outbox("friend_reminder") if e.to_email == "rita@example.com"]
    assert suppressed.status == OutboundEmail.SUPPRESSED
    assert len(sent(smtp, "friend_reminder", "nora@example.com")) == 1, "other addresses are unaffected"


@pytest.mark.parametrize("token", ["junk", "a" * 2000, "gAAAAA" + "x" * 100, "%00%0d%0a", "%E2%80%A8", "é" * 10])
def test_junk_tokens_get_a_clear_404_never_a_500(shop, token):
    for method in ("get", "post"):
        response = requests.request(method, f"{shop.url}/unsubscribe/{token}", timeout=10, allow_redirects=False)
        assert response.status_code == 404, (method, token, response.status_code)
        assert "not valid" in response.text
    assert _suppressions() == []


def test_a_token_of_one_shop_cannot_be_edited_into_another_address(shop):
    from plugin import links

    with shop.flask_app.app_context():
        url = links.unsubscribe_url(shop.tenant_id(), "alice@example.com")
    token = url.rsplit("/", 1)[1]
    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert requests.post(f"{shop.url}/unsubscribe/{tampered}", timeout=10).status_code == 404
    assert _suppressions() == []


def test_the_unsubscribe_endpoint_is_rate_limited_per_client_address(shop):
    from plugin.ui import views

    statuses = [
        requests.post(f"{shop.url}/unsubscribe/guess{i}", timeout=10).status_code
        for i in range(views.UNSUBSCRIBE_LIMIT + 1)
    ]
    assert statuses == [404] * views.UNSUBSCRIBE_LIMIT + [429]
