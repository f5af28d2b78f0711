"""The Next.js cart component in headless Chromium, the way a friend meets it.

A friend claims a code on the landing page; its "continue" button leads to the storefront's cart
(`storefront_url_template`). There the kit's `ReferralCart` (bundled with React into a minimal
harness page, rendered in StrictMode) applies `?promo=` to the cart's checkout in the emulated Saleor
with `checkoutAddPromoCode`, writes `referral_code` into the checkout's metadata once with
`updateMetadata`, and cleans the address. Completing that checkout pays both sides.
"""

from __future__ import annotations

import html
import json
import re

import pytest
import requests

from plugin.coupons.models import Coupon
from tests.flows import coupons_for, paid_advocate, referral_for, set_program
from tests.ui.test_landing import shown_code, submit_claim

pytestmark = pytest.mark.browser

CART_PATH = "/en/default-channel/cart"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Cart</title></head><body>
<h1>Cart</h1><div id="cart" data-checkout-id="%(checkout_id)s" data-saleor-api-url="%(api_url)s"></div>
<script type="module" src="/harness.js"></script></body></html>"""


def mutations(saleor, name: str) -> list:
    return [r for r in saleor.requests if isinstance(r.query, str) and re.search(rf"\b{name}\(", r.query)]


def open_cart(chromium, url: str):
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def test_cart_applies_the_friends_code_and_stores_the_referral_once(chromium, shop, storefront, harness_bundle):
    saleor = shop.saleor
    _order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    set_program(storefront_url_template=f"{storefront.origin}{CART_PATH}?promo={{code}}&ref={{referral_code}}")
    claimed = submit_claim(requests.Session(), shop, advocate.code, "bob@example.com")
    friend_code = shown_code(claimed.text)
    link = html.unescape(re.search(r'<a class="button" href="([^"]+)"', claimed.text).group(1))
    assert link == f"{storefront.origin}{CART_PATH}?promo={friend_code}&ref={advocate.code}"

    checkout = saleor.create_checkout(email="bob@example.com", subtotal="40.00")
    storefront.pages["/harness.js"] = ("text/javascript", harness_bundle)
    storefront.page(CART_PATH, PAGE % {"checkout_id": checkout["id"], "api_url": saleor.api_url})

    page, errors = open_cart(chromium, link)
    status = page.locator("[data-referral-status]")
    status.wait_for(timeout=15000)
    assert (status.get_attribute("data-referral-status"), status.inner_text()) == (
        "applied",
        "Your friend's discount is applied.",
    )
    assert page.url == f"{storefront.origin}{CART_PATH}"  # ?promo= and ?ref= are gone from the address
    page.wait_for_function("window.referralHarness.refreshes >= 1")

    after = saleor.get_checkout(checkout)
    assert after["voucherCode"] == friend_code
    assert {m["key"]: m["value"] for m in after["metadata"]} == {"referral_code": advocate.code}
    applied, remembered = mutations(saleor, "checkoutAddPromoCode"), mutations(saleor, "updateMetadata")
    assert (len(applied), len(remembered)) == (1, 1)  # StrictMode ran the effect twice; one write each
    assert remembered[0].variables == {"id": checkout["id"], "referralCode": advocate.code}
    assert remembered[0].headers["Origin"] == storefront.origin and remembered[0].requestor == "anonymous"

    page.reload()
    page.wait_for_load_state("networkidle")
    assert (len(mutations(saleor, "checkoutAddPromoCode")), len(mutations(saleor, "updateMetadata"))) == (1, 1)
    assert errors == []
    page.close()

    order = saleor.complete_checkout(checkout, first_name="Bob")
    assert (order["voucherCode"], order["metadata"]) == (
        friend_code,
        [{"__typename": "MetadataItem", "key": "referral_code", "value": advocate.code}],
    )
    assert referral_for(order["id"]).state == "issued"
    assert [(c.purpose, c.state) for c in coupons_for(order["id"])] == [
        (Coupon.FRIEND_REWARD, Coupon.ISSUED),
        (Coupon.REFERRER_REWARD, Coupon.ISSUED),
    ]


def test_a_refused_code_is_explained_and_the_referral_is_still_kept(chromium, shop, storefront, harness_bundle):
    saleor = shop.saleor
    checkout = saleor.create_checkout(email="carol@example.com")
    storefront.pages["/harness.js"] = ("text/javascript", harness_bundle)
    url = storefront.page(CART_PATH, PAGE % {"checkout_id": checkout["id"], "api_url": saleor.api_url})

    page, errors = open_cart(chromium, f"{url}?promo=NOT-A-CODE&ref=ALICE7K2&utm_source=whatsapp")
    status = page.locator("[data-referral-status]")
    status.wait_for(timeout=15000)
    assert (status.get_attribute("data-referral-status"), status.inner_text()) == (
        "refused",
        "The discount code could not be applied: Promo code is invalid",
    )
    assert page.url == f"{url}?utm_source=whatsapp"  # only the kit's own parameters are removed
    after = saleor.get_checkout(checkout)
    assert after["voucherCode"] is None
    assert {m["key"]: m["value"] for m in after["metadata"]} == {"referral_code": "ALICE7K2"}
    assert len(mutations(saleor, "updateMetadata")) == 1
    assert errors == []
    page.close()


def test_codes_wait_for_a_checkout_when_the_cart_is_empty(chromium, shop, storefront, harness_bundle):
    saleor = shop.saleor
    storefront.pages["/harness.js"] = ("text/javascript", harness_bundle)
    empty = storefront.page(CART_PATH, PAGE % {"checkout_id": "", "api_url": saleor.api_url})
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{empty}?promo=SOMECODE&ref=ALICE7K2")
    page.wait_for_function(f"location.href === {json.dumps(empty)}")
    assert [r for r in saleor.requests if r.requestor == "anonymous"] == []  # no checkout: nothing to ask
    assert json.loads(page.evaluate("localStorage.getItem('saleor-referrals:pending')"))["referralCode"] == "ALICE7K2"

    checkout = saleor.create_checkout(email="dan@example.com")
    storefront.page(CART_PATH, PAGE % {"checkout_id": checkout["id"], "api_url": saleor.api_url})
    page.reload()
    page.locator("[data-referral-status=refused]").wait_for(timeout=15000)
    assert {m["key"]: m["value"] for m in saleor.get_checkout(checkout)["metadata"]} == {"referral_code": "ALICE7K2"}
    assert page.evaluate("localStorage.getItem('saleor-referrals:pending')") is None
    context.close()
