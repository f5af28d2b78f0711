"""A database holding data upgrades cleanly: for every revision of the chain, a database built at
that revision is filled with rows in that revision's schema (tests/migrations/seeds.py, plain SQL),
upgraded to head, and read and used through today's models.

Starting at every revision covers "from the previous revision" (a deployment one release behind) as
well as older ones; starting at the head itself checks the newest seed against the models (and is
the only case while 0001 is the only revision)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.mail.models import OutboundEmail
from plugin.migrations import upgrade
from plugin.models import Base
from plugin.referrals.models import Advocate, FriendClaim, LedgerEntry, OrderRecord, Referral
from plugin.tenants.crypto import TokenBox
from plugin.tenants.models import Tenant
from plugin.webhooks.models import WebhookEvent
from tests.migrations import seeds
from tests.migrations.conftest import engine_for
from tests.migrations.revisions import revision_chain

CHAIN = revision_chain()
MODELS = {mapper.local_table.name: mapper for mapper in Base.registry.mappers}


@contextmanager
def orm(url: str):
    engine = engine_for(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("start", CHAIN, ids=lambda rev: f"from-{rev}")
def test_rows_written_at_a_revision_are_intact_and_usable_at_head(blank_database, start):
    upgrade(blank_database, start)
    with orm(blank_database) as engine, engine.begin() as conn:
        seeded = seeds.seed(conn, start, CHAIN)
    upgrade(blank_database, "head")
    for revision in CHAIN[CHAIN.index(start) + 1 :]:
        if revision in seeds.AFTER_UPGRADE:
            seeds.AFTER_UPGRADE[revision](seeded)

    with orm(blank_database) as engine:
        assert_intact(engine, seeded)
        assert_usable(engine, seeded)


def assert_intact(engine, seeded: seeds.Seeded) -> None:
    """Every seeded row reads back through its model with the values written."""
    with Session(engine) as session:
        for table, rows in seeded.expected.items():
            mapper = MODELS[table]
            for row_id, values in rows.items():
                obj = session.get(mapper.class_, row_id)
                assert obj is not None, f"{table} #{row_id} is gone"
                read = {
                    column: getattr(obj, mapper.get_property_by_column(mapper.local_table.c[column]).key)
                    for column in values
                }
                assert read == values, f"{table} #{row_id}"


def assert_usable(engine, seeded: seeds.Seeded) -> None:
    ids = seeded.ids
    with Session(engine) as session:
        tenant = session.get(Tenant, ids["tenant"])
        assert TokenBox(seeds.SECRET_KEY, old_keys=[]).decrypt(tenant.token_encrypted) == seeds.APP_TOKEN
        assert (tenant.is_installed, session.get(Tenant, ids["uninstalled_tenant"]).is_installed) == (True, False)

        referral = session.get(Referral, ids["referral"])
        assert referral.advocate.code == "ALICE7K2"
        assert session.get(FriendClaim, ids["claim"]).advocate.id == ids["advocate"]
        coupons = session.execute(select(Coupon.purpose, Coupon.code).where(Coupon.referral_id == referral.id))
        assert dict(coupons.all()) == {"referrer_reward": "THANKS-ALICE7K2-7QX", "friend_reward": "THANKS-FRIEND1-K3P"}
        steps = session.scalars(
            select(LedgerEntry.to_state).where(LedgerEntry.referral_id == referral.id).order_by(LedgerEntry.at)
        )
        assert list(steps) == ["pending", "held", "approved", "issued"]
        # What the relay polls for (a partial index on PostgreSQL and SQLite).
        assert list(session.scalars(select(WebhookEvent.id).where(WebhookEvent.queued_at.is_(None)))) == [
            ids["unqueued_event"]
        ]

    with Session(engine, info={"tenant_id": ids["uninstalled_tenant"]}) as session:
        assert list(session.scalars(select(Advocate.code))) == ["BOB9Q4ZX"]  # tenant isolation still applies

    # New rows get fresh ids after the seeded ones (sequences survived), updates and relationships work.
    with Session(engine) as session, session.begin():
        highest = {
            model: session.scalar(select(func.max(model.id)))
            for model in (Advocate, OrderRecord, Referral, Coupon, WebhookEvent, OutboundEmail)
        }
        newcomer = Advocate(
            tenant_id=ids["tenant"], email="carol@example.com", contact_email="carol@example.com", code="CAROL5MN"
        )
        order = OrderRecord(tenant_id=ids["tenant"], saleor_order_id="T3JkZXI6MjY=", email="dan@example.com")
        session.add_all([newcomer, order])
        session.flush()
        referral = Referral(
            tenant_id=ids["tenant"],
            advocate_id=newcomer.id,
            saleor_order_id=order.saleor_order_id,
            order_record_id=order.id,
            friend_email="dan@example.com",
            friend_contact_email="dan@example.com",
            channel_slug="default-channel",
            currency="USD",
            order_total=order.total,
            source="metadata",
        )
        session.add(referral)
        session.flush()
        coupon = Coupon(
            tenant_id=ids["tenant"],
            purpose="referrer_reward",
            referral_id=referral.id,
            advocate_id=newcomer.id,
            recipient_email="carol@example.com",
            code="THANKS-CAROL-1",
            channel_slug="default-channel",
            saleor_channel_id="Q2hhbm5lbDox",
            currency="USD",
            value_type="FIXED",
            value=15,
        )
        event = WebhookEvent(tenant_id=ids["tenant"], event_type="order_paid", body_sha256="c" * 64, body="{}")
        email = OutboundEmail(
            tenant_id=ids["tenant"],
            dedup_key="invite:new",
            kind="invite",
            to_email="carol@example.com",
            subject="Hi",
            text_body="Hi",
            html_body="<p>Hi</p>",
        )
        session.add_all([coupon, event, email])
        session.flush()
        for obj in (newcomer, order, referral, coupon, event, email):
            assert obj.id > highest[type(obj)], type(obj).__name__
        old = session.get(Referral, ids["referral"])
        before = old.updated_at
        old.state = Referral.REVOKED
        session.add(
            LedgerEntry(
                tenant_id=ids["tenant"],
                referral_id=old.id,
                from_state="issued",
                to_state="revoked",
                reason="Order refunded.",
            )
        )
    with Session(engine) as session:
        old = session.get(Referral, ids["referral"])
        assert old.state == "revoked"
        assert old.updated_at > before

    # The unique keys that make deliveries, codes and e-mails once-only still hold.
    processed = seeded.expected["webhook_events"][ids["processed_event"]]
    duplicates = [
        WebhookEvent(
            tenant_id=ids["tenant"],
            event_type=processed["event_type"],
            body_sha256=processed["body_sha256"],
            body=processed["body"],
        ),
        Advocate(
            tenant_id=ids["uninstalled_tenant"],
            email="eve@example.com",
            contact_email="eve@example.com",
            code="ALICE7K2",
        ),
        Coupon(
            tenant_id=ids["tenant"],
            purpose="friend_reward",
            referral_id=ids["referral"],
            recipient_email="x@example.com",
            code="ANOTHER-CODE",
            channel_slug="c",
            saleor_channel_id="c",
            currency="USD",
            value_type="FIXED",
            value=1,
        ),
        OutboundEmail(
            tenant_id=ids["tenant"],
            dedup_key="invite:1",
            kind="invite",
            to_email="a@example.com",
            subject="s",
            text_body="t",
            html_body="h",
        ),
    ]
    for duplicate in duplicates:
        with Session(engine) as session:
            session.add(duplicate)
            with pytest.raises(IntegrityError):
                session.flush()

    # Deleting a shop still removes everything it owns (ON DELETE CASCADE survived).
    with Session(engine) as session, session.begin():
        session.delete(session.get(Tenant, ids["uninstalled_tenant"]))
    with Session(engine) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Advocate).where(Advocate.tenant_id == ids["uninstalled_tenant"])
            )
            == 0
        )
        assert session.get(WebhookEvent, ids["other_event"]) is None
        assert session.get(Advocate, ids["advocate"]) is not None
