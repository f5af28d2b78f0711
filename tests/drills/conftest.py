"""Fault drills: the production shape (web app → PostgreSQL + Redis → Celery workers → emulated
Saleor and a real SMTP server), a burst of referred orders, a fault injected on purpose, then
an account of what came out: orders, referrals, codes in the database and in Saleor, e-mails.

Quick drills (`@pytest.mark.drill`) run in `make test`; long ones (`@pytest.mark.longdrill`)
only with `make drills`. Each prints what was injected and what was counted, and writes the
same as JSON to test-artifacts/drills/<test>.json (docs/RELIABILITY.md quotes them).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT, SMTPSink, wait_until
from tests.workers import CeleryWorker, RedisServer, worker_env

ARTIFACTS = ROOT / "test-artifacts" / "drills"
REWARD_CODE = re.compile(r"\b(?:THANKS|WELCOME)-[A-Z0-9]+\b")
TASK_DONE = re.compile(r"Task (\w+)\[[^\]]+\] succeeded in [0-9.]+s: ([^\n{]*)")
TASK_RETRY = re.compile(r"Task (\w+)\[[^\]]+\] retry")
_street = itertools.count(1)


class RestartableSMTP(SMTPSink):
    """The suite's aiosmtpd sink on a fixed loopback port that can be taken down and brought back."""

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> RestartableSMTP:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def codes(self) -> tuple[Counter, dict[str, set]]:
        """How many accepted e-mails carry each reward code, and under which Message-IDs."""
        seen: Counter = Counter()
        message_ids: dict[str, set] = {}
        with self._lock:
            messages = list(self.messages)
        for message in messages:
            body = message.get_body(preferencelist=("plain",))
            for code in set(REWARD_CODE.findall(body.get_content() if body else "")):
                seen[code] += 1
                message_ids.setdefault(code, set()).add(message["Message-ID"])
        return seen, message_ids


def own_address(first_name: str) -> dict:
    n = next(_street)
    return {
        "firstName": first_name,
        "lastName": "Drill",
        "streetAddress1": f"{n} Drill Street",
        "city": "Tallinn",
        "postalCode": f"{10000 + n}",
        "country": "EE",
    }


@dataclass
class Account:
    """What a drill counted."""

    orders: int = 0
    referrals: int = 0
    orders_without_referral: int = 0
    orders_with_two_referrals: int = 0
    issued_coupons: int = 0
    referrals_missing_a_coupon: int = 0
    duplicate_codes: int = 0
    codes_in_saleor: int = 0
    codes_missing_in_saleor: int = 0
    saleor_codes_unknown_to_app: int = 0
    emails_missing: int = 0
    emails_duplicated: int = 0
    codes_mailed_as_different_messages: int = 0
    webhook_events_stored: int = 0
    referral_states: dict = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.orders_without_referral + self.referrals_missing_a_coupon + self.codes_missing_in_saleor

    @property
    def complete(self) -> bool:
        return (
            self.lost == 0
            and self.emails_missing == 0
            and self.issued_coupons == 2 * self.orders
            and self.codes_in_saleor >= self.issued_coupons
        )


