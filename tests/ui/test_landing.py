"""The share landing page /r/<code>: preview tags and image, claiming a single-use friend code."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import requests
from PIL import Image
from sqlalchemy import func, select

from tests.flows import paid_advocate, set_program


class MetaTags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.forms: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.meta[key] = attrs.get("content") or ""
        elif tag == "input" and attrs.get("name"):
            self.inputs[attrs["name"]] = attrs.get("value") or ""
        elif tag == "form":
            self.forms.append(attrs.get("action") or "")


def parse(html: str) -> MetaTags:
    parser = MetaTags()
    parser.feed(html)
    return parser


def open_landing(session: requests.Session, shop, code: str, **params) -> MetaTags:
    response = session.get(f"{shop.server.url}/r/{code}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return parse(response.text)


def submit_claim(session: requests.Session, shop, code: str, email: str, *, remind: bool = False, page=None):
    page = page or open_landing(session, shop, code)
    form = {"email": email, "csrf": page.inputs["csrf"]}
    if remind:
        form["remind"] = "yes"
    return session.post(shop.server.url + page.forms[0], data=form, timeout=30)


def shown_code(html: str) -> str | None:
    found = re.search(r'<span class="code" id="code">([A-Z0-9-]+)</span>', html)
    return found.group(1) if found else None


def test_landing_has_personal_preview_tags_and_a_1200x630_png(shop):
    _order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    page = open_landing(requests.Session(), shop, advocate.code)

    for key in ("og:title", "twitter:title"):
        assert page.meta[key] == "Alice sends you 10% off at " + _shop_label(shop)
    assert page.meta["twitter:card"] == "summary_large_image"
    assert page.meta["og:url"] == f"{shop.server.url}/r/{advocate.code}"
    image_url = page.meta["og:image"]
    assert image_url == page.meta["twitter:image"]
    assert image_url.startswith(f"{shop.server.url}/r/{advocate.code}/og.png")

    response = requests.get(image_url, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (1200, 630))
    again = requests.get(image_url, headers={"If-None-Match": response.headers["ETag"]}, timeout=10)
    assert again.status_code == 304


def test_landing_speaks_the_visitors_language(shop):
    _order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    page = open_landing(requests.Session(), shop, advocate.code, lang="ru")
    assert page.meta["og:title"] == "Alice дарит вам скидку 10\u00a0% в магазине " + _shop_label(shop)
    assert page.meta["og:locale"] == "ru_RU"


def _shop_label(shop) -> str:
    from plugin.db import session_scope
    from plugin.mail.compose import shop_name
    from plugin.tenants.models import Tenant

    with session_scope() as session:
        return shop_name(session.get(Tenant, shop.tenant_id()), "ru")


def test_claim_creates_a_single_use_code_in_saleor_and_emails_it(shop):
    _order, advocate = paid_advocate(shop, "alice@example.com", "Alice")
    invites = len(shop.smtp.wait_for(1))
    browser = requests.Session()
    response = submit_claim(browser, shop, advocate.code, "Bob@Example.com")

    assert response.status_code == 200, response.text
    code = shown_code(response.text)
    assert code and code.startswith("FRIEND-")
    voucher = shop.saleor.voucher_codes().get(code)
    assert voucher is not None and voucher["is_active"]
    with shop.saleor.state.lock:
        found = shop.saleor.state.find_code(code)
        assert found[0].single_use is True

    messages = shop.smtp.wait_for(invites + 1)
    to_bob = [m for m in messages if m["To"] == "Bob@example.com"]
    assert len(to_bob) == 1
    assert code in to_bob[0].get_body(("plain",)).get_content()

    assert shown_code(browser.get(response.url, timeout=10).text) == code, "the claiming browser sees it again"
    again = submit_claim(requests.Session(), shop, advocate.code, "bob@example.com")
    assert again.status_code == 200
    assert shown_code(again.text) is None and code not in again.text, "another browser never sees the code"
    resent = [m for m in shop.smtp.wait_for(invites + 2) if m["To"] == "Bob@example.com"]
    assert len(resent) == 2 and code in resent[1].get_body(("plain",)).get_content()
    assert len(shop.saleor.voucher_codes()) == 1


def test_claim_remembers_where_the_friend_came_from(shop):
    from plugin.db import session_scope
    from plugin.referrals.models import FriendClaim

    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    browser.headers["Referer"] = "https://www.retailmenot.com/view/shop"
    page = open_landing(browser, shop, advocate.code, utm_source="whatsapp")
    browser.headers.pop("Referer")
    assert submit_claim(browser, shop, advocate.code, "bob@example.com", page=page).status_code == 200
    with session_scope() as session:
        claim = session.scalar(select(FriendClaim))
        assert claim.landing_referrer == "www.retailmenot.com"
        assert claim.clicked_at is not None and claim.clicked_at <= claim.created_at


def test_clicks_are_counted_once_per_browser(shop):
    from plugin.analytics.models import FunnelEvent
    from plugin.db import session_scope

    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    open_landing(browser, shop, advocate.code, utm_source="telegram")
    open_landing(browser, shop, advocate.code)
    open_landing(requests.Session(), shop, advocate.code)
    crawler = requests.get(f"{shop.server.url}/r/{advocate.code}", headers={"User-Agent": "facebookexternalhit/1.1"})
    assert crawler.status_code == 200
    with session_scope() as session:
        clicks = session.execute(
            select(FunnelEvent.advocate_id, FunnelEvent.share_channel)
            .where(FunnelEvent.kind == "click")
            .order_by(FunnelEvent.id)
        ).all()
    assert clicks == [(advocate.id, "telegram"), (advocate.id, None)]


def test_the_advocate_cannot_claim_their_own_offer(shop):
    _order, advocate = paid_advocate(shop, "alice.smith@gmail.com", "Alice")
    response = submit_claim(requests.Session(), shop, advocate.code, "Alice.Smith+deals@gmail.com")
    assert response.status_code == 403
    assert "your own link" in response.text
    assert shop.saleor.voucher_codes() == {}


def test_claim_needs_a_valid_email_and_the_forms_token(shop):
    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    bad_email = submit_claim(browser, shop, advocate.code, "bob@")
    assert bad_email.status_code == 400 and "valid e-mail" in bad_email.text
    forged = requests.post(
        f"{shop.server.url}/r/{advocate.code}",
        data={"email": "bob@example.com", "csrf": "0" * 64},
        timeout=10,
    )
    assert forged.status_code == 400 and "form expired" in forged.text
    assert shop.saleor.voucher_codes() == {}


def test_claims_per_code_are_capped_per_day(shop):
    from plugin.db import session_scope
    from plugin.referrals.models import FriendClaim

    _order, advocate = paid_advocate(shop)
    set_program(caps={"rewards_per_advocate_30d": 10, "claims_per_code_per_day": 2})
    browser = requests.Session()
    assert submit_claim(browser, shop, advocate.code, "f1@example.com").status_code == 200
    assert submit_claim(browser, shop, advocate.code, "f2@example.com").status_code == 200
    third = submit_claim(browser, shop, advocate.code, "f3@example.com")
    assert third.status_code == 429 and "used a lot today" in third.text
    again = submit_claim(browser, shop, advocate.code, "f1@example.com")  # known or new: the same answer
    assert again.status_code == 429 and "used a lot today" in again.text
    with session_scope() as session:
        assert session.scalar(select(func.count(FriendClaim.id))) == 2


def test_when_saleor_is_down_the_friend_is_told_the_code_comes_by_email(shop):
    from plugin.coupons.models import Coupon
    from plugin.db import session_scope

    _order, advocate = paid_advocate(shop)
    browser = requests.Session()
    page = open_landing(browser, shop, advocate.code)
    shop.saleor.faults.fail_next(20, status=503)
    response = submit_claim(browser, shop, advocate.code, "bob@example.com", page=page)
    shop.saleor.faults.reset()
    assert response.status_code == 200
    assert "will e-mail it to bob@example.com" in response.text
    assert shown_code(response.text) is None
    with session_scope() as session:
        coupon = session.scalar(select(Coupon).where(Coupon.purpose == Coupon.FRIEND_OFFER))
        assert coupon.state == Coupon.RESERVED  # the sweeper creates it once Saleor is back

    retry = submit_claim(browser, shop, advocate.code, "bob@example.com")
    assert shown_code(retry.text) == coupon.code


def test_continue_button_uses_only_the_merchants_http_url(shop):
    _order, advocate = paid_advocate(shop)
    set_program(storefront_url_template="https://shop.example.com/cart?promo={code}&ref={referral_code}")
    response = submit_claim(requests.Session(), shop, advocate.code, "bob@example.com")
    code = shown_code(response.text)
    assert f'href="https://shop.example.com/cart?promo={code}&amp;ref={advocate.code}"' in response.text

    set_program(storefront_url_template="javascript:alert(1)//{code}", storefront_url="")
    response = submit_claim(requests.Session(), shop, advocate.code, "carol@example.com")
    assert response.status_code == 200
    assert "javascript:" not in response.text


def test_unknown_and_malformed_codes_get_a_friendly_404(shop):
    paid_advocate(shop)
    for code in ("NOPE2345", "x", "<script>", "A" * 5000, "%00%ff", "..%2F..%2Fetc"):
        for suffix in ("", "/og.png", "/qr.svg"):
            response = requests.get(f"{shop.server.url}/r/{code}{suffix}", timeout=10)
            assert response.status_code == 404, (code, suffix)
            assert "<script>" not in response.text
    posted = requests.post(f"{shop.server.url}/r/NOPE2345", data={"email": "a@b.co"}, timeout=10)
    assert posted.status_code == 404


def test_holdout_advocates_and_a_disabled_program_have_no_landing_page(shop):
    from plugin.db import session_scope
    from plugin.referrals.models import Advocate

    _order, advocate = paid_advocate(shop)
    assert requests.get(f"{shop.server.url}/r/{advocate.code}", timeout=10).status_code == 200
    with session_scope() as session:
        session.get(Advocate, advocate.id).variant = "holdout"
    assert requests.get(f"{shop.server.url}/r/{advocate.code}", timeout=10).status_code == 404
    with session_scope() as session:
        session.get(Advocate, advocate.id).variant = None
    set_program(enabled=False)
    assert requests.get(f"{shop.server.url}/r/{advocate.code}", timeout=10).status_code == 404


def test_qr_code_encodes_the_share_link(shop):
    _order, advocate = paid_advocate(shop)
    response = requests.get(f"{shop.server.url}/r/{advocate.code}/qr.svg", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert response.content.lstrip().startswith(b"<?xml") and b"<svg" in response.content
    assert "max-age" in response.headers["Cache-Control"] and response.headers["ETag"]
