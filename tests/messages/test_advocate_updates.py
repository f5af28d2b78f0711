"""The advocate's updates about a friend's order, each switchable by the merchant: "on hold until
<date>", "counted: your reward is on its way" (only when the reward is late, so it never arrives
next to the reward e-mail saying the same), and the progress toward the next tier in both."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.sweeper import sweep
from tests.conftest import wait_until
from tests.flows import coupons_for, friend_order, paid_advocate, referral_for, set_program, set_shop_name
from tests.messages.helpers import outbox, plain, sent

TIERED = {
    "referrer": {"type": "FIXED", "value": "10"},
    "friend": {"type": "PERCENTAGE", "value": "10"},
    "min_order": "0",
    "expiry_days": 90,
    "tiers": [{"from": 3, "reward": {"type": "FIXED", "value": "15"}}],
    "milestones": [],
}


def _program(**overrides):
    set_shop_name("Acme")
    set_program(default_rewards=TIERED, **overrides)


def test_held_update_shows_the_date_and_the_progress_toward_the_next_tier(shop, smtp):
    _program(hold_days=14)
    _order, alice = paid_advocate(shop)
    order = friend_order(shop.saleor, "bob@example.com", code=alice.code)
    referral = referral_for(order["id"])
    assert referral.state == "held"
    [update] = wait_until(lambda: sent(smtp, "advocate_update", "alice@example.com"))
    assert update["Subject"] == "Your friend's order at Acme counted"
    text = plain(update)
    assert f"Your reward is on hold until {referral.hold_until.date().isoformat()}" in text
    assert "2 more friends to unlock $15" in text, "tiers from the 3rd friend; none rewarded yet"
    assert update["List-Unsubscribe"]

    # When the hold ends the reward e-mail is the news, with the progress now one friend closer.
    with time_machine.travel(referral.hold_until + timedelta(minutes=5), tick=True):
        sweep()
        [reward] = wait_until(lambda: sent(smtp, "referrer_reward", "alice@example.com"))
        assert "1 more friend to unlock $15" in plain(reward)
    with time_machine.travel(referral.hold_until + timedelta(hours=1), tick=True):
        sweep()
    assert len(sent(smtp, "advocate_update", "alice@example.com")) == 1, "no 'counted' next to the reward e-mail"
    assert [e.dedup_key.split(":")[1] for e in outbox("advocate_update")] == ["held"]


def test_each_update_can_be_switched_off(shop, smtp):
    _program(hold_days=14, messages={"updates": {"held": False, "counted": True, "progress": True}})
    _order, alice = paid_advocate(shop)
    order = friend_order(shop.saleor, "bob@example.com", code=alice.code)
    assert referral_for(order["id"]).state == "held"
    assert outbox("advocate_update") == []

    _program(hold_days=14, messages={"updates": {"held": True, "counted": True, "progress": False}})
    friend_order(shop.saleor, "cleo@example.com", code=alice.code)
    [update] = wait_until(lambda: sent(smtp, "advocate_update", "alice@example.com"))
    assert "Your reward is on hold until" in plain(update)
    assert "to unlock" not in plain(update), "progress switched off"


def test_counted_update_goes_out_only_when_the_reward_is_late(shop, smtp):
    _program()
    _order, alice = paid_advocate(shop)
    shop.app.permissions.remove("MANAGE_DISCOUNTS")  # Saleor refuses vouchers: the rewards wait
    order = friend_order(shop.saleor, "bob@example.com", code=alice.code)
    assert referral_for(order["id"]).state == "approved"
    assert {c.state for c in coupons_for(order["id"])} == {Coupon.RESERVED}
    assert sent(smtp, "advocate_update") == []

    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):
        sweep()
    [counted] = wait_until(lambda: sent(smtp, "advocate_update", "alice@example.com"))
    assert counted["Subject"] == "Your friend's order counted: your reward is on its way"
    assert "Fred's order counted!" in plain(counted)
    assert "1 more friend to unlock $15" in plain(counted)

    shop.app.permissions.append("MANAGE_DISCOUNTS")
    with time_machine.travel(utcnow() + timedelta(minutes=20), tick=True):
        sweep()
    assert wait_until(lambda: sent(smtp, "referrer_reward", "alice@example.com"))

    # On time (the usual case), or with the switch off: the reward e-mail alone.
    friend_order(shop.saleor, "cleo@example.com", code=alice.code)
    _program(messages={"updates": {"held": True, "counted": False, "progress": True}})
    shop.app.permissions.remove("MANAGE_DISCOUNTS")
    friend_order(shop.saleor, "dan@example.com", code=alice.code)
    shop.app.permissions.append("MANAGE_DISCOUNTS")
    with time_machine.travel(utcnow() + timedelta(minutes=40), tick=True):
        sweep()
    assert wait_until(lambda: len(sent(smtp, "referrer_reward", "alice@example.com")) == 3)
    assert len(sent(smtp, "advocate_update", "alice@example.com")) == 1
    assert [e.dedup_key for e in outbox("advocate_update")] == [f"update:counted:{referral_for(order['id']).id}"]
