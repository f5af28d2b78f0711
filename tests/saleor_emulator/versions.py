"""The Saleor release lines the emulator can play, and what differs between them.

Each line is played at its newest release, whose schema ``tests/saleor_schemas.py`` finds (pinned sha256).
The differences the app can notice, from core's source at each tag:

* ``Saleor-Schema-Version`` / ``User-Agent: Saleor/<major.minor>`` on the manifest GET and the token
  POST (``saleor/__init__.py`` ``schema_version``); the payloads' ``version`` is the full release.
* Manifest validation (``saleor/app/manifest_validations.py``): up to 3.22, ``tokenTargetUrl`` is
  required and an extension's ``mount``/``target`` must name a member of that line's
  ``AppExtensionMount``/``AppExtensionTarget`` (3.21 has no WIDGET or NEW_TAB target and no
  ``*_WIDGETS`` mount); 3.22 also checks ``options`` and which mounts a WIDGET may use; 3.23
  validates the structure with pydantic (``manifest_schema.py``) and takes any mount/target.
* ``APP_DELETED`` and the other lifecycle events reach an app without ``MANAGE_APPS`` only from
  3.23.5 (#19160, ``get_webhooks_for_app_lifecycle_event``); before, they need ``MANAGE_APPS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests import saleor_schemas

RELEASES = {"3.21": "3.21.69", "3.22": "3.22.67", "3.23": "3.23.28"}
DEFAULT_RELEASE = RELEASES["3.23"]

# AppExtensionTarget / AppExtensionMount members (saleor/app/types.py) of the lines that check them.
_TARGETS_321 = ("POPUP", "APP_PAGE")
_MOUNTS_321 = (
    "CUSTOMER_OVERVIEW_CREATE",
    "CUSTOMER_OVERVIEW_MORE_ACTIONS",
    "CUSTOMER_DETAILS_MORE_ACTIONS",
    "PRODUCT_OVERVIEW_CREATE",
    "PRODUCT_OVERVIEW_MORE_ACTIONS",
    "PRODUCT_DETAILS_MORE_ACTIONS",
    "NAVIGATION_CATALOG",
    "NAVIGATION_ORDERS",
    "NAVIGATION_CUSTOMERS",
    "NAVIGATION_DISCOUNTS",
    "NAVIGATION_TRANSLATIONS",
    "NAVIGATION_PAGES",
    "ORDER_DETAILS_MORE_ACTIONS",
    "ORDER_OVERVIEW_CREATE",
    "ORDER_OVERVIEW_MORE_ACTIONS",
)
WIDGET_MOUNTS_322 = (
    "ORDER_DETAILS_WIDGETS",
    "PRODUCT_DETAILS_WIDGETS",
    "VOUCHER_DETAILS_WIDGETS",
    "DRAFT_ORDER_DETAILS_WIDGETS",
    "GIFT_CARD_DETAILS_WIDGETS",
    "CUSTOMER_DETAILS_WIDGETS",
    "COLLECTION_DETAILS_WIDGETS",
)
_MOUNTS_322 = (
    _MOUNTS_321
    + WIDGET_MOUNTS_322
    + tuple(
        f"{thing}_{where}"
        for thing in (
            "CATEGORY",
            "COLLECTION",
            "GIFT_CARD",
            "DRAFT_ORDER",
            "DISCOUNT",
            "VOUCHER",
            "PAGE",
            "PAGE_TYPE",
            "MENU",
        )
        for where in ("OVERVIEW_CREATE", "OVERVIEW_MORE_ACTIONS", "DETAILS_MORE_ACTIONS")
    )
    + ("TRANSLATIONS_MORE_ACTIONS",)
)
_TARGETS_322 = ("POPUP", "APP_PAGE", "NEW_TAB", "WIDGET")


def _parse(release: str) -> tuple[int, int, int]:
    major, minor, patch = (release.split(".") + ["0", "0"])[:3]
    return int(major), int(minor), int(patch)


@dataclass(frozen=True)
class SaleorVersion:
    release: str  # "3.22.67"

    @classmethod
    def of(cls, version: str | None) -> SaleorVersion:
        """``"3.21"`` (the line, played at its newest release) or a full release such as ``"3.23.4"``."""
        if not version:
            return cls(DEFAULT_RELEASE)
        if version in RELEASES:
            return cls(RELEASES[version])
        _parse(version)  # ValueError on garbage
        return cls(version)

    @property
    def numbers(self) -> tuple[int, int, int]:
        return _parse(self.release)

    @property
    def schema_version(self) -> str:
        """``major.minor``: the ``Saleor-Schema-Version`` header and ``shop.schemaVersion``."""
        major, minor, _patch = self.numbers
        return f"{major}.{minor}"

    @property
    def user_agent(self) -> str:
        return f"Saleor/{self.schema_version}"

    def at_least(self, release: str) -> bool:
        return self.numbers >= _parse(release)

    # -- manifest rules -------------------------------------------------------------------------
    @property
    def requires_token_target_url(self) -> bool:
        return not self.at_least("3.23.0")

    @property
    def extension_targets(self) -> tuple[str, ...] | None:
        """Targets this line accepts (upper-case names), or None when it takes any string."""
        if self.at_least("3.23.0"):
            return None
        return _TARGETS_322 if self.at_least("3.22.0") else _TARGETS_321

    @property
    def extension_mounts(self) -> tuple[str, ...] | None:
        if self.at_least("3.23.0"):
            return None
        return _MOUNTS_322 if self.at_least("3.22.0") else _MOUNTS_321

    @property
    def checks_extension_options(self) -> bool:
        """3.22 validates ``options`` (widgetTarget only on WIDGET, GET|POST); 3.21 ignores the key."""
        return self.at_least("3.22.0") and not self.at_least("3.23.0")

    @property
    def lifecycle_events_reach_the_app_itself(self) -> bool:
        return self.at_least("3.23.5")

    # -- schema ----------------------------------------------------------------------------------
    @property
    def schema_file(self) -> Path:
        return schema_file(self.schema_version)


def schema_file(schema_version: str) -> Path:
    """The verified SDL of a line's newest release (``tests/saleor_schemas.py``: never in the repo)."""
    release = RELEASES.get(schema_version)
    if release is None:
        raise ValueError(f"no schema for Saleor {schema_version}; known: {', '.join(RELEASES)}")
    return saleor_schemas.schema_file(release)
