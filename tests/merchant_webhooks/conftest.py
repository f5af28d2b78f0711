from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.db import session_scope
from plugin.merchant_webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from tests.admin.helpers import Admin
from tests.conftest import Shop
from tests.merchant_webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def webhook_shop(install_shop):
    """An installed shop whose app may call loopback receivers over plain http (a test setting)."""
    return install_shop(webhooks_allow_local=True)


def admin_of(shop: Shop) -> Admin:
    return Admin(shop.flask_app.test_client(), shop.saleor, shop.app)


def add_endpoint(shop: Shop, receiver: Receiver, **fields) -> dict:
    response = admin_of(shop).post("/api/admin/webhooks", {"url": receiver.url, **fields})
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    receiver.secrets.append(data["secret"])
    return data


def stored_messages() -> list[WebhookMessage]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))


def deliveries() -> list[WebhookDelivery]:
    with session_scope() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def endpoint_row(endpoint_id: int) -> WebhookEndpoint:
    with session_scope() as session:
        return session.get(WebhookEndpoint, endpoint_id)
