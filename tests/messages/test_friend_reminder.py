"""The friend's reminder before their code expires: only with the box ticked, once, at the right
time (N days before expiry), never after they ordered or the code was revoked or expired, in the
language they claimed in. The clock is moved with time_machine; the sweeper drives the reminders."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from plugin.coupons import service as coupon_service
from plugin.coupons.models import Coupon
from plugin.db import session_scope, utcnow
from plugin.i18n import percent, tn
from plugin.sweeper import sweep
from plugin.tenants.models import Tenant
from plugin.tenants.service import saleor_client
from tests.flows import friend_order, paid_advocate, set_program, set_shop_name
from tests.messages.helpers import claim, claim_row, mails_to, outbox, plain, sent


def _reminders(smtp, address: str) -> list:
    return sent(smtp, "friend_reminder", address)


def test_claim_without_any_box_sends_the_code_and_the_box_stores_the_reminder(shop, smtp):
    _order, advocate = paid_advocate(shop)
    page = claim(shop, advocate.code, "nora@example.com")  # no box ticked at all
    nora, nora_code = claim_row("nora@example.com")
    assert nora_code.code in page.text, "the code shows on the page right away"
    assert [nora_code.code in plain(m) for m in mails_to(smtp, "nora@example.com")] == [True]
    assert nora.remind_opt_in_at is None and nora.reminded_at is None

    before = utcnow()
    claim(shop, advocate.code, "rita@example.com", remind=True)
    rita, _ = claim_row("rita@example.com")
    assert before <= rita.remind_opt_in_at <= utcnow() and rita.reminded_at is None
    assert len(mails_to(smtp, "rita@example.com")) == 1  # the code now; the reminder comes later


def test_the_reminder_goes_out_once_n_days_before_expiry_in_the_claims_language(shop, smtp):
    set_program(messages={"friend_reminder_days": 3})
    shop.saleor.set_shop_name("Acme")  # the daily refresh, due after the clock moves, reads it from Saleor
    set_shop_name("Acme")
    _order, advocate = paid_advocate(shop)
    claim(shop, advocate.code, "rita@example.com", remind=True, lang="ru")
    claim(shop, advocate.code, "nora@example.com")  # no reminder asked for
    _, code = claim_row("rita@example.com")
    remind_at = code.expires_at - timedelta(days=3)

    with time_machine.travel(remind_at - timedelta(hours=1), tick=True):
        sweep()
    assert _reminders(smtp, "rita@example.com") == [], "not before 3 days before expiry"

    with time_machine.travel(remind_at + timedelta(minutes=1), tick=True):
        sweep()
    [reminder] = _reminders(smtp, "rita@example.com")
    assert reminder["Subject"] == "Ваш код на 10\u00a0% в Acme истекает через 3 дня"
    assert code.code in plain(reminder)
    assert f"Ваш код действует до {code.expires_at.date().isoformat()}" in plain(reminder)

    for later in (timedelta(minutes=10), timedelta(days=1), timedelta(days=2, hours=23)):
        with time_machine.travel(remind_at + later, tick=True):
            sweep()
    assert len(_reminders(smtp, "rita@example.com")) == 1, "once only, however often the sweeper runs"
    assert _reminders(smtp, "nora@example.com") == [] and len(mails_to(smtp, "nora@example.com")) == 1
    assert [e.to_email for e in outbox("friend_reminder")] == ["rita@example.com"]


def test_no_reminder_after_the_friend_ordered_or_the_code_was_revoked_or_expired(shop, smtp):
    _order, advocate = paid_advocate(shop)
    for friend in ("olga@example.com", "rex@example.com", "ok@example.com"):
        claim(shop, advocate.code, friend, remind=True)

    _, olga_code = claim_row("olga@example.com")
    friend_order(shop.saleor, "olga@example.com", voucher_code=olga_code.code)
    assert claim_row("olga@example.com")[1].state == Coupon.USED

    _, rex_code = claim_row("rex@example.com")
    with session_scope(shop.tenant_id()) as session:
        tenant = session.get(Tenant, shop.tenant_id())
        coupon = session.get(Coupon, rex_code.id)
        coupon_service.revoke(session, saleor_client(tenant), coupon, "Taken back by the merchant.", "test")
    assert claim_row("rex@example.com")[1].state == Coupon.REVOKED

    with time_machine.travel(olga_code.expires_at - timedelta(days=2), tick=True):
        sweep()
    assert len(_reminders(smtp, "ok@example.com")) == 1
    assert _reminders(smtp, "olga@example.com") == [], "she ordered with the code"
    assert _reminders(smtp, "rex@example.com") == [], "his code was revoked"

    # A friend whose code ran out before any sweep looked (the workers were down, say): too late.
    with time_machine.travel(utcnow() + timedelta(days=5), tick=True):
        claim(shop, advocate.code, "late@example.com", remind=True)
    late_expiry = claim_row("late@example.com")[1].expires_at
    with time_machine.travel(late_expiry + timedelta(minutes=1), tick=True):
        sweep()
    assert _reminders(smtp, "late@example.com") == []
    assert [e.to_email for e in outbox("friend_reminder")] == ["ok@example.com"]


def test_a_reminder_for_a_friend_who_ordered_meanwhile_is_not_sent(shop, smtp):
    """A friend who ordered with the advocate's link (no code typed) is a referral: no reminder."""
    shop.saleor.set_shop_name("Acme")  # the daily refresh, due after the clock moves, reads it from Saleor
    set_shop_name("Acme")
    _order, advocate = paid_advocate(shop)
    claim(shop, advocate.code, "meta@example.com", remind=True)
    claim(shop, advocate.code, "wait@example.com", remind=True, lang="pl")
    friend_order(shop.saleor, "meta@example.com", code=advocate.code)
    _, code = claim_row("wait@example.com")
    with time_machine.travel(code.expires_at - timedelta(days=2), tick=True):
        sweep()
    assert _reminders(smtp, "meta@example.com") == []
    [reminder] = _reminders(smtp, "wait@example.com")
    assert reminder["Subject"] == tn("pl", "email.reminder.subject", 2, value=percent(10, "pl"), shop="Acme")
    assert reminder["Subject"] == "Twój kod na 10% w Acme wygasa za 2 dni"
