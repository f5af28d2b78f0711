"""Fixtures for the storefront-facing pieces: a shop installed with real SMTP, and advocates made by
the real flow (order created in the emulator → paid → signed webhooks → the app's pipeline)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Shop, wait_until


@pytest.fixture
def shop(saleor, make_live_server, smtp):
    """The app (eager tasks, SMTP to the test sink) installed into the emulated Saleor."""
    server = make_live_server(smtp_url=smtp.url)
    result = saleor.install(server.url + "/api/manifest")
    assert result.response.status_code == 200, result.response.text
    installed = Shop(saleor, server, result.app)
    installed.smtp = smtp
    return installed


def advocate_row(shop, email: str):
    from plugin.db import session_scope
    from plugin.identity import normalize_email
    from plugin.referrals.models import Advocate

    with session_scope() as session:
        return session.scalar(select(Advocate).where(Advocate.email == normalize_email(email)))


def paid_advocate(shop, email: str = "alice@example.com", first_name: str = "Alice", **order_fields):
    """Create and pay an order; returns (order, advocate) once the app made the buyer an advocate."""
    order = shop.saleor.create_order(email, first_name=first_name, **order_fields)
    shop.saleor.pay(order)
    advocate = wait_until(lambda: advocate_row(shop, email))
    assert advocate is not None, "the paid order did not make its buyer an advocate"
    return order, advocate


def set_program(tenant_id: int, **overrides) -> None:
    from plugin.db import session_scope
    from plugin.program.models import ProgramSettings

    with session_scope(tenant_id) as session:
        row = session.scalar(select(ProgramSettings).where(ProgramSettings.tenant_id == tenant_id))
        if row is None:
            row = ProgramSettings(tenant_id=tenant_id, data={})
            session.add(row)
        row.data = {**(row.data or {}), **overrides}


def set_shop_name(tenant_id: int, name: str) -> None:
    from plugin.db import session_scope
    from plugin.tenants.models import Tenant

    with session_scope() as session:
        session.get(Tenant, tenant_id).shop_name = name
