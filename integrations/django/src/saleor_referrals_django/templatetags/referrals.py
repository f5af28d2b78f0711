"""`{% referral_widget order_id %}`: the widget's <script> tag, every attribute escaped.

Optional keywords: `locale="pl"`, `theme="dark"` (light, dark, auto), `target="#referral"` (a CSS
selector; without it the widget renders where the tag is). Nothing is rendered without an order id
or with broken settings (the page must not fail because of the widget; `manage.py check` reports
the settings).
"""

from __future__ import annotations

import logging

from django import template
from django.utils.html import format_html, format_html_join

from ..conf import widget_settings

register = template.Library()
log = logging.getLogger(__name__)

THEMES = ("light", "dark", "auto")
MAX_ATTRIBUTE = 255


def _text(value) -> str:
    return "" if value is None else str(value).strip()


@register.simple_tag
def referral_widget(order_id, locale=None, theme=None, target=None) -> str:
    config = widget_settings()
    problems = config.problems()
    if problems:
        log.warning("referral widget not rendered: %s", "; ".join(message for _id, message in problems))
        return ""
    order_id = _text(order_id)
    if not order_id or len(order_id) > MAX_ATTRIBUTE:
        return ""
    attributes = [("data-saleor-api-url", config.saleor_api_url), ("data-order-id", order_id)]
    for name, value in (("data-locale", _text(locale)), ("data-theme", _text(theme)), ("data-target", _text(target))):
        if value and len(value) <= MAX_ATTRIBUTE and (name != "data-theme" or value in THEMES):
            attributes.append((name, value))
    return format_html(
        '<script src="{}/widget.js" {} async></script>',
        config.app_url,
        format_html_join(" ", '{}="{}"', attributes),
    )
