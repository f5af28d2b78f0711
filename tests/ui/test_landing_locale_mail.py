"""The friend's code e-mail speaks the language the friend read the offer in."""

from __future__ import annotations

import re

from tests.flows import make_advocate


def test_polish_landing_sends_a_polish_code_email(shop, smtp):
    import requests

    saleor, server = shop.saleor, shop.server
    code = make_advocate(saleor)  # the advocate's order language is English
    session = requests.Session()
    page = session.get(f"{server.url}/r/{code}?lang=pl")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    action = re.search(r'<form[^>]+action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    response = session.post(
        server.url + action if action.startswith("/") else action,
        data={"email": "ola@example.com", "consent": "yes", "csrf": csrf},
    )
    assert response.status_code == 200
    mails = [m for m in smtp.wait_for(2) if m["To"] == "ola@example.com"]
    assert mails, "the friend got their code by e-mail"
    from plugin.i18n import t

    assert t("pl", "email.code") in mails[0].get_body(preferencelist=("plain",)).get_content()
