"""The Dashboard's setup checklist: what a shop still has to do before its program is live.

1. Storefront: where the landing page sends friends, and which origins may show the widget.
2. Widget seen on the storefront: the snippet (this app's URL and the shop's Saleor API URL filled
   in) is on the order confirmation page; done once the widget first asked for an order from a
   listed origin (`tenants.widget_seen_at`, recorded by the widget API).
3. A test order: done once the app has recorded a referred order for the shop.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.program.settings import Program
from plugin.referrals.models import Advocate, OrderRecord, Referral
from plugin.tenants.models import Tenant


def snippets(app_url: str, saleor_api_url: str) -> dict[str, str]:
    """The widget for the storefront, ready to paste: plain HTML, the Next.js and the Django kit."""
    app_url = app_url.rstrip("/")
    return {
        "html": (
            '<div id="referral"></div>\n'
            f'<script src="{app_url}/widget.js"\n'
            f'        data-saleor-api-url="{saleor_api_url}"\n'
            '        data-order-id="ORDER_ID"\n'
            '        data-target="#referral"\n'
            "        async></script>"
        ),
        "nextjs": (
            "# .env of saleor/storefront, with src/referrals/ from integrations/nextjs\n"
            f"NEXT_PUBLIC_REFERRALS_APP_URL={app_url}\n"
            f"NEXT_PUBLIC_SALEOR_API_URL={saleor_api_url}\n\n"
            "// src/checkout/views/order-confirmation/order-confirmation.tsx\n"
            'import { ReferralWidget } from "@/referrals";\n'
            "<ReferralWidget orderId={order.id} />"
        ),
        "django": (
            "# settings.py (pip install ./integrations/django)\n"
            'INSTALLED_APPS += ["saleor_referrals_django"]\n'
            f'REFERRALS_APP_URL = "{app_url}"\n'
            f'REFERRALS_SALEOR_API_URL = "{saleor_api_url}"\n\n'
            "{# the order confirmation template #}\n"
            "{% load referrals %}\n"
            "{% referral_widget order.id %}"
        ),
    }


def checklist(session: Session, tenant: Tenant, program: Program, app_url: str) -> dict:
    origins = program.storefront_origins
    storefront_url = program.storefront_url_template or program.storefront_url
    counts = {
        "orders": session.scalar(select(func.count(OrderRecord.id)).where(OrderRecord.tenant_id == tenant.id)) or 0,
        "advocates": session.scalar(select(func.count(Advocate.id)).where(Advocate.tenant_id == tenant.id)) or 0,
        "referred_orders": session.scalar(select(func.count(Referral.id)).where(Referral.tenant_id == tenant.id)) or 0,
    }
    steps = [
        {
            "id": "storefront",
            "done": bool(storefront_url) and bool(origins),
            "storefront_url": storefront_url or None,
            "origins": origins,
        },
        {
            "id": "widget_seen",
            "done": tenant.widget_seen_at is not None,
            "seen_at": tenant.widget_seen_at.isoformat() if tenant.widget_seen_at else None,
            "seen_origin": tenant.widget_seen_origin,
            "app_url": app_url.rstrip("/"),
            "saleor_api_url": tenant.saleor_api_url,
            "snippets": snippets(app_url, tenant.saleor_api_url),
        },
        {"id": "test_order", "done": counts["referred_orders"] > 0, **counts},
    ]
    return {"complete": all(step["done"] for step in steps), "steps": steps}
