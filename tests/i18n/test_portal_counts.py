"""The portal's counters read as sentences with the right plural form: "<strong>2</strong> друга получили код"."""

from __future__ import annotations

import re

import pytest

from plugin.ui.portal import PortalPage


def _stats(app, locale: str, clicks: int, claims: int, joined: int) -> dict[str, str]:
    from plugin.ui.views import portal_html

    page = PortalPage(
        locale=locale,
        shop="<Shop & Co>",
        first_name="Olga",
        code="OLGA7K2",
        link="http://127.0.0.1:3000/r/OLGA7K2",
        qr="http://127.0.0.1:3000/r/OLGA7K2/qr.svg",
        offer={"friend_offer": "10%", "referrer_reward": "$10"},
        clicks=clicks,
        claims=claims,
        joined=joined,
        friends=[],
        rewards=[],
    )
    with app.test_request_context():
        html = portal_html(page)
    return dict(re.findall(r'<div class="stat-(\w+)">(.*?)</div>', html))


@pytest.mark.parametrize(
    "locale, counts, expected",
    [
        (
            "en",
            (1, 2, 5),
            {
                "clicks": "<strong>1</strong> visit of your link",
                "claims": "<strong>2</strong> friends claimed a code",
                "joined": "<strong>5</strong> friends ordered",
            },
        ),
        (
            "ru",
            (1, 2, 5),
            {
                "clicks": "<strong>1</strong> переход по вашей ссылке",
                "claims": "<strong>2</strong> друга получили код",
                "joined": "<strong>5</strong> друзей сделали заказ",
            },
        ),
        (
            "ru",
            (5, 1, 2),
            {
                "clicks": "<strong>5</strong> переходов по вашей ссылке",
                "claims": "<strong>1</strong> друг получил код",
                "joined": "<strong>2</strong> друга сделали заказ",
            },
        ),
        (
            "pl",
            (22, 5, 1),
            {
                "clicks": "<strong>22</strong> wejścia z Twojego linku",
                "claims": "<strong>5</strong> znajomych odebrało kod",
                "joined": "<strong>1</strong> znajomy złożył zamówienie",
            },
        ),
        (
            "lv",
            (21, 10, 2),
            {
                "clicks": "<strong>21</strong> saites apmeklējums",
                "claims": "<strong>10</strong> draugu saņēma kodu",
                "joined": "<strong>2</strong> draugi veica pasūtījumu",
            },
        ),
    ],
)
def test_portal_counters_use_the_plural_form_of_their_count(app, locale, counts, expected):
    assert _stats(app, locale, *counts) == expected
