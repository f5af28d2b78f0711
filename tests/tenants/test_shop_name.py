"""The shop's real name (Saleor's `shop.name`) is what shoppers read: in the invitation e-mail (subject,
body, sender), the widget, the landing page and its preview card. It is read at install, again once a
day, and when the merchant opens the Dashboard page; the API host appears nowhere a shopper reads."""

from __future__ import annotations

import io
from datetime import timedelta
from email.headerregistry import Address

import pytest
import requests
import time_machine
from PIL import Image

from plugin.db import session_scope, utcnow
from plugin.sweeper import sweep
from plugin.tenants import service
from plugin.tenants.models import Tenant
from tests.admin.helpers import auth_headers
from tests.flows import paid_advocate
from tests.ui.test_landing import open_landing


@pytest.fixture
def acme(saleor, install_shop):
    """A shop that Saleor calls "Acme Shoes", installed; the test runs inside the app's context."""
    saleor.set_shop_name("Acme Shoes")
    installed = install_shop()
    with installed.flask_app.app_context():
        yield installed


def _stored_name(shop) -> str | None:
    with session_scope() as session:
        return session.get(Tenant, shop.tenant_id()).shop_name


def _shop_name_reads(saleor) -> int:
    return sum(1 for r in saleor.requests if r.operation == "ShopName")


def _texts(message) -> tuple[str, str, str]:
    return (
        str(message["Subject"]),
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def _widget(shop, order) -> dict:
    return requests.get(
        f"{shop.server.url}/api/widget/state",
        params={"saleorApiUrl": shop.saleor.api_url, "orderId": order["id"]},
        timeout=10,
    ).json()


def _card_text(shop, page) -> str:
    response = requests.get(page.meta["og:image"], timeout=30)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content)).text["Description"]


def _new_advocate(shop, email: str, first_name: str):
    before = len(shop.smtp.messages)
    order, advocate = paid_advocate(shop, email, first_name)
    invite = [m for m in shop.smtp.wait_for(before + 1) if m["To"] == email][0]
    return order, advocate, invite


def test_shoppers_read_the_shop_name_from_saleor_and_never_the_host(acme):
    host = acme.saleor.domain  # what Saleor-Domain said at install: "127.0.0.1:<port>"
    assert _stored_name(acme) == "Acme Shoes"
    order, advocate, invite = _new_advocate(acme, "fiona@example.com", "Fiona")

    subject, text, html = _texts(invite)
    assert subject == "Share Acme Shoes with friends: give 10%, get $10"
    assert "Acme Shoes" in text and "Acme Shoes" in html
    assert Address(display_name="Acme Shoes", addr_spec="referrals@localhost") == invite["From"].addresses[0]
    for part in (subject, text, html, str(invite["From"])):
        assert host not in part

    widget = _widget(acme, order)
    assert widget["texts"]["title"] == "Share Acme Shoes with your friends"
    assert "Acme Shoes" in widget["shareText"]
    assert host not in str(widget)

    page = open_landing(requests.Session(), acme, advocate.code)
    assert page.meta["og:title"] == "Fiona sends you 10% off at Acme Shoes"
    assert page.meta["og:site_name"] == "Acme Shoes"
    assert host not in requests.get(f"{acme.server.url}/r/{advocate.code}", timeout=10).text
    card = _card_text(acme, page)
    assert card.splitlines()[:2] == ["Acme Shoes", "Fiona sends you 10% off at Acme Shoes"]
    assert host not in card


def test_a_name_changed_in_saleor_is_used_after_the_daily_refresh(acme):
    saleor = acme.saleor
    reads = _shop_name_reads(saleor)
    saleor.set_shop_name("Acme Shoes & Boots")

    sweep()  # within the day: Saleor is not asked again
    assert _shop_name_reads(saleor) == reads
    assert _stored_name(acme) == "Acme Shoes"

    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=True):
        assert sweep()["shop_name_tenants"] == 1
        assert sweep()["shop_name_tenants"] == 0  # one call per shop per day
    assert _shop_name_reads(saleor) == reads + 1
    assert _stored_name(acme) == "Acme Shoes & Boots"

    _order, advocate, invite = _new_advocate(acme, "gina@example.com", "Gina")
    assert str(invite["Subject"]) == "Share Acme Shoes & Boots with friends: give 10%, get $10"
    assert "Acme Shoes &amp; Boots" in invite.get_body(("html",)).get_content()
    page = open_landing(requests.Session(), acme, advocate.code)
    assert page.meta["og:title"] == "Gina sends you 10% off at Acme Shoes & Boots"
    assert _card_text(acme, page).splitlines()[0] == "Acme Shoes & Boots"


