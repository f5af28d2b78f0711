"""Two shops on one deployment: nothing of one is ever visible to the other."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.coupons.models import Coupon
from plugin.db import CrossTenantWrite, insert_unless_present, session_scope
from plugin.models import Base
from plugin.referrals.models import Advocate, OrderRecord
from plugin.tenants.models import Tenant
from tests.flows import make_advocate, referred_order


@pytest.fixture
def two_shops(make_live_server):
    from tests.saleor_emulator import SaleorEmulator

    server = make_live_server()
    shops = []
    for _ in range(2):
        emulator = SaleorEmulator().start()
        assert emulator.install(f"{server.url}/api/manifest").response.status_code == 200
        shops.append(emulator)
    yield shops
    for emulator in shops:
        emulator.stop()


def tenant_id(emulator) -> int:
    with session_scope() as session:
        return session.scalar(select(Tenant.id).where(Tenant.saleor_api_url == emulator.api_url))


def test_each_shop_sees_only_its_own_rows(two_shops):
    shop_a, shop_b = two_shops
    code_a = make_advocate(shop_a, "alice@example.com")
    referred_order(shop_a, code_a, email="bob@example.com")
    make_advocate(shop_b, "alice@example.com")  # same person, other shop: a separate advocate

    a, b = tenant_id(shop_a), tenant_id(shop_b)
    for tenant, other in ((a, b), (b, a)):
        with session_scope(tenant) as session:
            for mapper in Base.registry.mappers:
                cls = mapper.class_
                if not hasattr(cls, "tenant_id") or cls is Tenant:
                    continue
                owners = {row.tenant_id for row in session.scalars(select(cls))}
                assert owners <= {tenant}, f"{cls.__name__} leaks rows of tenant {other}"
    with session_scope(b) as session:
        assert session.scalars(select(Coupon)).all() == []
        assert [x.email for x in session.scalars(select(Advocate))] == ["alice@example.com"]
        assert session.scalar(select(OrderRecord).where(OrderRecord.email == "bob@example.com")) is None


def test_referral_code_of_one_shop_does_not_work_in_another(two_shops):
    shop_a, shop_b = two_shops
    code_a = make_advocate(shop_a, "alice@example.com")
    order = referred_order(shop_b, code_a, email="bob@example.com")
    with session_scope(tenant_id(shop_b)) as session:
        record = session.scalar(select(OrderRecord).where(OrderRecord.saleor_order_id == order["id"]))
        assert record.attributed is False
        assert "not a referral code of this shop" in record.attribution_note


def test_a_session_refuses_to_write_another_tenants_row(two_shops):
    shop_a, shop_b = two_shops
    a, b = tenant_id(shop_a), tenant_id(shop_b)
    with pytest.raises(CrossTenantWrite):
        with session_scope(a) as session:
            session.add(Advocate(tenant_id=b, email="x@example.com", contact_email="x@example.com", code="ABCDEFGH"))


def test_the_one_statement_insert_keeps_to_its_shop_and_its_keys(two_shops):
    shop_a, shop_b = two_shops
    a, b = tenant_id(shop_a), tenant_id(shop_b)

    def advocate(tenant, code):
        return Advocate(tenant_id=tenant, email="x@example.com", contact_email="x@example.com", code=code)

    with pytest.raises(CrossTenantWrite), session_scope(a) as session:
        insert_unless_present(session, advocate(b, "CODEB001"))
    with session_scope(a) as session:
        stored = insert_unless_present(
            session, Advocate(email="x@example.com", contact_email="x@example.com", code="CODEA001")
        )
        assert stored is not None and stored.tenant_id == a and stored.id is not None
        assert insert_unless_present(session, advocate(a, "CODEA002")) is None, "same shop and e-mail: kept the first"
    with session_scope(b) as session:
        assert insert_unless_present(session, advocate(b, "CODEB002")) is not None, "the other shop's own advocate"
    with session_scope() as session:
        assert sorted(session.scalars(select(Advocate.code).where(Advocate.email == "x@example.com"))) == [
            "CODEA001",
            "CODEB002",
        ]
