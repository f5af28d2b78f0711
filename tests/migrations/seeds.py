"""Rows as the app wrote them at a given schema revision, inserted with plain SQL.

``SEEDS[rev]`` fills a database that is at revision ``rev`` (or at a later one, until a revision
changes what the seed writes). The upgrade test seeds a database at every revision of the chain with
the newest seed at or before it, upgrades to head and reads everything back through the ORM.

When your revision ...

* adds a nullable column, or one with a server default: nothing to do here (the upgrade test
  already shows old rows survive it; add the value to a new seed if you want it covered);
* adds a NOT NULL column without a server default, or renames or drops a column a seed writes:
  add a seed for your revision that reuses the newest one and adapts its rows, and register it in
  ``SEEDS`` (older seeds stay: they are the data of databases deployed before your revision)::

      def seed_0002(s: Seeder) -> None:
          s.adapt("advocates", lambda row: {**row, "tier": "gold"})
          seed_0001(s)

* changes stored values (a backfill, a new JSON shape): register a function in ``AFTER_UPGRADE``
  that edits ``Seeded.expected`` the way your upgrade changes the rows seeded before it, e.g.
  ``for row in seeded.expected["advocates"].values(): row["tier"] = "basic"``.

Each value is given as the ORM reads it at head (aware datetimes, ``Decimal``, ``dict``); ``Seeder``
writes it the way SQLAlchemy stores it on that database (e.g. SQLite keeps naive UTC text).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from tests.fixtures import captured_jwks, load

SECRET_KEY = "migration-test-secret-key-" + "x" * 32
APP_TOKEN = "seeded-saleor-app-token"
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@dataclass
class Seeded:
    ids: dict[str, int] = field(default_factory=dict)
    # table -> row id -> {column: value as the ORM reads it after the upgrade}
    expected: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


class Seeder:
    """Plain-SQL inserts into the schema a database has now, remembering what was written."""

    def __init__(self, conn: Connection, revision: str, seed_name: str):
        self.conn = conn
        self.revision = revision
        self.seed_name = seed_name
        self.sqlite = conn.dialect.name == "sqlite"
        self.seeded = Seeded()
        self._inspector = inspect(conn)
        self._adapters: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {}

    def adapt(self, table: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Rewrite every row an older seed writes into `table` (a later revision's schema)."""
        self._adapters.setdefault(table, []).append(change)

    def insert(self, name: str | None, table: str, **values: Any) -> int:
        for change in self._adapters.get(table, []):
            values = change(dict(values))
        self._check_columns(table, values)
        columns = ", ".join(values)
        params = ", ".join(f":{c}" for c in values)
        row_id = self.conn.execute(
            text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"),
            {c: self._stored(v) for c, v in values.items()},
        ).scalar_one()
        self.seeded.expected.setdefault(table, {})[row_id] = values
        if name:
            self.seeded.ids[name] = row_id
        return row_id

    def _stored(self, value: Any) -> Any:
        if isinstance(value, datetime):
            utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return utc if self.sqlite else utc + "+00:00"
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        if isinstance(value, bool) and self.sqlite:
            return int(value)
        return value

    def _check_columns(self, table: str, values: dict[str, Any]) -> None:
        columns = {c["name"]: c for c in self._inspector.get_columns(table)}
        unknown = sorted(set(values) - set(columns))
        required = sorted(
            name
            for name, c in columns.items()
            if name != "id" and not c["nullable"] and c.get("default") is None and name not in values
        )
        if unknown or required:
            raise AssertionError(
                f"{self.seed_name} does not fit {table} at revision {self.revision}: "
                f"unknown columns {unknown}, required columns not written {required}. "
                f"Add a seed for the revision that changed it (tests/migrations/seeds.py)."
            )


