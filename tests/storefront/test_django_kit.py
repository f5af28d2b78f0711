"""integrations/django: `{% referral_widget order_id %}` rendered by Django's test client, with
hostile values escaped, settings checked; and the rendered page shows the widget in Chromium."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "integrations" / "django" / "src"))  # the repository's kit, installed or not

django = pytest.importorskip("django", reason="Django comes with the [test] extras: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def django_client():
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="kit-test",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF="tests.storefront.django_site",
            INSTALLED_APPS=["saleor_referrals_django"],
            MIDDLEWARE=[],
            DATABASES={},
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
            REFERRALS_APP_URL="https://referrals.example.com/",
            REFERRALS_SALEOR_API_URL="https://shop.example.com/graphql/",
        )
        django.setup()
    from django.test import Client

    return Client()


def render(client, **params) -> str:
    response = client.get("/checkout/complete/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_tag_renders_the_snippet(django_client):
    page = render(django_client, order="T3JkZXI6MQ==", locale="pl")
    assert (
        '<script src="https://referrals.example.com/widget.js" data-saleor-api-url="https://shop.example.com/graphql/" '
        'data-order-id="T3JkZXI6MQ==" data-locale="pl" data-target="#referral" async></script>'
    ) in page


def test_every_attribute_is_escaped(django_client):
    from django.test import override_settings

    hostile = '"><img src=x onerror=alert(1)>'
    with override_settings(REFERRALS_SALEOR_API_URL='https://shop.example.com/graphql/?a="b"&c=<d>'):
        page = render(django_client, order=hostile, locale='pl" onload="alert(2)', name="<b>Bob</b>")
    assert "<img" not in page and "onerror=alert(1)>" not in page and 'onload="alert' not in page
    assert 'data-order-id="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page
    assert 'data-saleor-api-url="https://shop.example.com/graphql/?a=&quot;b&quot;&amp;c=&lt;d&gt;"' in page
    assert 'data-locale="pl&quot; onload=&quot;alert(2)"' in page
    assert "Thank you, &lt;b&gt;Bob&lt;/b&gt;!" in page


def test_nothing_renders_without_an_order_or_with_broken_settings(django_client):
    from django.core import checks
    from django.test import override_settings

    assert "<script" not in render(django_client, order="")
    with override_settings(REFERRALS_APP_URL="javascript:alert(1)//"):
        assert "<script" not in render(django_client, order="T3JkZXI6MQ==")
        assert [e.id for e in checks.run_checks()] == ["saleor_referrals.E001"]
    with override_settings(REFERRALS_SALEOR_API_URL=""):
        assert [e.id for e in checks.run_checks()] == ["saleor_referrals.E002"]
    assert checks.run_checks() == []


@pytest.mark.browser
def test_a_django_page_shows_the_widget_for_a_paid_order(django_client, chromium, storefront, saleor, live_server):
    """The page Django renders, served from a storefront origin: the app's widget appears in it."""
    from django.test import override_settings

    from tests.conftest import wait_until
    from tests.flows import advocate_code

    assert saleor.install(f"{live_server.url}/api/manifest").ok
    order = saleor.create_order("alice@example.com", first_name="Alice", paid=True)
    saleor.checkout_complete(order)
    assert wait_until(lambda: advocate_code("alice@example.com"))
    with override_settings(REFERRALS_APP_URL=live_server.url, REFERRALS_SALEOR_API_URL=saleor.api_url):
        html = render(django_client, order=order["id"], name="Alice")
    url = storefront.page("/checkout/complete/", html)
    page = chromium.new_page()
    page.goto(url)
    page.wait_for_function(
        "document.querySelector('#referral > div')?.shadowRoot?.querySelector('input') != null", timeout=15000
    )
    link = page.evaluate("document.querySelector('#referral > div').shadowRoot.querySelector('input').value")
    assert link == f"{live_server.url}/r/{advocate_code('alice@example.com')}"
    page.close()
