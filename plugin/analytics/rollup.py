"""Roll-ups of funnel events, so a 90-day report does not re-read a million rows.

A day is *closed* once it ended more than a day ago (events are stamped when they
are written and never back-dated, and the extra day covers a transaction that began
before midnight). Closed days are folded in the first time a report needs them; open
days are read live.

* FunnelDaily: counts per day, channel and kind (the program report). Concurrent
  reports may both count a day: the unique key keeps one copy, and both are equal.
* AdvocateLastShare: each advocate's last closed day with a share (the A/B report's
  sharers), folded day by day up to RollupProgress.through. Folding twice is harmless:
  the later day wins.

Only events are rolled up. Referral, order and coupon money changes long after the day
(refunds, revocations, coupons spent), so the reports always read it live.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.analytics.models import AdvocateLastShare, FunnelDaily, FunnelEvent, RollupProgress

KINDS = (FunnelEvent.WIDGET_VIEW, FunnelEvent.SHARE, FunnelEvent.CLICK, FunnelEvent.CLAIM)


def last_closed_day(today: date | None = None) -> date:
    return (today or datetime.now(UTC).date()) - timedelta(days=2)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(session: Session, column):
    """The UTC calendar day of a timestamp (a date on PostgreSQL, ISO text on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.strftime("%Y-%m-%d", column)


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def live_counts(session: Session, tenant_id: int, since: datetime, until: datetime, channel: str | None):
    """(channel, kind, share_channel, day, count) straight from FunnelEvent."""
    day = day_of(session, FunnelEvent.at)
    query = (
        select(FunnelEvent.channel_slug, FunnelEvent.kind, FunnelEvent.share_channel, day, func.count())
        .where(
            FunnelEvent.tenant_id == tenant_id,
            FunnelEvent.kind.in_(KINDS),
            FunnelEvent.at >= since,
            FunnelEvent.at < until,
        )
        .group_by(FunnelEvent.channel_slug, FunnelEvent.kind, FunnelEvent.share_channel, day)
    )
    if channel is not None:
        query = query.where(FunnelEvent.channel_slug == channel)
    return [(c or "", k, s or "", as_date(d), n) for c, k, s, d, n in session.execute(query).all()]


def ensure_closed_days(session: Session, tenant_id: int, first: date, last: date) -> int:
    """Count every closed day in [first, last] not counted yet; returns how many rows were written."""
    if first > last:
        return 0
    done = set(
        session.scalars(
            select(FunnelDaily.day)
            .where(FunnelDaily.tenant_id == tenant_id, FunnelDaily.day >= first, FunnelDaily.day <= last)
            .distinct()
        ).all()
    )
    missing = [
        first + timedelta(days=i) for i in range((last - first).days + 1) if first + timedelta(days=i) not in done
    ]
    if not missing:
        return 0
    wanted = set(missing)
    rows = [
        {
            "tenant_id": tenant_id,
            "day": day,
            "channel_slug": channel,
            "kind": kind,
            "share_channel": share,
            "count": count,
        }
        for channel, kind, share, day, count in live_counts(
            session, tenant_id, _midnight(missing[0]), _midnight(missing[-1] + timedelta(days=1)), None
        )
        if day in wanted
    ]
    if not rows:
        return 0  # days without events: nothing to store, and probing them again is one index lookup
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(FunnelDaily).values(rows).on_conflict_do_nothing())
    return len(rows)


def daily_counts(
    session: Session, tenant_id: int, start: date, end: date, channel: str | None, *, today: date | None = None
):
    """(channel, kind, share_channel, day, count) for [start, end]: stored days, then live ones."""
    closed = min(end, last_closed_day(today))
    out = []
    if start <= closed:
        ensure_closed_days(session, tenant_id, start, closed)
        query = select(
            FunnelDaily.channel_slug, FunnelDaily.kind, FunnelDaily.share_channel, FunnelDaily.day, FunnelDaily.count
        ).where(FunnelDaily.tenant_id == tenant_id, FunnelDaily.day >= start, FunnelDaily.day <= closed)
        if channel is not None:
            query = query.where(FunnelDaily.channel_slug == channel)
        out += [(c, k, s, as_date(d), n) for c, k, s, d, n in session.execute(query).all()]
    live_from = max(start, closed + timedelta(days=1))
    if live_from <= end:
        out += live_counts(session, tenant_id, _midnight(live_from), _midnight(end + timedelta(days=1)), channel)
    return out


LAST_SHARE = "advocate_last_share"


def _insert(session: Session, model):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _later(table_column, excluded_column):
    return case((excluded_column > table_column, excluded_column), else_=table_column)


def fold_last_shares(session: Session, tenant_id: int, *, today: date | None = None) -> date:
    """Fold the shares of every closed day not folded yet into AdvocateLastShare; returns the
    last day folded (shares after it must be read from FunnelEvent)."""
    through = last_closed_day(today)
    folded = session.scalar(
        select(RollupProgress.through).where(RollupProgress.tenant_id == tenant_id, RollupProgress.rollup == LAST_SHARE)
    )
    if folded is not None and folded >= through:
        return folded
    shares = [
        FunnelEvent.tenant_id == tenant_id,
        FunnelEvent.kind == FunnelEvent.SHARE,
        FunnelEvent.advocate_id.is_not(None),
        FunnelEvent.at < _midnight(through + timedelta(days=1)),
    ]
    if folded is not None:
        shares.append(FunnelEvent.at >= _midnight(folded + timedelta(days=1)))
    # Ordered, so two reports folding at once lock the rows in the same order (no deadlock).
    last_day = (
        select(literal(tenant_id), FunnelEvent.advocate_id, func.max(day_of(session, FunnelEvent.at)))
        .where(*shares)
        .group_by(FunnelEvent.advocate_id)
        .order_by(FunnelEvent.advocate_id)
    )
    fold = _insert(session, AdvocateLastShare).from_select(["tenant_id", "advocate_id", "day"], last_day)
    session.execute(
        fold.on_conflict_do_update(
            index_elements=["tenant_id", "advocate_id"], set_={"day": _later(AdvocateLastShare.day, fold.excluded.day)}
        )
    )
    progress = _insert(session, RollupProgress).values(tenant_id=tenant_id, rollup=LAST_SHARE, through=through)
    session.execute(
        progress.on_conflict_do_update(
            index_elements=["tenant_id", "rollup"],
            set_={"through": _later(RollupProgress.through, progress.excluded.through)},
        )
    )
    return through


def shared_since(session: Session, tenant_id: int, advocate_id, first_day: date):
    """SQL condition "the advocate shared on or after first_day (UTC)", for a query that
    outer-joins AdvocateLastShare on (tenant_id, advocate_id)."""
    folded = fold_last_shares(session, tenant_id)
    live_from = max(first_day, folded + timedelta(days=1))
    shared_live = select(FunnelEvent.advocate_id).where(
        FunnelEvent.tenant_id == tenant_id,
        FunnelEvent.kind == FunnelEvent.SHARE,
        FunnelEvent.at >= _midnight(live_from),
    )
    return (AdvocateLastShare.day >= first_day) | advocate_id.in_(shared_live)
