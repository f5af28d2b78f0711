"""The installed shop with real SMTP, shared with the storefront tests."""
from tests.ui.conftest import shop  # noqa: F401 - a fixture, used by name