def _fernet_0001(secret: str) -> Fernet:
    """How revision 0001's app encrypted Saleor tokens (plugin/tenants/crypto.py at the time)."""
    digest = hashlib.sha256(b"saleor-referrals/app-token/v1\x00" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seed_0001(s: Seeder) -> None:
    t = T0
    tenant = s.insert(
        "tenant",
        "tenants",
        saleor_api_url="https://shop-one.example.com/graphql/",
        domain="shop-one.example.com",
        app_id="QXBwOjI=",
        token_encrypted=_fernet_0001(SECRET_KEY).encrypt(APP_TOKEN.encode()),
        jwks=captured_jwks(),
        jwks_fetched_at=t,
        saleor_version="3.23.28",
        shop_name="Sklep «Łódź» ☕",
        installed_at=t - timedelta(days=30),
        uninstalled_at=None,
    )
    other = s.insert(
        "uninstalled_tenant",
        "tenants",
        saleor_api_url="https://shop-two.example.com/graphql/",
        domain="shop-two.example.com",
        app_id="QXBwOjU=",
        token_encrypted=None,
        jwks=None,
        jwks_fetched_at=None,
        saleor_version="3.22.67",
        shop_name=None,
        installed_at=t - timedelta(days=60),
        uninstalled_at=t - timedelta(days=1),
    )

    s.insert(
        "program",
        "program_settings",
        tenant_id=tenant,
        version=4,
        updated_at=t - timedelta(days=2),
        data={
            "trigger_status": "PAID",
            "default_rewards": {
                "referrer": {"type": "FIXED", "value": "15"},
                "friend": {"type": "PERCENTAGE", "value": "10"},
                "min_order": "20",
                "expiry_days": 60,
            },
            "channels": {"channel-eur": {"referrer": {"type": "FIXED", "value": "12.50"}}},
            "hold_days": 7,
            "languages": ["en", "lv"],
            "email": {"sender": "Sklep <hi@shop-one.example.com>", "subjects": {"lv": {"invite": "Uzaicini draugu"}}},
            "fraud": {"rules": {"self_referral": "block"}, "coupon_site_domains": ["coupons.example"]},
        },
    )
    s.insert(
        None,
        "settings_changes",
        tenant_id=tenant,
        actor="anna@shop-one.example.com",
        at=t - timedelta(days=2),
        changes={"trigger_status": ["FULLY_PAID", "PAID"], "hold_days": [0, 7]},
    )

    alice = s.insert(
        "advocate",
        "advocates",
        tenant_id=tenant,
        email="alice@example.com",
        contact_email="Alice@Example.com",
        first_name="Alīse",
        saleor_user_id="VXNlcjox",
        code="ALICE7K2",
        locale="lv",
        variant="B",
        first_order_id="T3JkZXI6MjQ=",
        channel_slug="default-channel",
        saleor_channel_id="Q2hhbm5lbDox",
        currency="USD",
        created_at=t - timedelta(days=10),
        erased_at=None,
    )
    s.insert(
        None,
        "advocates",
        tenant_id=tenant,
        email="erased-3@erased.invalid",
        contact_email="erased-3@erased.invalid",
        first_name="",
        saleor_user_id=None,
        code="ERASED3X",
        locale="en",
        variant=None,
        first_order_id=None,
        channel_slug="default-channel",
        saleor_channel_id="Q2hhbm5lbDox",
        currency="USD",
        created_at=t - timedelta(days=20),
        erased_at=t - timedelta(days=3),
    )
    s.insert(
        "other_advocate",
        "advocates",
        tenant_id=other,
        email="bob@example.com",
        contact_email="bob@example.com",
        first_name="Bob",
        saleor_user_id=None,
        code="BOB9Q4ZX",
        locale="en",
        variant=None,
        first_order_id="T3JkZXI6OTk=",
        channel_slug="default-channel",
        saleor_channel_id="Q2hhbm5lbDox",
        currency="USD",
        created_at=t - timedelta(days=40),
        erased_at=None,
    )

    order_fields = dict(
        tenant_id=tenant,
        channel_slug="default-channel",
        saleor_channel_id="Q2hhbm5lbDox",
        currency="USD",
        locale="lv",
        status="UNFULFILLED",
        charge_status="FULL",
        is_paid=True,
        cancelled=False,
        saleor_user_id=None,
    )
    s.insert(
        "advocate_order",
        "orders",
        **order_fields,
        saleor_order_id="T3JkZXI6MjQ=",
        number="24",
        email="alice@example.com",
        contact_email="Alice@Example.com",
        first_name="Alīse",
        total=Decimal("40.0000"),
        total_charged=Decimal("40.0000"),
        total_refunded=Decimal("0.0000"),
        voucher_code=None,
        referral_code=None,
        shipping_fingerprint="a" * 64,
        saleor_updated_at="2026-11-10T09:30:00.000000+00:00",
        reached_trigger_at=t - timedelta(days=10),
        attributed=False,
        attribution_note="No referral code or friend voucher.",
        created_at=t - timedelta(days=10),
        updated_at=t - timedelta(days=10),
    )
    friend_order = s.insert(
        "friend_order",
        "orders",
        **order_fields,
        saleor_order_id="T3JkZXI6MjU=",
        number="25",
        email="friend1@example.com",
        contact_email="Friend1@Example.com",
        first_name="Frīda",
        total=Decimal("5.3700"),
        total_charged=Decimal("5.3700"),
        total_refunded=Decimal("1.2000"),
        voucher_code="FRIEND-ALICE7K2-001",
        referral_code="ALICE7K2",
        shipping_fingerprint="b" * 64,
        saleor_updated_at="2026-11-19T09:39:21.571290+00:00",
        reached_trigger_at=t - timedelta(days=1),
        attributed=True,
        attribution_note="Friend voucher FRIEND-ALICE7K2-001 of ALICE7K2.",
        created_at=t - timedelta(days=1),
        updated_at=t - timedelta(hours=2),
    )

    coupon_fields = dict(
        tenant_id=tenant,
        channel_slug="default-channel",
        saleor_channel_id="Q2hhbm5lbDox",
        currency="USD",
        redriven_at=None,
        revoked_at=None,
    )
    offer = s.insert(
        "friend_offer",
        "coupons",
        **coupon_fields,
        purpose="friend_offer",
        referral_id=None,
        advocate_id=alice,
        recipient_email="friend1@example.com",
        code="FRIEND-ALICE7K2-001",
        value_type="PERCENTAGE",
        value=Decimal("10.0000"),
        min_order=Decimal("0.0000"),
        expires_at=t + timedelta(days=13),
        state="used",
        saleor_voucher_id="Vm91Y2hlcjox",
        saleor_code_id="Vm91Y2hlckNvZGU6MQ==",
        issue_attempts=1,
        last_error=None,
        redeemed_value=Decimal("0.5400"),
        created_at=t - timedelta(days=2),
        issued_at=t - timedelta(days=2),
        used_at=t - timedelta(days=1),
    )
    s.insert(
        "claim",
        "friend_claims",
        tenant_id=tenant,
        advocate_id=alice,
        email="friend1@example.com",
        contact_email="Friend1@Example.com",
        coupon_id=offer,
        consent_at=t - timedelta(days=2),
        landing_referrer="https://t.co/",
        locale="lv",
        clicked_at=t - timedelta(days=2, minutes=5),
        created_at=t - timedelta(days=2),
    )

    referral = s.insert(
        "referral",
        "referrals",
        tenant_id=tenant,
        advocate_id=alice,
        saleor_order_id="T3JkZXI6MjU=",
        order_record_id=friend_order,
        friend_email="friend1@example.com",
        friend_contact_email="Friend1@Example.com",
        friend_first_name="Frīda",
        friend_user_id=None,
        channel_slug="default-channel",
        currency="USD",
        order_total=Decimal("5.3700"),
        source="voucher",
        variant="B",
        state="issued",
        decision="hold",
        reasons=[{"rule": "new_account", "action": "hold", "reason": "The friend's account is 2 hours old."}],
        hold_until=t - timedelta(hours=1),
        shortfall=Decimal("0.0000"),
        created_at=t - timedelta(days=1),
        updated_at=t - timedelta(minutes=30),
    )
    s.insert(
        "referrer_reward",
        "coupons",
        **coupon_fields,
        purpose="referrer_reward",
        referral_id=referral,
        advocate_id=alice,
        recipient_email="alice@example.com",
        code="THANKS-ALICE7K2-7QX",
        value_type="FIXED",
        value=Decimal("15.0000"),
        min_order=Decimal("20.0000"),
        expires_at=t + timedelta(days=60),
        state="issued",
        saleor_voucher_id="Vm91Y2hlcjoy",
        saleor_code_id="Vm91Y2hlckNvZGU6Mg==",
        issue_attempts=1,
        last_error=None,
        redeemed_value=Decimal("0.0000"),
        created_at=t - timedelta(minutes=40),
        issued_at=t - timedelta(minutes=30),
        used_at=None,
    )
    friend_reward = s.insert(
        "friend_reward",
        "coupons",
        **{**coupon_fields, "redriven_at": t - timedelta(minutes=5)},
        purpose="friend_reward",
        referral_id=referral,
        advocate_id=None,
        recipient_email="friend1@example.com",
        code="THANKS-FRIEND1-K3P",
        value_type="PERCENTAGE",
        value=Decimal("10.0000"),
        min_order=Decimal("0.0000"),
        expires_at=None,
        state="reserved",
        saleor_voucher_id=None,
        saleor_code_id=None,
        issue_attempts=2,
        last_error="Saleor answered 502 Bad Gateway",
        redeemed_value=Decimal("0.0000"),
        created_at=t - timedelta(minutes=40),
        issued_at=None,
        used_at=None,
    )
    for i, (from_state, to_state, actor) in enumerate(
        [
            (None, "pending", "system"),
            ("pending", "held", "rule:new_account"),
            ("held", "approved", "anna@shop-one.example.com"),
            ("approved", "issued", "system"),
        ]
    ):
        s.insert(
            None,
            "ledger_entries",
            tenant_id=tenant,
            referral_id=referral,
            coupon_id=None,
            from_state=from_state,
            to_state=to_state,
            reason=f"step {i}: {to_state}",
            actor=actor,
            at=t - timedelta(days=1) + timedelta(hours=i),
        )
    s.insert(
        None,
        "ledger_entries",
        tenant_id=tenant,
        referral_id=None,
        coupon_id=friend_reward,
        from_state=None,
        to_state="reserved",
        reason="Reserved before calling Saleor.",
        actor="system",
        at=t - timedelta(minutes=40),
    )

    def delivery(name: str, **fields: Any) -> dict[str, Any]:
        captured = load(name)  # stored as plugin/webhooks/store.py did at 0001
        return dict(
            tenant_id=fields.pop("tenant_id", tenant),
            event_type=captured.event,
            order_id=captured.payload["order"]["id"],
            body_sha256=hashlib.sha256(captured.body).hexdigest(),
            body=captured.body.decode("utf-8"),
            issued_at=captured.payload["issuedAt"],
            **fields,
        )

    s.insert(
        "processed_event",
        "webhook_events",
        **delivery(
            "order_fully_paid__A__3.json",
            received_at=t - timedelta(days=1),
            status="done",
            attempts=1,
            processed_at=t - timedelta(days=1),
            last_error=None,
            queued_at=t - timedelta(days=1),
            redriven_at=None,
        ),
    )
    s.insert(
        "unqueued_event",
        "webhook_events",
        **delivery(
            "order_updated__A__4.json",
            received_at=t,
            status="pending",
            attempts=0,
            processed_at=None,
            last_error=None,
            queued_at=None,
            redriven_at=None,
        ),
    )
    s.insert(
        "failed_event",
        "webhook_events",
        **delivery(
            "order_refunded__C__1.json",
            received_at=t - timedelta(hours=3),
            status="failed",
            attempts=5,
            processed_at=None,
            last_error="Saleor unreachable",
            queued_at=t - timedelta(hours=3),
            redriven_at=t - timedelta(hours=1),
        ),
    )
    s.insert(
        "other_event",
        "webhook_events",
        **delivery(
            "order_fully_paid__A__3.json",
            tenant_id=other,
            received_at=t - timedelta(days=5),
            status="done",
            attempts=1,
            processed_at=t - timedelta(days=5),
            last_error=None,
            queued_at=t - timedelta(days=5),
            redriven_at=None,
        ),
    )

    s.insert(
        "sent_email",
        "outbound_emails",
        tenant_id=tenant,
        dedup_key="invite:1",
        kind="invite",
        coupon_id=None,
        to_email="Alice@Example.com",
        subject="Uzaicini draugu, Alīse",
        text_body="Sveika, Alīse!\n…",
        html_body="<p>Sveika, Alīse!</p>",
        status="sent",
        attempts=1,
        last_error=None,
        next_attempt_at=t - timedelta(days=10),
        created_at=t - timedelta(days=10),
        sent_at=t - timedelta(days=10),
    )
    s.insert(
        "pending_email",
        "outbound_emails",
        tenant_id=tenant,
        dedup_key=f"coupon:{friend_reward}",
        kind="friend_reward",
        coupon_id=friend_reward,
        to_email="Friend1@Example.com",
        subject="Your 10 % code",
        text_body="Thanks!",
        html_body="<p>Thanks!</p>",
        status="pending",
        attempts=2,
        last_error="421 try later",
        next_attempt_at=t + timedelta(minutes=10),
        created_at=t - timedelta(minutes=30),
        sent_at=None,
    )

    for kind, share_channel, amount in [
        ("widget_view", None, None),
        ("share", "whatsapp", None),
        ("click", "whatsapp", None),
        ("claim", None, Decimal("5.3700")),
    ]:
        s.insert(
            None,
            "funnel_events",
            tenant_id=tenant,
            kind=kind,
            at=t - timedelta(days=2),
            advocate_id=alice,
            channel_slug="default-channel",
            share_channel=share_channel,
            variant="B",
            amount=amount,
        )
    s.insert(
        None,
        "funnel_daily",
        tenant_id=tenant,
        day=date(2026, 11, 18),
        channel_slug="default-channel",
        kind="share",
        share_channel="whatsapp",
        count=3,
    )
    s.insert(None, "advocate_last_share", tenant_id=tenant, advocate_id=alice, day=date(2026, 11, 18))
    s.insert(None, "rollup_progress", tenant_id=tenant, rollup="advocate_last_share", through=date(2026, 11, 18))


def seed_0003(s: Seeder) -> None:
    """0003 adds the outbound webhook tables (plugin/merchant_webhooks/models.py)."""
    seed_0001(s)
    t, tenant = T0, s.seeded.ids["tenant"]
    endpoint = s.insert(
        "webhook_endpoint",
        "outbound_endpoints",
        tenant_id=tenant,
        url="https://crm.example.com/hooks/referrals",
        description="CRM «sync»",
        event_types=["referral.approved", "reward.issued"],
        secret_encrypted=_fernet_0001(SECRET_KEY).encrypt(b"whsec_" + base64.b64encode(b"k" * 32)),
        previous_secret_encrypted=None,
        previous_secret_until=None,
        enabled=False,
        disabled_at=t,
        disabled_reason="Disabled automatically: every delivery attempt failed for 24 hours. Last error: HTTP 500",
        failing_since=t - timedelta(days=1),
        consecutive_failures=17,
        last_success_at=t - timedelta(days=2),
        created_at=t - timedelta(days=3),
        updated_at=t,
    )
    message = s.insert(
        "webhook_message",
        "outbound_messages",
        tenant_id=tenant,
        msg_id="msg_0f3c2b8e9a7d4c1b8e6f5a4d3c2b1a09",
        event_type="referral.approved",
        created_at=t - timedelta(days=1),
        body='{"type":"referral.approved","timestamp":"2026-11-19T09:30:00Z","data":{"referral":{"id":1}}}',
    )
    delivery = s.insert(
        "webhook_delivery",
        "outbound_deliveries",
        tenant_id=tenant,
        message_id=message,
        endpoint_id=endpoint,
        status="failed",
        attempts=17,
        next_attempt_at=t,
        give_up_at=t,
        last_attempt_at=t,
        last_status_code=500,
        last_error="HTTP 500",
        delivered_at=None,
        redriven_at=None,
        created_at=t - timedelta(days=1),
    )
    s.insert(
        None,
        "outbound_attempts",
        tenant_id=tenant,
        delivery_id=delivery,
        at=t,
        status_code=500,
        error="HTTP 500",
        response_body="Internal Server Error",
        duration_ms=41,
        manual=False,
    )


def seed_0005(s: Seeder) -> None:
    """0005 adds tenants.shop_name_checked_at: the named shop was last asked a day ago."""
    s.adapt(
        "tenants",
        lambda row: {**row, "shop_name_checked_at": T0 - timedelta(days=1) if row["shop_name"] else None},
    )
    seed_0003(s)


def seed_0006(s: Seeder) -> None:
    """0006 adds the friend's reminder opt-in (friend_claims) and the suppression list."""
    t = T0
    s.adapt(
        "friend_claims",
        lambda row: {**row, "remind_opt_in_at": row["created_at"], "reminded_at": t - timedelta(hours=3)},
    )
    seed_0005(s)
    s.insert(
        None,
        "email_suppressions",
        tenant_id=s.seeded.ids["tenant"],
        email="gone+news@example.com",
        source="one_click",
        created_at=t - timedelta(hours=1),
    )


SEEDS: dict[str, Callable[[Seeder], None]] = {
    "0001": seed_0001,
    "0003": seed_0003,
    "0005_shop_name_refresh": seed_0005,
    "0006_reminders_unsubscribe": seed_0006,
}

# revision -> edits Seeded.expected the way that revision's upgrade changes seeded rows.
AFTER_UPGRADE: dict[str, Callable[[Seeded], None]] = {}


def seed(conn: Connection, revision: str, chain: list[str]) -> Seeded:
    """Seed a database at `revision` with the newest seed at or before it."""
    usable = [rev for rev in chain[: chain.index(revision) + 1] if rev in SEEDS]
    if not usable:
        raise AssertionError(f"no seed fits revision {revision}: SEEDS has {sorted(SEEDS)}")
    seeder = Seeder(conn, revision, f"seed_{usable[-1]}")
    SEEDS[usable[-1]](seeder)
    if usable[-1] == revision:  # a revision's own seed has rows in every table it has
        empty = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"} - set(seeder.seeded.expected))
        assert not empty, f"seed_{revision} writes no row into {empty}"
    return seeder.seeded
