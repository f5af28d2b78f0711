from tests.referrals.shop import shop  # noqa: F401 - the shared `shop` fixture
