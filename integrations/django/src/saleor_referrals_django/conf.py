"""The two settings, read when a page renders (so tests and settings overrides take effect)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


@dataclass(frozen=True)
class WidgetSettings:
    app_url: str  # the referral app's public URL, e.g. https://referrals.example.com
    saleor_api_url: str  # Saleor's API URL exactly as the app was installed, trailing slash included

    def problems(self) -> list[tuple[str, str]]:
        """(check id, message) for each setting that is missing or not an http(s) URL."""
        found = []
        if not _is_http_url(self.app_url):
            found.append(
                (
                    "saleor_referrals.E001",
                    "REFERRALS_APP_URL must be the referral app's http(s) URL, e.g. https://referrals.example.com",
                )
            )
        if not _is_http_url(self.saleor_api_url):
            found.append(
                (
                    "saleor_referrals.E002",
                    "REFERRALS_SALEOR_API_URL must be your Saleor API URL, e.g. https://shop.example.com/graphql/",
                )
            )
        return found


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


def widget_settings() -> WidgetSettings:
    return WidgetSettings(
        app_url=str(getattr(settings, "REFERRALS_APP_URL", "") or "").rstrip("/"),
        saleor_api_url=str(getattr(settings, "REFERRALS_SALEOR_API_URL", "") or ""),
    )
