"""Referral rewards for Saleor storefronts."""

from __future__ import annotations

__version__ = "0.1.0"


def create_app(config=None):
    # Imported on call: plugin.app imports every subpackage, each of which imports this package first.
    from plugin.app import create_app as _create

    return _create(config)
