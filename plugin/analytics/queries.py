"""The program's economics, per Saleor channel and currency, over a date range.

Definitions (docs/ADMIN_API.md repeats them for merchants):

* Funnel events (widget views, shares, clicks, claims) count when they happened
  (closed days come from the FunnelDaily rollup, see plugin.analytics.rollup).
* Money counts the *cohort* of referrals created in the range: revenue of the
  referrals made then, and the cost of the rewards those referrals produced,
  whenever they were issued or spent. So one row answers "what did the
  referrals of March earn and cost", and later refunds move March's numbers.
* revenue        = Σ order total of referrals that are not revoked (cancelled,
                   refunded) or rejected (fraud rule, merchant, holdout)
* refunded       = partial refunds on those orders; net revenue = revenue − refunded
* reward cost    = per kind (`reward_by_kind`): the face value of fixed vouchers and
                   gift cards (store credit, commission) issued and not taken back
                   before use, plus what was spent from a gift card before it was
                   taken back; the redeemed value of percentage and free-shipping
                   vouchers used. Advocate, friend and milestone rewards all count.
* friend discounts = the redeemed value of friend-offer coupons used on referred
                   orders that still stand (the discount is part of the cost)
* ROI            = (net revenue − total cost) / total cost
* cost per acquired customer = total cost / referrals that still stand
Amounts are never added across currencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, distinct, func, literal, or_, select, text
from sqlalchemy.orm import Session

from plugin.analytics import rollup
from plugin.analytics.models import AdvocateLastShare, FunnelEvent
from plugin.coupons.models import Coupon
from plugin.mail import suppression
from plugin.referrals.models import Advocate, OrderRecord, Referral

ZERO = Decimal(0)
REWARD_PURPOSES = (Coupon.REFERRER_REWARD, Coupon.FRIEND_REWARD, Coupon.MILESTONE_REWARD)
REWARD_KINDS = ("FIXED", "PERCENTAGE", "FREE_SHIPPING", "STORE_CREDIT", "COMMISSION")
FACE_VALUE_KINDS = ("FIXED", "STORE_CREDIT", "COMMISSION")  # worth their value once issued
GIFT_CARD_KINDS = ("STORE_CREDIT", "COMMISSION")


def reward_cost():
    """What one reward coupon costs the merchant (SQL): a fixed voucher or a gift card its face value
    while issued or used; a gift card taken back what was spent from it first; a percentage or
    free-shipping voucher the discount it gave when used."""
    live = Coupon.state.in_((Coupon.ISSUED, Coupon.USED))
    return case(
        (and_(live, Coupon.value_type.in_(FACE_VALUE_KINDS)), Coupon.value),
        (Coupon.value_type.in_(GIFT_CARD_KINDS), Coupon.redeemed_value),
        (Coupon.state == Coupon.USED, Coupon.redeemed_value),
        else_=literal(0),
    )


def face_value():
    """The value of rewards issued and not taken back, for the kinds that have one."""
    live = Coupon.state.in_((Coupon.ISSUED, Coupon.USED))
    return case((and_(live, Coupon.value_type.in_(FACE_VALUE_KINDS)), Coupon.value), else_=literal(0))


NOT_COUNTED_STATES = (Referral.REVOKED, Referral.REJECTED)
MAX_RANGE_DAYS = 3 * 366
REPORT_WORK_MEM = "64MB"


class RangeError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field, self.message = field_name, message


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    channel: str | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def parse_period(args, *, today: date | None = None) -> Period:
    """`from`/`to` (YYYY-MM-DD, inclusive, UTC) and `channel` from query args; default: the last 30 days."""
    today = today or datetime.now(UTC).date()
    parsed = {}
    for name, default in (("from", today - timedelta(days=29)), ("to", today)):
        raw = (args.get(name) or "").strip()
        if not raw:
            parsed[name] = default
            continue
        try:
            parsed[name] = date.fromisoformat(raw)
        except ValueError:
            raise RangeError(name, f"'{raw}' is not a date; use YYYY-MM-DD") from None
    if parsed["from"] > parsed["to"]:
        raise RangeError("from", "must not be after 'to'")
    if (parsed["to"] - parsed["from"]).days > MAX_RANGE_DAYS:
        raise RangeError("from", "the range may span at most 3 years")
    channel = (args.get("channel") or "").strip() or None
    if channel is not None and len(channel) > 255:
        raise RangeError("channel", "is too long")
    return Period(parsed["from"], parsed["to"], channel)


def _prepare_reporting(session: Session) -> None:
    """Session settings for the report's queries, transaction-local (the next transaction on this
    connection is back to the server's defaults):

    * work_mem: group a range's rows in memory (hash aggregate) instead of sorting them on disk.
    * plan_cache_mode: after five runs psycopg prepares a statement server-side, and after five
      more PostgreSQL may switch to a generic plan that cannot see the dates or ids. The generic
      plan of "these 50 advocates' clicks in this range" scans every click of the range (15-20x
      slower), and 30- and 90-day ranges need different plans anyway; planning each statement
      for its own parameters costs well under a millisecond.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _dec(value) -> Decimal:
    return Decimal(str(value)) if value is not None else ZERO


