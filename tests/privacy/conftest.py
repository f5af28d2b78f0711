from types import SimpleNamespace

import pytest

from tests.referrals.shop import install


@pytest.fixture
def served(saleor, make_live_server, smtp, postgres):
    """Installed app (eager tasks, SMTP sink) on PostgreSQL; the test runs in the app's context."""
    server = install(saleor, make_live_server, smtp_url=smtp.url)
    with server.app.app_context():
        yield SimpleNamespace(saleor=saleor, server=server, app=server.app,
                              secret=server.app.config["SETTINGS"].secret_key,
                              saleor_app=saleor.app_by_identifier("saleor.app.referrals"))
