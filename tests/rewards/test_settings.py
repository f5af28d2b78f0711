"""The program's reward settings: kinds allowed per side, tiers and milestones strictly increasing,
commission caps positive, money in each channel's currency (plugin/program/validation.py)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from plugin.program.settings import DEFAULTS, Milestone, Program, RewardSpec, Tier, deep_merge
from plugin.program.validation import SettingsInvalid, validate_settings

CHANNELS = {"default-channel": "USD", "channel-pln": "PLN", "channel-jpy": "JPY"}


def settings(**rewards) -> dict:
    document = copy.deepcopy(DEFAULTS)
    document["default_rewards"].update(rewards.pop("default_rewards", {}))
    document.update(rewards)
    return document


def errors(document: dict) -> dict[str, str]:
    with pytest.raises(SettingsInvalid) as caught:
        validate_settings(document, channels=CHANNELS)
    return caught.value.fields


def test_the_issue_example_is_valid_and_read_back_typed():
    document = settings(
        default_rewards={
            "tiers": [
                {"from": 3, "reward": {"type": "FIXED", "value": "15"}},
                {"from": 6, "reward": {"type": "STORE_CREDIT", "value": "20"}},
            ],
            "milestones": [{"at": 5, "reward": {"type": "STORE_CREDIT", "value": "50"}}],
        },
        channels={
            "channel-pln": {
                "referrer": {"type": "COMMISSION", "value": "10", "cap": "60"},
                "friend": {"type": "FREE_SHIPPING"},
                "tiers": [{"from": 4, "reward": {"type": "STORE_CREDIT", "value": "80.50"}}],
            }
        },
    )
    clean = validate_settings(document, channels=CHANNELS)
    program = Program(deep_merge(DEFAULTS, clean))
    usd = program.rewards_for("default-channel")
    assert usd.tiers == (
        Tier(3, RewardSpec("FIXED", Decimal("15"))),
        Tier(6, RewardSpec("STORE_CREDIT", Decimal("20"))),
    )
    assert usd.milestones == (Milestone(5, RewardSpec("STORE_CREDIT", Decimal("50"))),)
    pln = program.rewards_for("channel-pln")
    assert pln.referrer == RewardSpec("COMMISSION", Decimal("10"), Decimal("60"))
    assert pln.friend == RewardSpec("FREE_SHIPPING", Decimal(0))
    assert pln.tiers == (Tier(4, RewardSpec("STORE_CREDIT", Decimal("80.5"))),)
    assert pln.milestones == usd.milestones  # not overridden: the default's, in the channel's currency


@pytest.mark.parametrize(
    "change, path, message",
    [
        (
            {"default_rewards": {"friend": {"type": "COMMISSION", "value": "10", "cap": "5"}}},
            "default_rewards.friend.type",
            "must be one of FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT",
        ),
        (
            {
                "default_rewards": {
                    "milestones": [{"at": 5, "reward": {"type": "COMMISSION", "value": "10", "cap": "5"}}]
                }
            },
            "default_rewards.milestones.0.reward.type",
            "must be one of FIXED, PERCENTAGE, FREE_SHIPPING, STORE_CREDIT",
        ),
        (
            {"friend_offer": {"type": "STORE_CREDIT", "value": "10", "expiry_days": 14}},
            "friend_offer.type",
            "must be one of FIXED, PERCENTAGE",
        ),
        (
            {"default_rewards": {"referrer": {"type": "COMMISSION", "value": "10"}}},
            "default_rewards.referrer.cap",
            "must be a number > 0",
        ),
        (
            {"default_rewards": {"referrer": {"type": "COMMISSION", "value": "10", "cap": "0"}}},
            "default_rewards.referrer.cap",
            "must be a number > 0",
        ),
        (
            {"default_rewards": {"referrer": {"type": "COMMISSION", "value": "120", "cap": "10"}}},
            "default_rewards.referrer.value",
            "must be a number > 0 and at most 100",
        ),
        (
            {"default_rewards": {"referrer": {"type": "FIXED", "value": "10", "cap": "10"}}},
            "default_rewards.referrer.cap",
            "is not a setting of this kind of reward",
        ),
        (
            {"default_rewards": {"friend": {"type": "FREE_SHIPPING", "value": "5"}}},
            "default_rewards.friend.value",
            "is not a setting of this kind of reward",
        ),
        (
            {
                "default_rewards": {
                    "tiers": [
                        {"from": 3, "reward": {"type": "FIXED", "value": "15"}},
                        {"from": 3, "reward": {"type": "FIXED", "value": "20"}},
                    ]
                }
            },
            "default_rewards.tiers.1.from",
            "must be larger than the one before (counts strictly increase)",
        ),
        (
            {
                "default_rewards": {
                    "tiers": [
                        {"from": 6, "reward": {"type": "FIXED", "value": "15"}},
                        {"from": 3, "reward": {"type": "FIXED", "value": "20"}},
                    ]
                }
            },
            "default_rewards.tiers.1.from",
            "must be larger than the one before (counts strictly increase)",
        ),
        (
            {"default_rewards": {"tiers": [{"from": 1, "reward": {"type": "FIXED", "value": "15"}}]}},
            "default_rewards.tiers.0.from",
            "must be a whole number from 2 to 10000",
        ),
        (
            {
                "default_rewards": {
                    "milestones": [
                        {"at": 5, "reward": {"type": "STORE_CREDIT", "value": "50"}},
                        {"at": 5, "reward": {"type": "STORE_CREDIT", "value": "60"}},
                    ]
                }
            },
            "default_rewards.milestones.1.at",
            "must be larger than the one before (counts strictly increase)",
        ),
        (
            {"default_rewards": {"milestones": [{"at": 0, "reward": {"type": "STORE_CREDIT", "value": "50"}}]}},
            "default_rewards.milestones.0.at",
            "must be a whole number from 1 to 10000",
        ),
        (
            {"default_rewards": {"milestones": [{"at": 5, "reward": {"type": "STORE_CREDIT", "value": "-1"}}]}},
            "default_rewards.milestones.0.reward.value",
            "must be a number > 0",
        ),
        ({"default_rewards": {"tiers": {"from": 3}}}, "default_rewards.tiers", "must be a list"),
        (
            {
                "default_rewards": {
                    "tiers": [{"from": n, "reward": {"type": "FIXED", "value": "1"}} for n in range(2, 14)]
                }
            },
            "default_rewards.tiers",
            "at most 10 entries",
        ),
        (
            {
                "channels": {
                    "default-channel": {"tiers": [{"from": 3, "reward": {"type": "STORE_CREDIT", "value": "15.001"}}]}
                }
            },
            "channels.default-channel.tiers.0.reward.value",
            "has too many decimal places (at most 2 for USD)",
        ),
        (
            {"channels": {"channel-jpy": {"referrer": {"type": "COMMISSION", "value": "5", "cap": "99.5"}}}},
            "channels.channel-jpy.referrer.cap",
            "has too many decimal places (at most 0 for JPY)",
        ),
    ],
)
def test_invalid_reward_settings_are_named(change, path, message):
    found = errors(settings(**change))
    assert found.get(path) == message, found


def test_free_shipping_and_commission_describe_themselves_per_locale():
    assert RewardSpec("FREE_SHIPPING", Decimal(0)).describe("USD", "en") == "free shipping"
    assert RewardSpec("STORE_CREDIT", Decimal("20")).describe("USD", "en") == "$20 store credit"
    assert RewardSpec("STORE_CREDIT", Decimal("20")).describe("PLN", "pl") == "kartę podarunkową o wartości 20\u00a0zł"
    assert (
        RewardSpec("COMMISSION", Decimal("10"), Decimal("15")).describe("USD", "en")
        == "10% of your friend's order (up to $15)"
    )
    assert (
        RewardSpec("COMMISSION", Decimal("10"), Decimal("1500")).describe("RUB", "ru")
        == "10\u00a0% от заказа друга (не более 1\u00a0500\u00a0₽)"
    )
