"""CSV exports with exactly the numbers the page and the JSON API show."""

from __future__ import annotations

import csv
import io
import re

SUMMARY_COLUMNS = [
    ("from", None),
    ("to", None),
    ("channel", "channel"),
    ("channel_name", "channel_name"),
    ("currency", "currency"),
    ("widget_views", "funnel.widget_views"),
    ("shares", "funnel.shares"),
    ("link_clicks", "funnel.clicks"),
    ("claims", "funnel.claims"),
    ("referred_orders", "funnel.referred_orders"),
    ("paid_referrals", "funnel.paid_referrals"),
    ("new_customers", "money.new_customers"),
    ("rewards_issued", "funnel.rewards_issued"),
    ("rewards_used", "funnel.rewards_used"),
    ("rewards_revoked", "funnel.rewards_revoked"),
    ("revenue", "money.revenue"),
    ("refunded", "money.refunded"),
    ("net_revenue", "money.net_revenue"),
    ("reward_cost", "money.reward_cost"),
    ("reward_redeemed", "money.reward_redeemed"),
    ("friend_discounts", "money.friend_discounts"),
    ("total_cost", "money.total_cost"),
    ("roi", "money.roi"),
    ("cost_per_customer", "money.cost_per_customer"),
    ("click_to_paid", "rates.click_to_paid"),
    ("unsubscribes", None),  # the shop's, all channels: the same on every row
    # What each kind of reward cost (money.reward_by_kind.<KIND>.cost; empty when none was issued).
    *(
        (f"reward_cost_{kind.lower()}", f"money.reward_by_kind.{kind}.cost")
        for kind in ("FIXED", "PERCENTAGE", "FREE_SHIPPING", "STORE_CREDIT", "COMMISSION")
    ),
]
DAILY_COLUMNS = ["date", "channel", "currency", "widget_views", "shares", "clicks", "claims", "referrals", "revenue"]
ADVOCATE_COLUMNS = [
    "code",
    "email",
    "name",
    "channel",
    "currency",
    "variant",
    "since",
    "shares",
    "clicks",
    "friends",
    "not_counted",
    "revenue",
    "rewards",
    "reward_value",
    "reward_redeemed",
]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell starting with = + - @ is a formula to spreadsheet programs; numbers stay numbers.
    if text and text[0] in "=+-@\t\r" and not _NUMBER.match(text):
        return "'" + text
    return text


def _path(data: dict, path: str):
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _write(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def summary_csv(report: dict) -> str:
    rows = []
    for group in report["groups"]:
        rows.append(
            [
                (report.get(name) if name in ("from", "to", "unsubscribes") else None) if p is None else _path(group, p)
                for name, p in SUMMARY_COLUMNS
            ]
        )
    return _write([name for name, _ in SUMMARY_COLUMNS], rows)


def daily_csv(report: dict) -> str:
    rows = []
    for group in report["groups"]:
        for day in group["daily"]:
            rows.append(
                [
                    day["date"],
                    group["channel"],
                    group["currency"],
                    day["widget_views"],
                    day["shares"],
                    day["clicks"],
                    day["claims"],
                    day["referrals"],
                    day["revenue"],
                ]
            )
    return _write(DAILY_COLUMNS, rows)


def advocates_csv(advocates: list[dict]) -> str:
    return _write(ADVOCATE_COLUMNS, [[a.get(c) for c in ADVOCATE_COLUMNS] for a in advocates])