def money_str(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return f"{value.quantize(Decimal('0.01')):f}"


def ratio(numerator, denominator) -> float | None:
    if not denominator:
        return None
    return round(float(numerator) / float(denominator), 4)


@dataclass
class Group:
    """One (channel, currency) row of the report."""

    channel: str
    currency: str
    widget_views: int = 0
    shares: int = 0
    shares_by_channel: dict[str, int] = field(default_factory=dict)
    clicks: int = 0
    claims: int = 0
    referred_orders: int = 0
    referrals: int = 0
    referrals_by_state: dict[str, int] = field(default_factory=dict)
    new_customers: int = 0
    rewards_issued: int = 0
    rewards_used: int = 0
    rewards_revoked: int = 0
    revenue: Decimal = ZERO
    refunded: Decimal = ZERO
    reward_face_value: Decimal = ZERO
    reward_percent_redeemed: Decimal = ZERO
    reward_redeemed: Decimal = ZERO
    friend_discounts: Decimal = ZERO
    # kind -> {"issued", "used", "revoked": counts; "face_value", "redeemed", "cost": Decimal}
    reward_by_kind: dict[str, dict] = field(default_factory=dict)
    daily: dict[str, dict] = field(default_factory=dict)

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.refunded

    @property
    def reward_cost(self) -> Decimal:
        return sum((kind["cost"] for kind in self.reward_by_kind.values()), ZERO)

    def add_kind(self, kind: str, **values) -> None:
        row = self.reward_by_kind.setdefault(
            kind, {"issued": 0, "used": 0, "revoked": 0, "face_value": ZERO, "redeemed": ZERO, "cost": ZERO}
        )
        for name, value in values.items():
            row[name] += value

    @property
    def total_cost(self) -> Decimal:
        return self.reward_cost + self.friend_discounts

    @property
    def roi(self) -> float | None:
        if self.total_cost <= 0:
            return None
        return round(float((self.net_revenue - self.total_cost) / self.total_cost), 4)

    @property
    def cost_per_customer(self) -> Decimal | None:
        if not self.new_customers:
            return None
        return self.total_cost / self.new_customers

    def as_dict(self, channel_names: dict[str, str], days: list[date]) -> dict:
        return {
            "channel": self.channel,
            "channel_name": channel_names.get(self.channel, self.channel or "(no channel)"),
            "currency": self.currency,
            "funnel": {
                "widget_views": self.widget_views,
                "shares": self.shares,
                "shares_by_channel": dict(sorted(self.shares_by_channel.items(), key=lambda kv: (-kv[1], kv[0]))),
                "clicks": self.clicks,
                "claims": self.claims,
                "referred_orders": self.referred_orders,
                "paid_referrals": self.referrals,
                "referrals_by_state": dict(sorted(self.referrals_by_state.items())),
                "rewards_issued": self.rewards_issued,
                "rewards_used": self.rewards_used,
                "rewards_revoked": self.rewards_revoked,
            },
            "rates": {
                "share_rate": ratio(self.shares, self.widget_views),
                "click_to_claim": ratio(self.claims, self.clicks),
                "click_to_paid": ratio(self.referrals, self.clicks),
                "claim_to_paid": ratio(self.referrals, self.claims),
                "reward_use_rate": ratio(self.rewards_used, self.rewards_issued),
            },
            "money": {
                "revenue": money_str(self.revenue),
                "refunded": money_str(self.refunded),
                "net_revenue": money_str(self.net_revenue),
                "reward_face_value": money_str(self.reward_face_value),
                "reward_percent_redeemed": money_str(self.reward_percent_redeemed),
                "reward_cost": money_str(self.reward_cost),
                "reward_redeemed": money_str(self.reward_redeemed),
                "reward_by_kind": _kinds_dict(self.reward_by_kind),
                "friend_discounts": money_str(self.friend_discounts),
                "total_cost": money_str(self.total_cost),
                "roi": self.roi,
                "new_customers": self.new_customers,
                "cost_per_customer": money_str(self.cost_per_customer),
            },
            "daily": [
                {
                    "date": d.isoformat(),
                    **{
                        k: (money_str(v) if isinstance(v, Decimal) else v)
                        for k, v in self.daily.get(d.isoformat(), _empty_day()).items()
                    },
                }
                for d in days
            ],
        }


def _kinds_dict(by_kind: dict[str, dict]) -> dict[str, dict]:
    return {
        kind: {
            name: (money_str(value) if isinstance(value, Decimal) else value) for name, value in by_kind[kind].items()
        }
        for kind in REWARD_KINDS
        if kind in by_kind
    }


def _empty_day() -> dict:
    return {"widget_views": 0, "shares": 0, "clicks": 0, "claims": 0, "referrals": 0, "revenue": ZERO}


class _Groups:
    def __init__(self, channel_currency: dict[str, str]):
        self.channel_currency = dict(channel_currency)
        self.rows: dict[tuple[str, str], Group] = {}

    def get(self, channel: str | None, currency: str | None = None) -> Group:
        channel = channel or ""
        currency = currency or self.channel_currency.get(channel, "")
        key = (channel, currency)
        if key not in self.rows:
            self.rows[key] = Group(channel, currency)
        return self.rows[key]

    def day(self, channel: str | None, currency: str | None, day: str) -> dict:
        return self.get(channel, currency).daily.setdefault(day, _empty_day())


def _learn_currencies(session: Session, tenant_id: int, slugs: set[str]) -> dict[str, str]:
    """Channels Saleor did not tell us about get the currency their advocates were seen with most."""
    if not slugs:
        return {}
    learned: dict[str, tuple[int, str]] = {}
    for slug, currency, count in session.execute(
        select(Advocate.channel_slug, Advocate.currency, func.count())
        .where(Advocate.tenant_id == tenant_id, Advocate.channel_slug.in_(sorted(slugs)))
        .group_by(Advocate.channel_slug, Advocate.currency)
    ).all():
        if currency and count > learned.get(slug, (0, ""))[0]:
            learned[slug] = (count, currency)
    return {slug: currency for slug, (_, currency) in learned.items()}


def program_report(session: Session, tenant_id: int, period: Period, channels: dict[str, dict] | None = None) -> dict:
    """Funnel, money and daily series per (channel, currency). `channels`: slug -> {name, currency}."""
    channels = channels or {}
    _prepare_reporting(session)
    currencies = {slug: info.get("currency", "") for slug, info in channels.items() if info.get("currency")}
    since, until = period.since, period.until
    funnel = rollup.daily_counts(session, tenant_id, period.start, period.end, period.channel)
    currencies.update(
        _learn_currencies(session, tenant_id, {row[0] for row in funnel if row[0] and row[0] not in currencies})
    )
    groups = _Groups(currencies)

    def channel_filter(column):
        return [column == period.channel] if period.channel is not None else []

    # -- top of the funnel: stored daily counts for closed days, FunnelEvent for the last two -----
    field_of = {
        FunnelEvent.WIDGET_VIEW: "widget_views",
        FunnelEvent.SHARE: "shares",
        FunnelEvent.CLICK: "clicks",
        FunnelEvent.CLAIM: "claims",
    }
    for channel, kind, share_channel, day, count in funnel:
        group = groups.get(channel)
        name = field_of[kind]
        setattr(group, name, getattr(group, name) + count)
        groups.day(channel, None, day.isoformat())[name] += count
        if kind == FunnelEvent.SHARE:
            key = share_channel or "other"
            group.shares_by_channel[key] = group.shares_by_channel.get(key, 0) + count

    # -- orders that arrived carrying a referral code or a friend voucher -------------------------
    friend_codes = select(Coupon.code).where(Coupon.tenant_id == tenant_id, Coupon.purpose == Coupon.FRIEND_OFFER)
    for channel, currency, count in session.execute(
        select(OrderRecord.channel_slug, OrderRecord.currency, func.count())
        .where(
            OrderRecord.tenant_id == tenant_id,
            OrderRecord.created_at >= since,
            OrderRecord.created_at < until,
            or_(OrderRecord.referral_code.is_not(None), OrderRecord.voucher_code.in_(friend_codes)),
            *channel_filter(OrderRecord.channel_slug),
        )
        .group_by(OrderRecord.channel_slug, OrderRecord.currency)
    ).all():
        groups.get(channel, currency).referred_orders += count

    # -- referrals of the period: states, revenue (uses ix_referrals_tenant_created) ---------------
    # Every referral has its order (foreign key) and only refunded orders add to `refunded`, so
    # the referrals are joined to the few refunded orders instead of to every order.
    counted = Referral.state.not_in(NOT_COUNTED_STATES)
    rday = rollup.day_of(session, Referral.created_at)
    refunded_order = OrderRecord.total_refunded != 0
    for channel, currency, state, day_key, count, revenue, refunded in session.execute(
        select(
            Referral.channel_slug,
            Referral.currency,
            Referral.state,
            rday,
            func.count(Referral.id),
            func.sum(case((counted, Referral.order_total), else_=literal(0))),
            func.sum(case((and_(counted, refunded_order), OrderRecord.total_refunded), else_=literal(0))),
        )
        .outerjoin(OrderRecord, and_(OrderRecord.id == Referral.order_record_id, refunded_order))
        .where(
            Referral.tenant_id == tenant_id,
            Referral.created_at >= since,
            Referral.created_at < until,
            *channel_filter(Referral.channel_slug),
        )
        .group_by(Referral.channel_slug, Referral.currency, Referral.state, rday)
    ).all():
        group = groups.get(channel, currency)
        group.referrals += count
        group.referrals_by_state[state] = group.referrals_by_state.get(state, 0) + count
        if state not in NOT_COUNTED_STATES:
            group.new_customers += count
            refunded_value = min(_dec(refunded), _dec(revenue))
            group.revenue += _dec(revenue)
            group.refunded += refunded_value
            daily = groups.day(channel, currency, rollup.as_date(day_key).isoformat())
            daily["referrals"] += count
            daily["revenue"] += _dec(revenue) - refunded_value

    # -- rewards those referrals produced ----------------------------------------------------------
    for channel, currency, kind, issued, used, revoked, face, redeemed, cost in session.execute(
        select(
            Referral.channel_slug,
            Coupon.currency,
            Coupon.value_type,
            func.count(Coupon.issued_at),
            func.sum(case((Coupon.state == Coupon.USED, 1), else_=0)),
            func.sum(case((Coupon.state == Coupon.REVOKED, 1), else_=0)),
            func.sum(face_value()),
            func.sum(Coupon.redeemed_value),
            func.sum(reward_cost()),
        )
        .join(Referral, Referral.id == Coupon.referral_id)
        .where(
            Coupon.tenant_id == tenant_id,
            Coupon.purpose.in_(REWARD_PURPOSES),
            Referral.created_at >= since,
            Referral.created_at < until,
            *channel_filter(Referral.channel_slug),
        )
        .group_by(Referral.channel_slug, Coupon.currency, Coupon.value_type)
    ).all():
        group = groups.get(channel, currency)
        group.rewards_issued += issued or 0
        group.rewards_used += used or 0
        group.rewards_revoked += revoked or 0
        group.add_kind(
            kind,
            issued=issued or 0,
            used=used or 0,
            revoked=revoked or 0,
            face_value=_dec(face),
            redeemed=_dec(redeemed),
            cost=_dec(cost),
        )
        if kind == "FIXED":
            group.reward_face_value += _dec(face)
        elif kind == "PERCENTAGE":
            group.reward_percent_redeemed += _dec(cost)
        group.reward_redeemed += _dec(redeemed)

    # -- the friend's discount on the referred order itself ----------------------------------------
    for channel, currency, discounts in session.execute(
        select(Referral.channel_slug, Coupon.currency, func.sum(Coupon.redeemed_value))
        .join(OrderRecord, OrderRecord.id == Referral.order_record_id)
        .join(Coupon, and_(Coupon.tenant_id == tenant_id, Coupon.code == OrderRecord.voucher_code))
        .where(
            Referral.tenant_id == tenant_id,
            Referral.created_at >= since,
            Referral.created_at < until,
            Referral.state != Referral.REVOKED,
            Coupon.purpose == Coupon.FRIEND_OFFER,
            Coupon.state == Coupon.USED,
            *channel_filter(Referral.channel_slug),
        )
        .group_by(Referral.channel_slug, Coupon.currency)
    ).all():
        groups.get(channel, currency).friend_discounts += _dec(discounts)

    names = {slug: info.get("name") or slug for slug, info in channels.items()}
    rows = sorted(groups.rows.values(), key=lambda g: (g.channel == "", g.channel, g.currency))
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "channel": period.channel,
        "groups": [g.as_dict(names, period.days) for g in rows],
        "totals_by_currency": _totals_by_currency(rows),
        # Addresses that unsubscribed from the shop's non-transactional e-mail in the period (all channels).
        "unsubscribes": suppression.count_between(session, tenant_id, since, until),
    }


