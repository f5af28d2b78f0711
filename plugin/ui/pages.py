"""Server-rendered pages' shared pieces."""

from __future__ import annotations

from flask import render_template_string

_ERROR = """<!doctype html><html lang="{{ locale }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#1f2328}
main{max-width:28rem;padding:2rem;text-align:center}h1{font-size:1.4rem}</style></head>
<body><main><h1>{{ title }}</h1><p>{{ message }}</p></main></body></html>"""

MESSAGES = {
    404: ("Page not found", "This link does not lead anywhere. Check it, or ask your friend for a new one."),
    429: ("Slow down", "Too many attempts. Please wait a minute and try again."),
    503: ("Back in a moment", "We are briefly unavailable. Please try again in a minute."),
    500: ("Something went wrong", "We have been told and are looking into it. Please try again later."),
}


def error_page(status: int, *, title: str | None = None, message: str | None = None, locale: str = "en"):
    """A friendly page for people; `title`/`message` replace the default English words."""
    default_title, default_message = MESSAGES.get(status, ("Request refused", "This request could not be handled."))
    html = render_template_string(
        _ERROR, title=title or default_title, message=message or default_message, locale=locale
    )
    return html, status, {"Cache-Control": "no-store"}
