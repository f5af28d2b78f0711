from types import SimpleNamespace

import pytest


@pytest.fixture
def served(shop, postgres):
    """The installed shop on PostgreSQL, as the privacy tests name its parts."""
    return SimpleNamespace(
        saleor=shop.saleor,
        server=shop.server,
        app=shop.flask_app,
        secret=shop.flask_app.config["SETTINGS"].secret_key,
        saleor_app=shop.app,
    )
