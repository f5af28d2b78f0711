"""The emulator refuses what each Saleor line refuses at install (core
`saleor/app/manifest_validations.py` at 3.21.69, 3.22.67 and 3.23.28), with core's messages."""

from __future__ import annotations

import copy
import threading

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from tests.saleor_emulator import SaleorEmulator
from tests.saleor_emulator.install import InstallError, validate_manifest

PERMS = ["MANAGE_ORDERS", "MANAGE_DISCOUNTS"]
SUBSCRIPTION = "subscription { event { ... on OrderFullyPaid { order { id } } } }"
BASE = {
    "id": "test.app",
    "name": "Test",
    "version": "1.0",
    "permissions": PERMS,
    "appUrl": "http://127.0.0.1:5999/dashboard/",
    "tokenTargetUrl": "http://127.0.0.1:5999/api/register",
    "requiredSaleorVersion": ">=3.21",
    "webhooks": [
        {
            "name": "orders",
            "targetUrl": "http://127.0.0.1:5999/hook",
            "asyncEvents": ["ORDER_FULLY_PAID"],
            "query": SUBSCRIPTION,
        }
    ],
    "extensions": [],
}
WIDGET = {
    "label": "Referral",
    "mount": "ORDER_DETAILS_WIDGETS",
    "target": "WIDGET",
    "url": "http://127.0.0.1:5999/dashboard/order-widget",
    "permissions": ["MANAGE_ORDERS"],
    "options": {"widgetTarget": {"method": "GET"}},
}
POPUP = {
    "label": "Referral",
    "mount": "ORDER_DETAILS_MORE_ACTIONS",
    "target": "POPUP",
    "url": "http://127.0.0.1:5999/dashboard/order-widget",
    "permissions": ["MANAGE_ORDERS"],
}


@pytest.fixture(scope="module")
def emulators():
    made = {line: SaleorEmulator(version=line) for line in ("3.21", "3.22", "3.23")}
    yield made


def manifest(**changes):
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def refusal(emulator, data) -> tuple[str, dict]:
    with pytest.raises(InstallError) as caught:
        validate_manifest(emulator, data, data.get("permissions", []))
    return caught.value.code, caught.value.fields


def accepts(emulator, data) -> bool:
    validate_manifest(emulator, data, data.get("permissions", []))
    return True


def test_3_21_refuses_the_widget_the_way_the_issue_saw_it(emulators):
    assert refusal(emulators["3.21"], manifest(extensions=[WIDGET])) == (
        "INVALID",
        {"extensions": ["Incorrect value for field: target", "Incorrect value for field: mount"]},
    )
    assert accepts(emulators["3.22"], manifest(extensions=[WIDGET]))
    assert accepts(emulators["3.23"], manifest(extensions=[WIDGET]))
    for line in ("3.21", "3.22", "3.23"):
        assert accepts(emulators[line], manifest(extensions=[POPUP]))


def test_token_target_url_is_required_up_to_3_22(emulators):
    for line in ("3.21", "3.22"):
        assert refusal(emulators[line], manifest(tokenTargetUrl=None)) == (
            "REQUIRED",
            {"tokenTargetUrl": ["Field required."]},
        )
    assert accepts(emulators["3.23"], manifest(tokenTargetUrl=None))


def test_required_saleor_version_is_checked_against_the_release_played(emulators):
    assert refusal(emulators["3.22"], manifest(requiredSaleorVersion="~3.23.28")) == (
        "UNSUPPORTED_SALEOR_VERSION",
        {"requiredSaleorVersion": ["Saleor version 3.22.67 is not supported by the app."]},
    )
    assert refusal(emulators["3.21"], manifest(requiredSaleorVersion=">=3.22 <4")) == (
        "UNSUPPORTED_SALEOR_VERSION",
        {"requiredSaleorVersion": ["Saleor version 3.21.69 is not supported by the app."]},
    )
    assert refusal(emulators["3.23"], manifest(requiredSaleorVersion="not a range")) == (
        "INVALID",
        {"requiredSaleorVersion": ["Incorrect value for required Saleor version."]},
    )
    assert accepts(emulators["3.23"], manifest(requiredSaleorVersion="~3.23.28"))


def test_3_22_checks_widget_mounts_and_options_3_23_does_not(emulators):
    widget_in_menu = dict(WIDGET, mount="ORDER_DETAILS_MORE_ACTIONS")
    assert refusal(emulators["3.22"], manifest(extensions=[widget_in_menu])) == (
        "INVALID",
        {"extensions": ["Mount ORDER_DETAILS_MORE_ACTIONS is not available for WIDGET target."]},
    )
    assert accepts(emulators["3.23"], manifest(extensions=[widget_in_menu]))
    popup_with_widget_options = dict(POPUP, options={"widgetTarget": {"method": "GET"}})
    assert refusal(emulators["3.22"], manifest(extensions=[popup_with_widget_options])) == (
        "INVALID",
        {"extensions": ["Invalid options field: widgetTarget options must be set only on WIDGET target"]},
    )
    assert accepts(emulators["3.21"], manifest(extensions=[popup_with_widget_options]))  # 3.21 ignores options
    post_elsewhere = dict(WIDGET, url="http://elsewhere.example/widget", options={"widgetTarget": {"method": "POST"}})
    assert refusal(emulators["3.22"], manifest(extensions=[post_elsewhere])) == (
        "INVALID_URL_FORMAT",
        {"extensions": ["Incorrect value for field: url."]},
    )


def test_lower_case_mounts_are_enum_errors_before_3_23(emulators):
    lower = dict(POPUP, mount="order_details_more_actions", target="popup")
    assert refusal(emulators["3.22"], manifest(extensions=[lower])) == (
        "INVALID",
        {"extensions": ["Incorrect value for field: target", "Incorrect value for field: mount"]},
    )
    assert accepts(emulators["3.23"], manifest(extensions=[lower]))


def test_subscriptions_and_events_are_checked_against_the_lines_schema(emulators):
    newer = [
        {
            "name": "types",
            "targetUrl": "http://127.0.0.1:5999/hook",
            "asyncEvents": ["CUSTOMER_TYPE_CREATED"],
            "query": "subscription { event { ... on CustomerTypeCreated { customerType { id } } } }",
        }
    ]
    code, fields = refusal(emulators["3.21"], manifest(webhooks=newer))
    assert code == "INVALID"
    assert fields["webhooks"][0] == "Invalid asynchronous event."
    assert fields["webhooks"][1].startswith("Subscription query is not valid: Unknown type 'CustomerTypeCreated'.")
    assert accepts(emulators["3.23"], manifest(webhooks=newer))


class ManifestServer:
    """Serves one manifest and records the headers of every request."""

    def __init__(self, data):
        self.data, self.headers = data, []
        app = Flask(__name__)

        @app.get("/api/manifest")
        def get_manifest():
            self.headers.append(dict(request.headers))
            return jsonify(self.data)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/manifest"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def test_a_refused_install_reports_like_install_app_task():
    server = ManifestServer(manifest(extensions=[WIDGET]))
    try:
        with SaleorEmulator(version="3.21") as saleor:
            result = saleor.install(server.url)
    finally:
        server.stop()
    assert (result.ok, result.error_code) == (False, "INVALID")
    assert result.message == "extensions: ['Incorrect value for field: target', 'Incorrect value for field: mount']"
    assert server.headers[0]["Saleor-Schema-Version"] == "3.21"
    assert server.headers[0]["User-Agent"] == "Saleor/3.21"
