"""E-mail delivery: SMTP with auth, the file outbox, and retries that never lose a message."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from plugin.db import session_scope, utcnow
from plugin.mail.compose import render
from plugin.mail.delivery import send_email
from plugin.mail.models import OutboundEmail
from plugin.mail.outbox import queue_email
from plugin.mail.transport import FileOutbox, SMTPTransport, build_message
from plugin.tasks import Runner as TaskRunner
from plugin.tenants.models import Tenant
from tests.conftest import SMTPSink, free_port


def _context(subject="Your code"):
    return {
        "locale": "en",
        "subject": subject,
        "heading": "Hello <b>Bob</b>",
        "body": "Use it soon.",
        "code": "WELCOME-ABC",
        "code_label": "Your code",
        "details": [],
        "links": [],
        "footer": "—",
    }


def _queue(session, tenant_id: int, dedup_key: str, to: str = "bob@example.com") -> OutboundEmail | None:
    context = _context()
    text, html = render(context)
    return queue_email(
        session,
        tenant_id=tenant_id,
        dedup_key=dedup_key,
        kind="test",
        to=to,
        subject=context["subject"],
        text=text,
        html=html,
    )


def _tenant(domain: str = "shop.example.com") -> int:
    with session_scope() as session:
        tenant = Tenant(saleor_api_url=f"https://{domain}/graphql/", domain=domain)
        session.add(tenant)
    return tenant.id


class AuthSink(SMTPSink):
    def __init__(self):
        super().__init__()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"shop" and auth_data.password == b"s3cret"
            return AuthResult(success=ok)

        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
            auth_required=True,
        )


def test_smtp_with_login_delivers():
    sink = AuthSink().start()
    try:
        SMTPTransport(f"smtp://shop:s3cret@127.0.0.1:{sink.port}").send(
            build_message("Shop <shop@example.com>", "bob@example.com", "Hi", "text", "<p>html</p>")
        )
        assert [m["To"] for m in sink.wait_for(1)] == ["bob@example.com"]
    finally:
        sink.stop()


def test_html_is_escaped_and_text_has_the_code(app, tmp_path):
    tenant_id = _tenant()
    with session_scope(tenant_id) as session:
        email = _queue(session, tenant_id, "k1")
    assert "Hello &lt;b&gt;Bob&lt;/b&gt;" in email.html_body
    assert "WELCOME-ABC" in email.text_body


def test_the_same_key_queues_one_message(app):
    tenant_id = _tenant()
    for _ in range(3):
        with session_scope(tenant_id) as session:
            _queue(session, tenant_id, "coupon:1", to="b@example.com")
    with session_scope(tenant_id) as session:
        assert len(session.scalars(select(OutboundEmail)).all()) == 1


def test_smtp_down_keeps_the_message_and_delivers_it_later(make_config):
    from plugin.app import create_app

    port = free_port()
    application = create_app(make_config(smtp_url=f"smtp://127.0.0.1:{port}?timeout=1"), runner="eager")
    with application.app_context():
        tenant_id = _tenant()
        with session_scope(tenant_id) as session:  # sent once this commits: SMTP is down
            email_id = _queue(session, tenant_id, "k").id
        with session_scope(tenant_id) as session:
            row = session.get(OutboundEmail, email_id)
            assert row.status == OutboundEmail.PENDING and row.attempts == 1
            assert row.last_error.startswith("ConnectionRefusedError: ")
            assert row.next_attempt_at > utcnow()
        assert send_email(tenant_id, email_id) == "retry", "still down"
        sink = SMTPSink()
        sink.port = port
        sink.controller = Controller(sink, hostname="127.0.0.1", port=port)
        sink.start()
        try:
            with time_machine.travel(utcnow() + timedelta(minutes=5)):
                from plugin.mail.tasks import send_pending_emails

                assert send_pending_emails(tenant_id) == 1
            assert [m["To"] for m in sink.wait_for(1)] == ["bob@example.com"]
            assert send_email(tenant_id, email_id) == "skipped", "a sent message is never sent again"
        finally:
            sink.stop()


def test_file_outbox_writes_one_eml_per_message(tmp_path):
    outbox = FileOutbox(str(tmp_path / "out"))
    outbox.send(build_message("a@example.com", "b@example.com", "Subject", "text", "<p>x</p>"))
    files = list((tmp_path / "out").glob("*.eml"))
    assert len(files) == 1 and b"Subject: Subject" in files[0].read_bytes()


class Runner(TaskRunner):
    def enqueue(self, name, *args, countdown=0):
        pass


class CountingSink(SMTPSink):
    """Counts the SMTP connections too (one per run of send_pending, whatever it sends)."""

    def __init__(self):
        super().__init__()
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self._lock:
            self.connections += 1
        session.host_name = hostname
        return responses


def test_concurrent_runs_send_each_due_message_once_over_one_connection_each(make_config):
    """Several runs for one shop at once (one per committed transaction that queued mail) share
    the due messages: every message reaches the server once, each run on one connection."""
    import threading

    from plugin.app import create_app
    from plugin.mail.delivery import send_pending

    sink = CountingSink().start()
    try:
        application = create_app(make_config(smtp_url=sink.url), runner="eager")
        application.extensions["task_runner"] = Runner()  # queued here, sent by the runs below
        with application.app_context():
            tenant_id = _tenant("busy-shop.example.com")
            with session_scope(tenant_id) as session:
                for n in range(12):
                    _queue(session, tenant_id, f"k{n}", to=f"friend{n}@example.com")

        counts = []

        def run():
            with application.app_context():
                counts.append(send_pending(tenant_id))

        runs = [threading.Thread(target=run) for _ in range(3)]
        for thread in runs:
            thread.start()
        for thread in runs:
            thread.join(30)
        assert sum(counts) == 12
        received = sorted(str(m["To"]) for m in sink.wait_for(12))
        assert received == sorted(f"friend{n}@example.com" for n in range(12)), "each message exactly once"
        assert sink.connections <= 3
        with application.app_context(), session_scope(tenant_id) as session:
            assert {e.status for e in session.scalars(select(OutboundEmail))} == {OutboundEmail.SENT}
    finally:
        sink.stop()