def test_when_saleor_cannot_say_the_old_name_stays_until_the_next_day(acme):
    saleor = acme.saleor
    saleor.set_shop_name("Renamed")
    saleor.faults.fail_next(20, status=502)
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=True):
        assert sweep()["shop_name_tenants"] == 1
        saleor.faults.reset()
        assert sweep()["shop_name_tenants"] == 0  # not asked again the same day
    assert _stored_name(acme) == "Acme Shoes"
    with time_machine.travel(utcnow() + timedelta(days=2, minutes=2), tick=True):
        assert sweep()["shop_name_tenants"] == 1
    assert _stored_name(acme) == "Renamed"


def test_opening_the_dashboard_page_stores_a_new_name(acme):
    saleor = acme.saleor
    saleor.set_shop_name("Acme Outlet")
    me = requests.get(
        f"{acme.server.url}/api/admin/me",
        headers=auth_headers(saleor.mint_dashboard_token(acme.app), saleor.api_url),
        timeout=10,
    )
    assert me.status_code == 200, me.text
    assert me.json()["shop_name"] == "Acme Outlet"
    assert _stored_name(acme) == "Acme Outlet"
    order, _advocate, invite = _new_advocate(acme, "hana@example.com", "Hana")
    assert "Acme Outlet" in str(invite["Subject"])
    assert _widget(acme, order)["texts"]["title"] == "Share Acme Outlet with your friends"


HOSTILE = '<img src=x onerror=alert(1)>\r\nBcc: eve@example.com\u2028"Acme"\x00 & Co'


def test_a_hostile_name_is_escaped_in_pages_and_e_mails_and_never_breaks_a_header(saleor, install_shop):
    saleor.set_shop_name(HOSTILE)
    shop = install_shop()
    with shop.flask_app.app_context():
        stored = _stored_name(shop)
        assert stored == '<img src=x onerror=alert(1)> Bcc: eve@example.com "Acme" & Co'
        order, advocate, invite = _new_advocate(shop, "ivy@example.com", "Ivy")

        assert invite["Bcc"] is None
        assert shop.smtp.envelopes[-1][1] == ["ivy@example.com"]
        subject, _text, html = _texts(invite)
        assert subject == f"Share {stored} with friends: give 10%, get $10"
        assert invite["From"].addresses[0].display_name == stored
        for header in (subject, str(invite["From"])):
            assert not {"\r", "\n", "\u2028", "\x00"} & set(header)
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html

        response = requests.get(f"{shop.server.url}/r/{advocate.code}", timeout=10)
        assert "<img src=x" not in response.text and "&lt;img src=x" in response.text
        page = open_landing(requests.Session(), shop, advocate.code)
        assert page.meta["og:site_name"] == stored
        assert _widget(shop, order)["texts"]["title"] == f"Share {stored} with your friends"  # drawn as text


def test_without_a_name_from_saleor_shoppers_read_our_shop_in_their_language(saleor, install_shop):
    saleor.set_shop_name(" \u2028 ")
    shop = install_shop()
    with shop.flask_app.app_context():
        assert _stored_name(shop) is None
        _order, advocate, invite = _new_advocate(shop, "jan@example.com", "Jan")
        assert str(invite["Subject"]) == "Share our shop with friends: give 10%, get $10"
        assert saleor.domain not in invite.get_body(("plain",)).get_content()
        page = open_landing(requests.Session(), shop, advocate.code, lang="ru")
        assert page.meta["og:title"] == "Jan дарит вам скидку 10\u00a0% в магазине «Наш магазин»"
        assert str(invite["From"]) == "Referrals <referrals@localhost>"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Acme Shoes", "Acme Shoes"),
        ("  Acme\tShoes\r\n", "Acme Shoes"),
        ("Acme\u2028Shoes\u2029!", "Acme Shoes !"),
        ("\u202eseohS emcA", "seohS emcA"),
        ("\x00\x1b[31m", "[31m"),
        ("", None),
        (" \u2028 ", None),
        (None, None),
        (42, None),
        ("A" * 300, "A" * 99 + "…"),
    ],
)
def test_shop_names_are_cleaned_for_headers_pages_and_pictures(raw, clean):
    assert service.clean_shop_name(raw) == clean
