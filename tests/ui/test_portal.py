"""The advocate portal /portal/<token>: their own link, friends and rewards, and nothing of anyone else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests
import time_machine
from sqlalchemy import select

from tests.conftest import wait_until
from tests.flows import paid_advocate
from tests.ui.test_landing import open_landing, shown_code, submit_claim


def refer_friend(shop, advocate, friend_email: str, first_name: str) -> str:
    """The friend claims the advocate's offer and pays an order with it; returns the advocate's reward code."""
    from plugin.coupons.models import Coupon
    from plugin.db import session_scope

    friend_code = shown_code(submit_claim(requests.Session(), shop, advocate.code, friend_email).text)
    assert friend_code, "the friend did not get a code"
    order = shop.saleor.create_order(friend_email, first_name=first_name, voucher_code=friend_code)
    shop.saleor.pay(order)

    def reward():
        with session_scope() as session:
            return session.scalar(
                select(Coupon.code).where(
                    Coupon.advocate_id == advocate.id,
                    Coupon.purpose == Coupon.REFERRER_REWARD,
                    Coupon.state == Coupon.ISSUED,
                )
            )

    code = wait_until(reward)
    assert code, "the advocate's reward was not issued"
    return code


def portal_url(shop, advocate) -> str:
    from plugin import links

    with shop.flask_app.app_context():
        return links.portal_url(shop.tenant_id(), advocate.id)


def test_portal_shows_the_advocates_own_rewards_and_nothing_of_others(shop):
    _o, alice = paid_advocate(shop, "alice@example.com", "Alice")
    _o, carol = paid_advocate(shop, "carol@example.com", "Carol")
    alice_reward = refer_friend(shop, alice, "bob.builder@example.com", "Bob")
    carol_reward = refer_friend(shop, carol, "dave.doe@example.org", "Dave")
    open_landing(requests.Session(), shop, alice.code)

    page = requests.get(portal_url(shop, alice), timeout=10)
    assert page.status_code == 200
    html = page.text
    assert f"{shop.server.url}/r/{alice.code}" in html and f"/r/{alice.code}/qr.svg" in html
    rewards = re.findall(
        r'<tr class="reward" data-status="(\w+)"><td>([^<]+)</td><td><span class="code-inline">([^<]+)</span>', html
    )
    assert rewards == [("issued", "$10", alice_reward)]
    assert '<div class="stat-joined"><strong>1</strong> friend ordered</div>' in html
    assert '<div class="stat-claims"><strong>1</strong> friend claimed a code</div>' in html
    assert "b***@e***.com" in html
    assert "bob.builder" not in html and "Bob" not in html
    for other in (carol_reward, carol.code, "d***@e***.org", "carol@example.com", "Carol"):
        assert other not in html, other
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page.headers["Cache-Control"]


def test_used_and_revoked_rewards_show_their_status(shop):
    from plugin.coupons.models import Coupon
    from plugin.db import session_scope

    _o, alice = paid_advocate(shop)
    code = refer_friend(shop, alice, "bob@example.com", "Bob")
    with session_scope() as session:
        coupon = session.scalar(select(Coupon).where(Coupon.code == code))
        coupon.state = Coupon.USED
        session.add(
            Coupon(
                tenant_id=coupon.tenant_id,
                purpose=Coupon.REFERRER_REWARD,
                advocate_id=alice.id,
                recipient_email="alice@example.com",
                code="THANKS-REVOKED01",
                channel_slug="default-channel",
                saleor_channel_id="x",
                currency="USD",
                value_type="FIXED",
                value=10,
                state=Coupon.REVOKED,
            )
        )
    html = requests.get(portal_url(shop, alice), timeout=10).text
    statuses = re.findall(r'<tr class="reward" data-status="(\w+)">', html)
    assert sorted(statuses) == ["revoked", "used"]
    assert code in html and "THANKS-REVOKED01" not in html  # a withdrawn code is not worth showing
    assert "Withdrawn" in html and "Used" in html


def test_portal_speaks_the_advocates_language(shop):
    _o, olga = paid_advocate(shop, "olga@example.com", "Olga", language="RU")
    html = requests.get(portal_url(shop, olga), timeout=10).text
    assert "Здравствуйте, Olga!" in html
    assert '<div class="stat-joined"><strong>0</strong> друзей сделали заказ</div>' in html
    assert 'lang="ru"' in html
    assert "Cześć, Olga!" in requests.get(portal_url(shop, olga), params={"lang": "pl"}, timeout=10).text


def test_expired_or_forged_links_offer_a_new_one_by_email(shop):
    _o, alice = paid_advocate(shop, "alice@example.com", "Alice")
    with time_machine.travel(datetime.now(UTC) - timedelta(days=31)):
        expired = portal_url(shop, alice)
    forged = portal_url(shop, alice)[:-3] + "AAA"
    browser = requests.Session()
    for url in (expired, forged, shop.server.url + "/portal/" + "x" * 5000):
        page = browser.get(url, timeout=10)
        assert page.status_code == 410
        assert "This link has expired" in page.text and 'name="email"' in page.text
        assert "Alice" not in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    before = len(shop.smtp.messages)

    unknown = browser.post(shop.server.url + "/portal/link", data={"email": "nobody@example.com", "csrf": csrf})
    known = browser.post(shop.server.url + "/portal/link", data={"email": "Alice@Example.com", "csrf": csrf})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text == known.text and "a new link is on its way" in known.text

    messages = shop.smtp.wait_for(before + 1)
    new = [m for m in messages[before:] if m["To"] == "alice@example.com"]
    assert len(new) == 1 and len(messages) == before + 1
    link = re.search(r"(http://127\.0\.0\.1:\d+/portal/[\w.-]+)", new[0].get_body(("plain",)).get_content()).group(1)
    assert "Hi Alice!" in requests.get(link, timeout=10).text


def test_new_link_requests_are_rate_limited_and_need_the_forms_token(shop):
    from plugin.ui import views

    paid_advocate(shop, "alice@example.com", "Alice")
    browser = requests.Session()
    page = browser.get(shop.server.url + "/portal/nope", timeout=10)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    without_token = browser.post(shop.server.url + "/portal/link", data={"email": "alice@example.com"})
    assert without_token.status_code == 400  # counts as an attempt too
    statuses = [
        browser.post(shop.server.url + "/portal/link", data={"email": f"x{i}@example.com", "csrf": csrf}).status_code
        for i in range(views.LINK_LIMIT - 1)
    ]
    assert statuses == [200] * (views.LINK_LIMIT - 1)
    limited = browser.post(shop.server.url + "/portal/link", data={"email": "alice@example.com", "csrf": csrf})
    assert limited.status_code == 429
