"""Claiming a friend code through the landing page, and reading what the SMTP sink received."""

from __future__ import annotations

import requests
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import session_scope
from plugin.identity import normalize_email
from plugin.mail.models import OutboundEmail
from plugin.referrals.models import FriendClaim
from tests.ui.test_landing import open_landing


def claim(shop, code: str, email: str, *, remind: bool = False, lang: str = "en") -> requests.Response:
    browser = requests.Session()
    page = open_landing(browser, shop, code, lang=lang)
    form = {"email": email, "csrf": page.inputs["csrf"]}
    if remind:
        form["remind"] = "yes"
    response = browser.post(shop.server.url + page.forms[0], data=form, timeout=30)
    assert response.status_code == 200, response.text
    return response


def claim_row(email: str) -> tuple[FriendClaim, Coupon]:
    with session_scope() as session:
        row = session.execute(
            select(FriendClaim, Coupon)
            .join(Coupon, Coupon.id == FriendClaim.coupon_id)
            .where(FriendClaim.email == normalize_email(email))
        ).one()
    return row[0], row[1]


def mails_to(smtp, address: str) -> list:
    return [m for m in smtp.messages if m["To"] == address]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def outbox(kind: str | None = None) -> list[OutboundEmail]:
    with session_scope() as session:
        query = select(OutboundEmail).order_by(OutboundEmail.id)
        if kind:
            query = query.where(OutboundEmail.kind == kind)
        return list(session.scalars(query))


def sent(smtp, kind: str, address: str | None = None) -> list:
    """The messages the SMTP sink received for outbox rows of `kind` (matched by Message-ID)."""
    ids = {f"<outbox-{e.tenant_id}-{e.id}@referrals.local>" for e in outbox(kind)}
    return [m for m in smtp.messages if m["Message-ID"] in ids and (address is None or m["To"] == address)]
