"""widget.js (with its CSS inlined) must stay within 3 KB gzipped, and be served cacheable to any origin."""

from __future__ import annotations

import gzip

BUDGET_BYTES = 3 * 1024


def test_served_widget_js_with_its_css_fits_the_gzip_budget(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    body = response.get_data()
    assert b":host{" in body, "the widget's CSS should be inlined in widget.js"
    size = len(gzip.compress(body, compresslevel=9))
    print(f"widget.js: {len(body)} bytes, {size} bytes gzipped (budget {BUDGET_BYTES})")
    assert size <= BUDGET_BYTES, f"widget.js is {size} B gzipped, over the {BUDGET_BYTES} B budget"


def test_widget_js_is_served_for_long_caching_with_an_etag_and_cors(client):
    response = client.get("/widget.js")
    assert response.mimetype == "text/javascript"
    assert "max-age=86400" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    etag = response.headers["ETag"]
    assert client.get("/widget.js", headers={"If-None-Match": etag}).status_code == 304


def test_the_served_widget_is_minified_from_the_readable_source(client):
    from plugin.ui.assets import STATIC

    source = (STATIC / "widget.src.js").read_text()
    served = client.get("/widget.js").get_data(as_text=True)
    assert "/* Referral share widget" in source and "/* Referral share widget" not in served
    assert len(served) < len(source)
    assert "__WIDGET_CSS__" not in served
