"""Issue 16, hole 10: the log carries ids, never reward codes, tokens or e-mail addresses.

A whole referral runs with logging at INFO (the production default): the advocate's paid order, the
friend's claim on the landing page, the friend's paid order, both rewards issued in Saleor and
e-mailed. Then every secret and address of that referral is looked for in what was logged.
"""

from __future__ import annotations

import logging
import re

import pytest
import requests
from sqlalchemy import select

from tests.conftest import wait_until
from tests.flows import paid_advocate
from tests.ui.test_landing import shown_code, submit_claim

# The stand-ins' own loggers (aiosmtpd, the SMTP server playing the mail relay) are not the app's log.
TEST_SERVERS = {"mail.log"}


@pytest.fixture
def info_log(caplog):
    """Logging at INFO from before the app starts (the install is logged too)."""
    caplog.set_level(logging.INFO)
    return caplog


def test_a_whole_referral_logged_at_info_leaves_no_code_token_or_address_in_the_log(info_log, shop):
    from plugin.coupons.models import Coupon
    from plugin.db import session_scope

    _order, advocate = paid_advocate(shop, "alice.advocate@example.com", "Alice")
    friend_code = shown_code(submit_claim(requests.Session(), shop, advocate.code, "bob.friend@example.org").text)
    assert friend_code
    order = shop.saleor.create_order("bob.friend@example.org", first_name="Bob", voucher_code=friend_code)
    shop.saleor.pay(order)

    def rewards_issued() -> int:
        with session_scope() as session:
            return len(
                session.scalars(
                    select(Coupon.id).where(Coupon.purpose != Coupon.FRIEND_OFFER, Coupon.state == Coupon.ISSUED)
                ).all()
            )

    assert wait_until(lambda: rewards_issued() == 2), "both rewards were issued"
    with session_scope() as session:
        codes = session.scalars(select(Coupon.code)).all()
    assert len(codes) == 3, "the friend's code and both rewards"
    messages = shop.smtp.wait_for(5)
    portal_tokens = {
        token
        for message in messages
        for token in re.findall(r"/portal/([\w.-]+)", message.get_body(("plain",)).get_content())
    }
    assert portal_tokens

    logged = "\n".join(
        info_log.handler.format(record)
        for phase in ("setup", "call")
        for record in info_log.get_records(phase)
        if record.name not in TEST_SERVERS
    )
    assert "installed tenant" in logged, "the capture works: the app's own INFO lines are here"
    secrets = {*codes, *portal_tokens, shop.app.token, "alice.advocate@example.com", "bob.friend@example.org"}
    leaked = sorted(secret for secret in secrets if secret in logged)
    assert leaked == []
    assert not re.search(r"[\w.+-]+@example\.(com|org)", logged)