class Drill:
    """One drill's shop: the app on loopback, a private Redis, Celery workers, SMTP, the emulator."""

    def __init__(self, name, saleor, server, redis_server, smtp, tmp_path):
        self.name, self.saleor, self.server, self.redis, self.smtp = name, saleor, server, redis_server, smtp
        self.tmp_path = tmp_path
        self.workers: list[CeleryWorker] = []
        self.injected: dict = {}
        self.statuses: Counter = Counter()
        self.order_ids: list[str] = []
        self.started = time.monotonic()
        # The sweeper re-drives unfinished work older than SWEEP_GRACE every SWEEP_INTERVAL seconds.
        # Short values make recovery quick in small drills; a big backlog needs longer ones, or the
        # sweeper floods the queue with copies of work that is merely waiting (see RELIABILITY.md, F8).
        self.sweep = {"SWEEP_INTERVAL": 1, "SWEEP_GRACE": 5}

    # -- setup -----------------------------------------------------------------------------------
    def start_worker(self, concurrency: int = 4, **extra_env) -> CeleryWorker:
        env = worker_env(self.server.app.config["SETTINGS"], **{**self.sweep, **extra_env})
        worker = CeleryWorker(env, self.tmp_path / f"worker{len(self.workers)}.log", concurrency=concurrency)
        self.workers.append(worker.start())
        return worker

    def allow_many_friends(self) -> None:
        """The monthly reward cap per advocate is not what a drill is about."""
        from plugin.db import session_scope
        from plugin.program.models import ProgramSettings
        from plugin.tenants.models import Tenant

        with session_scope() as session:
            tenant_id = session.scalar(select(Tenant.id))
            session.add(
                ProgramSettings(
                    tenant_id=tenant_id,
                    data={"caps": {"rewards_per_advocate_30d": 1_000_000, "claims_per_code_per_day": 1_000_000}},
                )
            )

    def make_advocates(self, count: int, timeout: float = 90) -> list[str]:
        from plugin.db import session_scope
        from plugin.referrals.models import Advocate

        emails = [f"advocate{i}@example.com" for i in range(count)]
        for i, address in enumerate(emails):
            order = self.saleor.create_order(
                address, first_name=f"Ada{i}", total="60.00", paid=True, shipping_address=own_address("Ada")
            )
            for delivery in self.saleor.checkout_complete(order, deliver=False):
                delivery.send(retry=True)

        def codes():
            with session_scope() as session:
                found = session.scalars(select(Advocate.code).where(Advocate.email.in_(emails))).all()
            return found if len(found) == count else None

        found = wait_until(codes, timeout=timeout, interval=0.25)
        assert found, f"advocates were not created in {timeout} s:\n{self.worker_logs()}"
        return found

    # -- load ------------------------------------------------------------------------------------
    def referred_orders(
        self,
        codes: list[str],
        count: int,
        *,
        copies: int = 1,
        in_flight: int = 50,
        rate: float | None = None,
        shuffle_seed: int = 7,
    ) -> list[str]:
        """Pay `count` referred orders; every delivery sent `copies` times, `in_flight` at once.

        Deliveries go out with Saleor's retry (5xx and connection errors are re-sent with backoff).
        With `rate`, orders start on that schedule (orders per second) instead of all at once.
        """
        first = len(self.order_ids)
        orders = []
        for i in range(first, first + count):
            orders.append(
                self.saleor.create_order(
                    f"friend{i}@example.net",
                    first_name=f"Fred{i}",
                    total="40.00",
                    paid=True,
                    metadata={"referral_code": codes[i % len(codes)]},
                    shipping_address=own_address("Fred"),
                )
            )
        self.order_ids.extend(o["id"] for o in orders)

        def deliveries_of(order):
            out = []
            for delivery in self.saleor.checkout_complete(order, deliver=False):
                out.extend([delivery] + [delivery.clone() for _ in range(copies - 1)])
            return out

        def send(delivery):
            delivery.send(retry=True)
            self.statuses[str(delivery.status_code)] += 1

        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            if rate is None:
                batch = [d for order in orders for d in deliveries_of(order)]
                random.Random(shuffle_seed).shuffle(batch)  # duplicates of one order race each other
                list(pool.map(send, batch))
            else:
                started = time.monotonic()
                futures = []
                for i, order in enumerate(orders):
                    pause = started + i / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    futures += [pool.submit(send, d) for d in deliveries_of(order)]
                for future in futures:
                    future.result()
        return [o["id"] for o in orders]

    # -- the account -----------------------------------------------------------------------------
    def account(self) -> Account:
        from plugin.coupons.models import Coupon
        from plugin.db import session_scope
        from plugin.referrals.models import Referral
        from plugin.webhooks.models import WebhookEvent

        acc = Account(orders=len(self.order_ids))
        with session_scope() as session:
            referrals = session.execute(
                select(Referral.id, Referral.saleor_order_id, Referral.state).where(
                    Referral.saleor_order_id.in_(self.order_ids)
                )
            ).all()
            coupons = (
                session.execute(
                    select(Coupon.referral_id, Coupon.code, Coupon.state).where(
                        Coupon.referral_id.in_([r.id for r in referrals])
                    )
                ).all()
                if referrals
                else []
            )
            acc.webhook_events_stored = session.scalar(
                select(func.count(WebhookEvent.id)).where(WebhookEvent.order_id.in_(self.order_ids))
            )
        per_order = Counter(r.saleor_order_id for r in referrals)
        acc.referrals = len(referrals)
        acc.orders_without_referral = sum(1 for o in self.order_ids if per_order[o] == 0)
        acc.orders_with_two_referrals = sum(1 for n in per_order.values() if n > 1)
        acc.referral_states = dict(Counter(r.state for r in referrals))
        issued = [c for c in coupons if c.state in (Coupon.ISSUED, Coupon.USED)]
        acc.issued_coupons = len(issued)
        per_referral = Counter(c.referral_id for c in issued)
        acc.referrals_missing_a_coupon = sum(1 for r in referrals if per_referral[r.id] < 2)
        codes = Counter(c.code for c in coupons)
        acc.duplicate_codes = sum(n - 1 for n in codes.values() if n > 1) + sum(
            n - 2 for n in Counter(c.referral_id for c in coupons).values() if n > 2
        )
        in_saleor = {code for code in self.saleor.voucher_codes() if REWARD_CODE.fullmatch(code)}
        acc.codes_in_saleor = len(in_saleor & set(codes))
        acc.codes_missing_in_saleor = sum(1 for c in issued if c.code not in in_saleor)
        acc.saleor_codes_unknown_to_app = len(in_saleor - set(codes))
        mailed, message_ids = self.smtp.codes()
        acc.emails_missing = sum(1 for c in issued if mailed[c.code] == 0)
        acc.emails_duplicated = sum(mailed[c.code] - 1 for c in issued if mailed[c.code] > 1)
        # A repeated send must be the same message (same Message-ID), so mail clients collapse it.
        acc.codes_mailed_as_different_messages = sum(1 for c in issued if len(message_ids.get(c.code, ())) > 1)
        return acc

    def wait_for_everything(self, timeout: float) -> Account:
        """Until every order has both rewards issued, in Saleor and e-mailed (or the timeout)."""
        deadline = time.monotonic() + timeout
        account = self.account()
        while not account.complete and time.monotonic() < deadline:
            time.sleep(1)
            account = self.account()
        time.sleep(2)  # late duplicates, if any, would arrive now
        return self.account()

    def task_outcomes(self) -> dict[str, int]:
        """What the workers did, from their logs: e.g. "issue_coupon issued", "process_event skipped"."""
        outcomes: Counter = Counter()
        for worker in self.workers:
            for name, result in TASK_DONE.findall(worker.log()):
                outcomes[f"{name} {result.strip(chr(39))[:24]}"] += 1
            for name in TASK_RETRY.findall(worker.log()):
                outcomes[f"{name} retried"] += 1
        return dict(outcomes.most_common())

    def report(self, account: Account, **extra) -> dict:
        data = {
            "drill": self.name,
            "injected": self.injected,
            "deliveries_answered": dict(self.statuses),
            "counted": {**account.__dict__, "lost": account.lost},
            "seconds": round(time.monotonic() - self.started, 1),
            "task_outcomes": self.task_outcomes(),
            **extra,
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{self.name}.json").write_text(json.dumps(data, indent=2))
        print(
            f"\nDRILL {self.name}\n  injected: {json.dumps(self.injected)}\n  deliveries answered: "
            f"{dict(self.statuses)}\n  counted:  {json.dumps(data['counted'])}\n  tasks: "
            f"{json.dumps(data['task_outcomes'])}\n  took {data['seconds']} s"
        )
        return data

    def worker_logs(self, chars: int = 4000) -> str:
        return "\n".join(w.log()[-chars:] for w in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def assert_nothing_lost_or_doubled(drill: Drill, account: Account) -> None:
    detail = f"{account}\n{drill.worker_logs()}"
    assert account.orders_without_referral == 0, detail
    assert account.orders_with_two_referrals == 0, detail
    assert account.duplicate_codes == 0, detail
    assert account.issued_coupons == 2 * account.orders, detail
    assert account.codes_missing_in_saleor == 0, detail
    assert account.saleor_codes_unknown_to_app == 0, detail
    assert account.emails_missing == 0, detail
    assert account.codes_mailed_as_different_messages == 0, detail


@pytest.fixture
def drill(request, make_live_server, postgres, tmp_path):
    """A fresh shop for one drill; `drill.redis` is a private redis-server the drill may stop."""
    from tests.saleor_emulator import SaleorEmulator

    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    redis_server = RedisServer(tmp_path).start()
    smtp = RestartableSMTP().start()
    # Saleor re-sends a failed delivery (5xx, timeout, refused) with backoff; real Saleor waits
    # 10, 20, 40, 80, 160 s, scaled down here so a drill finishes in minutes.
    saleor = SaleorEmulator(retry_schedule=[0.5, 1, 2, 4, 8, 16, 16]).start()
    server = make_live_server(runner=None, redis_url=redis_server.url, smtp_url=smtp.url)
    result = saleor.install(f"{server.url}/api/manifest")
    assert result.response.status_code == 200, result.response.text
    shop = Drill(request.node.name, saleor, server, redis_server, smtp, tmp_path)
    shop.allow_many_friends()
    yield shop
    shop.stop()
    saleor.stop()
    smtp.stop()
    redis_server.stop()
