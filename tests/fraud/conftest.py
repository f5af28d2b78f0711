import pytest

from tests.referrals.shop import install


@pytest.fixture
def shop(saleor, make_live_server, smtp):
    """The app (eager tasks, real SMTP sink) installed into the emulated Saleor; the test runs
    inside the app's context so it can call services directly too."""
    server = install(saleor, make_live_server, smtp_url=smtp.url)
    with server.app.app_context():
        yield saleor
