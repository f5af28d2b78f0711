from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, LargeBinary, String, Text, and_
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime, utcnow


class Tenant(Base):
    """One installed Saleor shop, keyed by the exact `Saleor-Api-Url` string."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    saleor_api_url: Mapped[str] = mapped_column(String(512), unique=True, nullable=False)
    domain: Mapped[str] = mapped_column(String(255), default="")
    app_id: Mapped[str | None] = mapped_column(String(255))
    # Fernet ciphertext of the app token (never stored in plaintext).
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last refetch attempt
    saleor_version: Mapped[str | None] = mapped_column(String(32))
    # Saleor's `shop.name`, cleaned (plugin.tenants.service.clean_shop_name); None until Saleor named it.
    shop_name: Mapped[str | None] = mapped_column(String(255))
    # The last daily attempt to read it again (the sweeper's claim, success or not).
    shop_name_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first time the share widget asked for an order from an origin the merchant listed
    # (`storefront_origins`): the setup checklist's "widget seen on your storefront".
    widget_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    widget_seen_origin: Mapped[str | None] = mapped_column(String(255))

    @hybrid_property
    def is_installed(self) -> bool:
        return self.token_encrypted is not None and self.uninstalled_at is None

    @is_installed.inplace.expression
    @classmethod
    def _is_installed_expression(cls) -> ColumnElement[bool]:
        return and_(cls.token_encrypted.is_not(None), cls.uninstalled_at.is_(None))
