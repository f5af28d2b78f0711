"""Data-subject requests for one shop: erase (pseudonymise) and export everything about an e-mail.

Erasure replaces the person's e-mail everywhere with a stable pseudonym
(`erased-<12 hex>`, see plugin.identity: the same person always maps to the same
token, so counts and sums in analytics do not move). Names, Saleor user ids, address
fingerprints, e-mail bodies and the personal parts of stored webhook payloads are blanked.
The person's rewards still in flight are cancelled: reserved codes are never created,
issued unused codes are deleted in Saleor; spent codes stay spent.

Erasure runs in two steps, both safe to repeat (a re-run finds rows by the pseudonym):
  1. one transaction pseudonymises every row, then sweeps every text column of every tenant
     table for any spelling of the e-mail that is left (tables added later included);
  2. the person's unused codes are taken back one by one, each under its row lock (the
     same order the coupon tasks lock in), deleting issued ones in Saleor.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Session

import plugin.models  # noqa: F401 - every table registered, for the sweep over all of them
from plugin.analytics.models import FunnelEvent
from plugin.coupons import service as coupon_service
from plugin.coupons.models import Coupon
from plugin.db import Base, session_scope, utcnow
from plugin.identity import mask_email, normalize_email, pseudonym
from plugin.mail.models import OutboundEmail
from plugin.referrals.models import Advocate, FriendClaim, LedgerEntry, OrderRecord, Referral
from plugin.saleor.client import SaleorClient, SaleorError
from plugin.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

ERASED_TEXT = "[erased]"
# Keys of Saleor address/user objects that describe a person.
PERSONAL_KEYS = {
    "firstName",
    "lastName",
    "companyName",
    "streetAddress1",
    "streetAddress2",
    "city",
    "cityArea",
    "postalCode",
    "countryArea",
    "phone",
}


@dataclass
class ErasureReport:
    pseudonym: str
    advocates: int = 0
    friend_claims: int = 0
    orders: int = 0
    referrals: int = 0
    coupons: int = 0
    codes_cancelled: int = 0  # reserved, never created in Saleor
    codes_deleted: int = 0  # issued and unused: deleted in Saleor
    codes_already_used: int = 0  # spent before the request: nothing to take back
    emails: int = 0
    webhook_events: int = 0
    other_values: int = 0  # any other cell that still spelled the e-mail (ledger reasons, ...)
    saleor_errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.saleor_errors

    def as_dict(self) -> dict:
        return {**asdict(self), "complete": self.complete}


# -- finding the person --------------------------------------------------------------------


@dataclass
class _Person:
    normalized: str
    token: str
    spellings: set[str]  # lower-cased forms of the e-mail we hold (typed variants included)
    advocate_ids: list[int]
    order_ids: list[int]
    saleor_order_ids: list[str]

    @property
    def keys(self) -> list[str]:
        """Values the identity columns may hold: the normalised e-mail, or the token after a first run."""
        return [self.normalized, self.token]


def _find_person(session: Session, email: str, secret: str) -> _Person:
    normalized = normalize_email(email)
    token = pseudonym(normalized, secret)
    keys = [normalized, token]
    spellings = {email.strip().lower(), normalized}
    for column, ident in (
        (Advocate.contact_email, Advocate.email),
        (FriendClaim.contact_email, FriendClaim.email),
        (OrderRecord.contact_email, OrderRecord.email),
        (Referral.friend_contact_email, Referral.friend_email),
    ):
        spellings.update(v.lower() for v in session.scalars(select(column).where(ident.in_(keys)).distinct()) if v)
    spellings.discard(token)
    orders = session.execute(
        select(OrderRecord.id, OrderRecord.saleor_order_id).where(OrderRecord.email.in_(keys))
    ).all()
    return _Person(
        normalized=normalized,
        token=token,
        spellings={s for s in spellings if s},
        advocate_ids=list(session.scalars(select(Advocate.id).where(Advocate.email.in_(keys)))),
        order_ids=[o[0] for o in orders],
        saleor_order_ids=[o[1] for o in orders],
    )


def _as_friend(person: _Person):
    return Referral.friend_email.in_(person.keys)


def _their_coupons(person: _Person):
    """Coupons addressed to the person (friend offers, their rewards as friend and as advocate)."""
    return or_(
        func.lower(Coupon.recipient_email).in_(sorted(person.spellings | {person.token})),
        Coupon.advocate_id.in_(person.advocate_ids or [-1]),
    )


# -- erase ---------------------------------------------------------------------------------


def erase(
    tenant_id: int, email: str, *, secret: str, saleor: Callable[[], SaleorClient | None], actor: str = "merchant"
) -> ErasureReport:
    """Erase what this shop stores about `email`. `saleor()` gives a client (None: uninstalled).

    Referrals keep their state (the orders happened: revenue and counts stay right); only the
    person's own rewards are cancelled. A reward reserved for them later (a held referral
    approved after the erasure) is cancelled when a task tries to issue it, because its
    recipient is a pseudonym (see plugin.coupons.tasks.issue_coupon).
    """
    with session_scope(tenant_id) as session:
        person = _find_person(session, email, secret)
        report = ErasureReport(pseudonym=person.token)
        coupon_ids = session.scalars(
            select(Coupon.id)
            .where(_their_coupons(person), Coupon.state.in_([Coupon.RESERVED, Coupon.ISSUED]))
            .order_by(Coupon.id)
        ).all()
        # First the pseudonyms, committed: from now on no task can mail or issue to the person.
        _pseudonymise(session, tenant_id, person, report)

    client = None
    if coupon_ids:
        try:
            client = saleor()
        except SaleorError as exc:
            report.saleor_errors.append(f"Saleor client unavailable: {exc}")
    reason = "Personal data erased at the customer's request: reward cancelled."
    for coupon_id in coupon_ids:
        _take_back(tenant_id, coupon_id, client, reason, actor, report)
    log.info("erased personal data in tenant %s (pseudonym %s, complete=%s)", tenant_id, person.token, report.complete)
    return report


def _take_back(
    tenant_id: int, coupon_id: int, client: SaleorClient | None, reason: str, actor: str, report: ErasureReport
) -> None:
    with session_scope(tenant_id) as session:
        coupon = session.scalar(select(Coupon).where(Coupon.id == coupon_id).with_for_update())
        if coupon is None or coupon.state not in (Coupon.RESERVED, Coupon.ISSUED):
            return
        was = coupon.state
        if was == Coupon.ISSUED and client is None:
            report.saleor_errors.append(f"code {coupon.code} is still live in Saleor")
            return
        try:
            coupon_service.revoke(session, client, coupon, reason, actor)
        except SaleorError as exc:
            report.saleor_errors.append(f"code {coupon.code}: {exc}")
            session.rollback()
            return
        if coupon.state == Coupon.USED:
            report.codes_already_used += 1
        elif was == Coupon.ISSUED:
            report.codes_deleted += 1
        else:
            report.codes_cancelled += 1


def _pseudonymise(session: Session, tenant_id: int, person: _Person, report: ErasureReport) -> None:
    token, keys = person.token, person.keys
    now = utcnow()

    advocates = session.scalars(select(Advocate).where(Advocate.email.in_(keys))).all()
    for advocate in advocates:
        advocate.email = advocate.contact_email = token
        advocate.first_name = ""
        advocate.saleor_user_id = None
        advocate.erased_at = advocate.erased_at or now
    report.advocates = len(advocates)

    claims = session.scalars(select(FriendClaim).where(FriendClaim.email.in_(keys))).all()
    for claim in claims:
        claim.email = claim.contact_email = token
    report.friend_claims = len(claims)

    orders = session.scalars(select(OrderRecord).where(OrderRecord.email.in_(keys))).all()
    for order in orders:
        order.email = order.contact_email = token
        order.first_name = ""
        order.saleor_user_id = None
        order.shipping_fingerprint = None
    report.orders = len(orders)

    referrals = session.scalars(select(Referral).where(_as_friend(person))).all()
    for referral in referrals:
        referral.friend_email = referral.friend_contact_email = token
        referral.friend_first_name = ""
        referral.friend_user_id = None
    report.referrals = len(referrals) + session.scalar(
        select(func.count(Referral.id)).where(Referral.advocate_id.in_(person.advocate_ids or [-1]))
    )

    coupons = session.scalars(select(Coupon).where(_their_coupons(person))).all()
    for coupon in coupons:
        coupon.recipient_email = token
    report.coupons = len(coupons)

    emails = session.scalars(
        select(OutboundEmail).where(func.lower(OutboundEmail.to_email).in_(sorted(person.spellings | {token})))
    ).all()
    for message in emails:
        message.to_email = token
        message.subject = ERASED_TEXT
        message.text_body = message.html_body = ""
        if message.status == OutboundEmail.PENDING:
            message.status = OutboundEmail.FAILED
            message.last_error = "Not sent: the recipient's data was erased."
    report.emails = len(emails)

    events = session.scalars(
        select(WebhookEvent).where(
            or_(
                WebhookEvent.order_id.in_(person.saleor_order_ids or ["-"]),
                *[WebhookEvent.body.ilike(f"%{_like(s)}%", escape="\\") for s in person.spellings],
            )
        )
    ).all()
    for event in events:
        event.body = _scrub_payload(event.body, person, event.order_id in person.saleor_order_ids)
    report.webhook_events = len(events)

    session.flush()
    report.other_values = _sweep_every_table(session, tenant_id, person)


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _replacer(person: _Person) -> Callable[[str], str]:
    spellings = sorted(person.spellings, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(s) for s in spellings), re.IGNORECASE) if spellings else None
    return (lambda text: pattern.sub(person.token, text)) if pattern else (lambda text: text)


def _scrub_payload(body: str, person: _Person, is_their_order: bool) -> str:
    """The stored delivery minus the person: their e-mail, name and address go, the order's facts stay."""
    replace = _replacer(person)
    try:
        payload = json.loads(body)
    except ValueError:
        return replace(body)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (_blank(k, v) if is_their_order and k in PERSONAL_KEYS | {"user"} else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return replace(value)
        return value

    return json.dumps(walk(payload))


def _blank(key: str, value: Any) -> Any:
    if key == "user":  # the Saleor customer account: id, e-mail and names all identify the person
        return None
    return "" if isinstance(value, str) else value


def _text_columns(table) -> list:
    return [
        c
        for c in table.columns
        if not c.primary_key and isinstance(c.type, (String, Text, JSON)) and c.name != "tenant_id"
    ]


def _sweep_every_table(session: Session, tenant_id: int, person: _Person) -> int:
    """Replace any remaining spelling of the e-mail in any text or JSON cell of this tenant's rows."""
    if not person.spellings:
        return 0
    replace = _replacer(person)
    changed = 0
    for table in Base.metadata.sorted_tables:
        if "tenant_id" not in table.columns or len(table.primary_key.columns) != 1:
            continue
        pk = next(iter(table.primary_key.columns))
        for column in _text_columns(table):
            as_text = func.lower(column.cast(Text)) if isinstance(column.type, JSON) else func.lower(column)
            matches = or_(*[as_text.like(f"%{_like(s)}%", escape="\\") for s in person.spellings])
            rows = session.execute(select(pk, column).where(table.c.tenant_id == tenant_id, matches)).all()
            for row_id, value in rows:
                if isinstance(column.type, JSON):
                    new_value = json.loads(replace(json.dumps(value)))
                else:
                    new_value = replace(value)
                if new_value != value:
                    session.execute(update(table).where(pk == row_id).values({column.name: new_value}))
                    changed += 1
    return changed


# -- export --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, bytes):
        return None
    return value


def _row(obj, *, hide: Iterable[str] = ("tenant_id",), mask: Iterable[str] = ()) -> dict:
    out = {}
    for column in obj.__table__.columns:
        if column.name in hide:
            continue
        value = getattr(obj, column.key)
        if column.name in mask and isinstance(value, str):
            value = mask_email(value) if "@" in value else (value[:1] + "***" if value else value)
        out[column.name] = _plain(value)
    return out


def export(tenant_id: int, email: str, *, secret: str) -> dict:
    """Everything this shop stores about `email`, as JSON-ready data (other people's e-mails masked)."""
    with session_scope(tenant_id) as session:
        person = _find_person(session, email, secret)
        as_friend = session.scalars(select(Referral).where(_as_friend(person)).order_by(Referral.id)).all()
        as_advocate = session.scalars(
            select(Referral).where(Referral.advocate_id.in_(person.advocate_ids or [-1])).order_by(Referral.id)
        ).all()
        coupons = session.scalars(select(Coupon).where(_their_coupons(person)).order_by(Coupon.id)).all()
        referral_ids = [r.id for r in as_friend] + [r.id for r in as_advocate]
        ledger = session.scalars(
            select(LedgerEntry)
            .where(
                or_(
                    LedgerEntry.coupon_id.in_([c.id for c in coupons] or [-1]),
                    and_(LedgerEntry.referral_id.in_(referral_ids or [-1]), LedgerEntry.coupon_id.is_(None)),
                )
            )
            .order_by(LedgerEntry.id)
        ).all()
        emails = session.scalars(
            select(OutboundEmail)
            .where(func.lower(OutboundEmail.to_email).in_(sorted(person.spellings | {person.token})))
            .order_by(OutboundEmail.id)
        ).all()
        events = session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.order_id.in_(person.saleor_order_ids or ["-"]))
            .order_by(WebhookEvent.id)
        ).all()
        funnel = session.scalars(
            select(FunnelEvent).where(FunnelEvent.advocate_id.in_(person.advocate_ids or [-1])).order_by(FunnelEvent.id)
        ).all()
        friend_fields = ("friend_email", "friend_contact_email", "friend_first_name", "friend_user_id")
        data = {
            "email": email.strip(),
            "normalized_email": person.normalized,
            "generated_at": utcnow().isoformat(),
            "advocate": [
                _row(a) for a in session.scalars(select(Advocate).where(Advocate.id.in_(person.advocate_ids or [-1])))
            ],
            "friend_claims": [
                _row(c)
                for c in session.scalars(
                    select(FriendClaim).where(FriendClaim.email.in_(person.keys)).order_by(FriendClaim.id)
                )
            ],
            "orders": [
                _row(o)
                for o in session.scalars(
                    select(OrderRecord).where(OrderRecord.id.in_(person.order_ids or [-1])).order_by(OrderRecord.id)
                )
            ],
            "referrals_as_friend": [_row(r) for r in as_friend],
            # Friends are other people: the advocate sees them masked, as in the portal.
            "referrals_as_advocate": [_row(r, mask=friend_fields) for r in as_advocate],
            "coupons": [_row(c) for c in coupons],
            "ledger": [_row(e) for e in ledger],
            "emails": [_row(m, hide=("tenant_id", "dedup_key")) for m in emails],
            "webhook_events": [
                {
                    "id": e.id,
                    "event_type": e.event_type,
                    "received_at": _plain(e.received_at),
                    "order_id": e.order_id,
                    "payload": _payload(e.body),
                }
                for e in events
            ],
            "funnel_events": [_row(f) for f in funnel],
        }
    data["found"] = any(
        data[k] for k in ("advocate", "friend_claims", "orders", "referrals_as_friend", "coupons", "emails")
    )
    return data


def _payload(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body
