"""The storefront widget: bytes on the wire, and time to a rendered share block in Chromium.

Size: `GET /widget.js` from the app (the CSS is inlined in it), gzipped at levels 6 (the
usual reverse-proxy setting) and 9.

Time: a storefront page on another loopback origin inserts the documented snippet
(`<script src=…/widget.js data-saleor-api-url data-order-id async>`) for a paid order whose
buyer is already an advocate; a MutationObserver notes when the share block (a Shadow DOM
`<section>`) is in the page. Each sample is a fresh browser context (cold cache). Reported:
from inserting the script tag, and from the moment widget.js finished downloading (≈ when it
starts running), to the rendered block.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from bench import env
from bench.load import Result

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUDGET_BYTES = 3 * 1024

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you for your order</title></head>
<body>
<h1>Thank you for your order</h1>
<div id="referral-slot"></div>
<script>
window.__bench = {};
new MutationObserver(function () {
  var slot = document.getElementById("referral-slot");
  var host = slot.firstElementChild;
  if (!window.__bench.rendered && host && host.shadowRoot && host.shadowRoot.querySelector("section")) {
    window.__bench.rendered = performance.now();
  }
}).observe(document.body, {childList: true, subtree: true});
window.__bench.inserted = performance.now();
var s = document.createElement("script");
s.src = "APP_URL/widget.js";
s.async = true;
s.dataset.saleorApiUrl = "API_URL";
s.dataset.orderId = "ORDER_ID";
s.dataset.target = "#referral-slot";
document.body.appendChild(s);
</script>
</body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def measure_size(app_url: str) -> dict:
    response = requests.get(app_url + "/widget.js", timeout=10)
    if response.status_code != 200:
        return {"available": False, "status": response.status_code}
    body = response.content
    extra_css = [u for u in ("/widget.css",) if requests.get(app_url + u, timeout=10).status_code == 200]
    return {
        "available": True,
        "raw_bytes": len(body),
        "gzip6_bytes": len(gzip.compress(body, compresslevel=6)),
        "gzip9_bytes": len(gzip.compress(body, compresslevel=9)),
        "separate_css_files": extra_css,
        "budget_bytes": BUDGET_BYTES,
        "cache_control": response.headers.get("Cache-Control"),
    }


def measure_render(app_url: str, api_url: str, order_id: str, samples: int) -> dict:
    if not Path(CHROMIUM).exists():
        return {"available": False, "reason": f"{CHROMIUM} not installed"}
    from playwright.sync_api import sync_playwright

    site = Path(tempfile.mkdtemp(prefix="bench-storefront-"))
    (site / "thanks.html").write_text(
        PAGE.replace("APP_URL", app_url).replace("API_URL", api_url).replace("ORDER_ID", order_id)
    )
    port = env.free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from_insert, from_script = Result("script tag inserted → share block"), Result("widget.js loaded → share block")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                for _ in range(samples + 1):  # the first one warms the server and the browser up
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(f"http://127.0.0.1:{port}/thanks.html")
                    page.wait_for_function("window.__bench.rendered", timeout=15000)
                    marks = page.evaluate("""() => {
                        const js = performance.getEntriesByType('resource').find(e => e.name.endsWith('/widget.js'));
                        return {inserted: window.__bench.inserted, rendered: window.__bench.rendered,
                                loaded: js ? js.responseEnd : null};
                    }""")
                    context.close()
                    if _ == 0:
                        continue
                    from_insert.latencies.append((marks["rendered"] - marks["inserted"]) / 1000)
                    if marks["loaded"]:
                        from_script.latencies.append((marks["rendered"] - marks["loaded"]) / 1000)
            finally:
                browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)
    return {
        "available": True,
        "samples": samples,
        "from_insert": _ms_summary(from_insert),
        "from_script_loaded": _ms_summary(from_script),
    }


def _ms_summary(result: Result) -> dict:
    s = result.summary()
    return {k: s[k] for k in ("p50_ms", "p90_ms", "max_ms")}


def run(*, samples: int = 20, log=print) -> dict:
    """An installed shop (gunicorn, in-process task runner) with one paid advocate order."""
    from tests.saleor_emulator import SaleorEmulator

    report: dict = {}
    with env.scratch_database() as database_url, SaleorEmulator() as saleor:
        port = env.free_port()
        app_url = f"http://127.0.0.1:{port}"
        environment = env.app_env(database_url, "", app_url, SWEEP_INTERVAL="0")
        with env.Gunicorn("plugin:create_app()", environment, workers=2, port=port):
            report["size"] = measure_size(app_url)
            log(f"  widget.js: {report['size']}")
            if not report["size"]["available"]:
                report["render"] = {"available": False, "reason": "GET /widget.js is not served yet"}
                return report
            if not saleor.install(f"{app_url}/api/manifest").ok:
                raise RuntimeError("install failed")
            order = saleor.create_order("alice@example.com", first_name="Alice", total="60.00", paid=True)
            saleor.checkout_complete(order)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                state = requests.get(
                    f"{app_url}/api/widget/state",
                    timeout=5,
                    params={"saleorApiUrl": saleor.api_url, "orderId": order["id"]},
                ).json()
                if state.get("show"):
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError("the paid order never got a share block")
            report["render"] = measure_render(app_url, saleor.api_url, order["id"], samples)
            log(f"  render: {report['render']}")
    return report
