"""Tier progress in headless Chromium: the share widget (on a storefront page) and the advocate
portal say how many friends the advocate has and how many more reach the next tier or milestone,
in English and Russian, with each language's plural form for 1, 2 and 5 friends.

The ladder: a $30 store-credit bonus at the 3rd friend, $20 per friend from the 11th. Friends are
rewarded through the real flow (a paid order with the advocate's code → webhooks → the pipeline).
"""

from __future__ import annotations

import pytest

from tests.flows import friend_order, paid_advocate, set_program
from tests.ui.test_portal import portal_url
from tests.ui.test_widget_browser import WIDGET_HOST, browser, page, storefront  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

NBSP = "\u00a0"
LADDER = {
    "milestones": [{"at": 3, "reward": {"type": "STORE_CREDIT", "value": "30"}}],
    "tiers": [{"from": 11, "reward": {"type": "FIXED", "value": "20"}}],
}
# rewarded friends → locale → (how many friends so far, the next goal, progress bar value/max)
EXPECTED = {
    1: {
        "en": ("1 friend has earned you a reward", "2 more friends and you also get $30 store credit", (1, 3)),
        "ru": (
            "1 друг принёс вам награду",
            f"Ещё 2 друга — и вы дополнительно получите подарочную карту на 30{NBSP}$",
            (1, 3),
        ),
    },
    2: {
        "en": ("2 friends have earned you a reward", "1 more friend and you also get $30 store credit", (2, 3)),
        "ru": (
            "2 друга принесли вам награду",
            f"Ещё 1 друг — и вы дополнительно получите подарочную карту на 30{NBSP}$",
            (2, 3),
        ),
    },
    5: {
        "en": ("5 friends have earned you a reward", "5 more friends to unlock $20", (5, 10)),
        "ru": ("5 друзей принесли вам награду", f"Ещё 5 друзей — и вы получите 20{NBSP}$", (5, 10)),
    },
}


def widget_progress(tab) -> tuple[str, tuple[int, int]]:
    return tab.evaluate("""() => {
        const root = document.querySelector('#referral > div').shadowRoot;
        const bar = root.querySelector('progress');
        return [root.querySelector('.pr').textContent, [bar.value, bar.max], bar.getAttribute('aria-label')];
    }""")


def portal_progress(tab) -> tuple[str, str, tuple[int, int]]:
    return tab.evaluate("""() => {
        const bar = document.querySelector('.progress-card progress');
        return [document.querySelector('.stat-rewarded').textContent, document.querySelector('.goal').textContent,
                [Number(bar.value), Number(bar.max)], bar.getAttribute('aria-label')];
    }""")


def test_widget_and_portal_show_tier_progress_in_english_and_russian(page, shop, storefront):  # noqa: F811
    set_program(default_rewards=LADDER)
    order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    portal = portal_url(shop, advocate)
    rewarded = 0
    for count in (1, 2, 5):
        for n in range(rewarded + 1, count + 1):
            friend_order(shop.saleor, f"friend{n}@example.com", code=advocate.code)
        rewarded = count
        for locale in ("en", "ru"):
            so_far, goal, bar = EXPECTED[count][locale]
            page.goto(storefront.page_url(order["id"], locale=locale))
            page.wait_for_selector(WIDGET_HOST, timeout=20_000)
            page.wait_for_function("document.querySelector('#referral > div').shadowRoot.querySelector('.pr')")
            text, values, label = widget_progress(page)
            assert (text, tuple(values), label) == (goal, bar, goal), (count, locale)

            page.goto(f"{portal}?lang={locale}")
            counted, goal_text, values, label = portal_progress(page)
            assert (counted, goal_text, tuple(values), label) == (so_far, goal, bar, goal), (count, locale)
            assert page.get_by_role("progressbar", name=goal).is_visible()