def _totals_by_currency(rows: list[Group]) -> list[dict]:
    totals: dict[str, Group] = {}
    for row in rows:
        if not row.currency:
            continue
        total = totals.setdefault(row.currency, Group("*", row.currency))
        for name in (
            "referrals",
            "new_customers",
            "rewards_issued",
            "rewards_used",
            "rewards_revoked",
            "clicks",
            "claims",
            "shares",
            "widget_views",
            "referred_orders",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        for name in (
            "revenue",
            "refunded",
            "reward_face_value",
            "reward_percent_redeemed",
            "reward_redeemed",
            "friend_discounts",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        for kind, values in row.reward_by_kind.items():
            total.add_kind(kind, **values)
    out = []
    for currency, total in sorted(totals.items()):
        out.append(
            {
                "currency": currency,
                "channels": sorted({r.channel for r in rows if r.currency == currency}),
                "referrals": total.referrals,
                "new_customers": total.new_customers,
                "revenue": money_str(total.revenue),
                "net_revenue": money_str(total.net_revenue),
                "reward_cost": money_str(total.reward_cost),
                "reward_by_kind": _kinds_dict(total.reward_by_kind),
                "friend_discounts": money_str(total.friend_discounts),
                "total_cost": money_str(total.total_cost),
                "roi": total.roi,
                "cost_per_customer": money_str(total.cost_per_customer),
            }
        )
    return out


# -- advocates -------------------------------------------------------------------------------------


def top_advocates(
    session: Session, tenant_id: int, period: Period, *, limit: int = 50, sort: str = "friends"
) -> list[dict]:
    """Advocates whose friends ordered in the period: friends, revenue, rewards, clicks."""
    _prepare_reporting(session)
    counted = Referral.state.not_in(NOT_COUNTED_STATES)
    friends = func.sum(case((counted, 1), else_=0))
    revenue = func.sum(case((counted, Referral.order_total), else_=literal(0)))
    order = (revenue.desc(), friends.desc()) if sort == "revenue" else (friends.desc(), revenue.desc())
    query = (
        select(
            Referral.advocate_id,
            friends.label("friends"),
            func.count(Referral.id).label("attempts"),
            revenue.label("revenue"),
        )
        .where(Referral.tenant_id == tenant_id, Referral.created_at >= period.since, Referral.created_at < period.until)
        .group_by(Referral.advocate_id)
        .order_by(*order, Referral.advocate_id)
        .limit(limit)
    )
    if period.channel is not None:
        query = query.where(Referral.channel_slug == period.channel)
    ranked = session.execute(query).all()
    ids = [row.advocate_id for row in ranked]
    if not ids:
        return []
    advocates = {a.id: a for a in session.scalars(select(Advocate).where(Advocate.id.in_(ids)))}
    rewards = {
        row[0]: (row[1], _dec(row[2]), _dec(row[3]))
        for row in session.execute(
            select(
                Coupon.advocate_id,
                func.count(Coupon.issued_at),
                func.sum(face_value()),
                func.sum(Coupon.redeemed_value),
            )
            .join(Referral, Referral.id == Coupon.referral_id)
            .where(
                Coupon.tenant_id == tenant_id,
                Coupon.purpose.in_((Coupon.REFERRER_REWARD, Coupon.MILESTONE_REWARD)),
                Coupon.advocate_id.in_(ids),
                Referral.created_at >= period.since,
                Referral.created_at < period.until,
            )
            .group_by(Coupon.advocate_id)
        ).all()
    }
    clicks = dict(
        session.execute(
            select(FunnelEvent.advocate_id, func.count())
            .where(
                FunnelEvent.tenant_id == tenant_id,
                FunnelEvent.kind == FunnelEvent.CLICK,
                FunnelEvent.advocate_id.in_(ids),
                FunnelEvent.at >= period.since,
                FunnelEvent.at < period.until,
            )
            .group_by(FunnelEvent.advocate_id)
        ).all()
    )
    shares = dict(
        session.execute(
            select(FunnelEvent.advocate_id, func.count())
            .where(
                FunnelEvent.tenant_id == tenant_id,
                FunnelEvent.kind == FunnelEvent.SHARE,
                FunnelEvent.advocate_id.in_(ids),
                FunnelEvent.at >= period.since,
                FunnelEvent.at < period.until,
            )
            .group_by(FunnelEvent.advocate_id)
        ).all()
    )
    out = []
    for row in ranked:
        advocate = advocates.get(row.advocate_id)
        if advocate is None:
            continue
        issued, face, redeemed = rewards.get(advocate.id, (0, ZERO, ZERO))
        erased = advocate.erased_at is not None
        out.append(
            {
                "id": advocate.id,
                "code": advocate.code,
                "email": None if erased else advocate.contact_email,
                "name": None if erased else advocate.first_name,
                "erased": erased,
                "channel": advocate.channel_slug,
                "currency": advocate.currency,
                "variant": advocate.variant,
                "since": advocate.created_at.isoformat(),
                "shares": shares.get(advocate.id, 0),
                "clicks": clicks.get(advocate.id, 0),
                "friends": int(row.friends or 0),
                "not_counted": int(row.attempts - (row.friends or 0)),
                "revenue": money_str(_dec(row.revenue)),
                "rewards": issued,
                "reward_value": money_str(face),
                "reward_redeemed": money_str(redeemed),
            }
        )
    return out


# -- A/B test ---------------------------------------------------------------------------------------


def experiment_counts(session: Session, tenant_id: int, period: Period) -> dict[tuple[str, str], dict]:
    """Per (variant, currency) of advocates who joined in the period: the raw counts of the A/B report."""
    _prepare_reporting(session)
    base = [
        Advocate.tenant_id == tenant_id,
        Advocate.variant.is_not(None),
        Advocate.created_at >= period.since,
        Advocate.created_at < period.until,
    ]
    if period.channel is not None:
        base.append(Advocate.channel_slug == period.channel)
    arms: dict[tuple[str, str], dict] = {}

    def arm(variant: str, currency: str) -> dict:
        return arms.setdefault(
            (variant, currency),
            {
                "advocates": 0,
                "sharers": 0,
                "converters": 0,
                "referrals": 0,
                "revenue": ZERO,
                "reward_cost": ZERO,
            },
        )

    # Sharers: advocates with a share since the period began (also after it ended), from the
    # per-advocate roll-up of closed days plus the open days' events.
    shared = rollup.shared_since(session, tenant_id, Advocate.id, period.start)
    for variant, currency, advocates, sharers in session.execute(
        select(Advocate.variant, Advocate.currency, func.count(), func.count(case((shared, 1))))
        .outerjoin(
            AdvocateLastShare,
            and_(AdvocateLastShare.tenant_id == tenant_id, AdvocateLastShare.advocate_id == Advocate.id),
        )
        .where(*base)
        .group_by(Advocate.variant, Advocate.currency)
    ).all():
        arm(variant, currency).update(advocates=advocates, sharers=sharers)

    # A holdout advocate's referral is rejected only because of the holdout: it still shows
    # what happens without an offer, so it counts for the holdout arm.
    stands = or_(
        Referral.state.not_in(NOT_COUNTED_STATES),
        and_(
            Referral.state == Referral.REJECTED, Advocate.variant == "holdout", Referral.decision.in_(("allow", "flag"))
        ),
    )
    for variant, currency, converters, referrals, revenue in session.execute(
        select(
            Advocate.variant,
            Advocate.currency,
            func.count(distinct(Referral.advocate_id)),
            func.count(Referral.id),
            func.sum(Referral.order_total),
        )
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .where(Referral.tenant_id == tenant_id, stands, *base)
        .group_by(Advocate.variant, Advocate.currency)
    ).all():
        data = arm(variant, currency)
        data.update(converters=converters, referrals=referrals, revenue=_dec(revenue))

    # Only coupons that cost something are joined (revoked, cancelled, unused percentage ones add 0).
    costs_something = or_(
        and_(Coupon.state.in_((Coupon.ISSUED, Coupon.USED)), Coupon.value_type.in_(FACE_VALUE_KINDS)),
        Coupon.state == Coupon.USED,
        Coupon.redeemed_value > 0,
    )
    for variant, currency, cost in session.execute(
        select(Advocate.variant, Advocate.currency, func.sum(reward_cost()))
        .select_from(Coupon)
        .join(Referral, Referral.id == Coupon.referral_id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .where(Coupon.tenant_id == tenant_id, Coupon.purpose.in_(REWARD_PURPOSES), costs_something, *base)
        .group_by(Advocate.variant, Advocate.currency)
    ).all():
        arm(variant, currency)["reward_cost"] = _dec(cost)
    return arms
