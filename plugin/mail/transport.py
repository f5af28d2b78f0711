"""Delivering a message: SMTP (SMTP_URL) or, by default, a file outbox.

SMTP_URL forms: `smtp://host:25` (plain, STARTTLS if the server offers it and
`?starttls=1`), `smtp+starttls://user:pass@host:587` (STARTTLS required),
`smtps://user:pass@host:465` (implicit TLS). `?timeout=10` sets the socket timeout.
"""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
import ssl
import time
import unicodedata
import uuid
from collections.abc import Iterator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs tens of milliseconds: once per process, and only for TLS."""
    return ssl.create_default_context()


class MailTransport:
    def send(self, message: EmailMessage) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def connection(self) -> Iterator[MailTransport]:
        """Several messages over one connection (where the transport has one): `send` on what this yields."""
        yield self


class FileOutbox(MailTransport):
    """Writes one .eml file per message; what `make run` uses."""

    def __init__(self, directory: str):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(bytes(message))
        tmp.rename(self.directory / name)


class SMTPTransport(MailTransport):
    def __init__(self, url: str):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or {"smtps": 465, "smtp+starttls": 587}.get(parts.scheme, 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = float(query.get("timeout", ["10"])[0])
        self.starttls = parts.scheme == "smtp+starttls" or query.get("starttls", ["0"])[0] in {"1", "true"}

    def _open(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=_tls_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.scheme != "smtps" and self.starttls:
                smtp.starttls(context=_tls_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        with self.connection() as connection:
            connection.send(message)

    @contextlib.contextmanager
    def connection(self) -> Iterator[MailTransport]:
        session = _SMTPSession(self)
        try:
            yield session
        finally:
            session.close()


class _SMTPSession(MailTransport):
    """One SMTP connection for a batch, opened at the first message; a message the server refused
    or a dropped connection fails that message only: the next one starts on a fresh connection."""

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self.transport._open()
        try:
            self.smtp.send_message(message)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def transport_from_config(cfg) -> MailTransport:
    if cfg.smtp_url:
        return SMTPTransport(cfg.smtp_url)
    return FileOutbox(cfg.mail_outbox_dir)


def header_text(value: str) -> str:
    """A header value on one line: CR, LF, the Unicode line and paragraph separators and every other
    control character (\v, \f, \x1c-\x1e, \x85, ...) become spaces; runs of spaces become one."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value or "")
    return re.sub(r" {2,}", " ", cleaned).strip()


def mailbox(value: str | tuple[str, str]) -> Address:
    """`Name <address>`, a bare address or a (name, address) pair as one mailbox; ValueError (or
    HeaderParseError) unless the address is exactly one valid address."""
    name, address = value if isinstance(value, tuple) else parseaddr(header_text(value))
    if not address or "@" not in address:
        raise ValueError("not an e-mail address")
    return Address(display_name=header_text(name), addr_spec=header_text(address))


def build_message(
    sender: str | tuple[str, str],
    to: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str = "",
    message_id: str | None = None,
    list_unsubscribe: str | None = None,
) -> EmailMessage:
    """Raises ValueError (or email.errors.HeaderParseError, also a ValueError) for an address that is not
    exactly one mailbox; every other header value is cleaned with `header_text` first."""
    message = EmailMessage()
    message["From"] = mailbox(sender)
    message["To"] = Address(addr_spec=header_text(to))  # one recipient: a list in `to` cannot parse
    message["Subject"] = header_text(subject)
    message["Date"] = formatdate(localtime=False)
    # A stable id per outbox row lets mail servers and clients collapse the rare second copy
    # (sending is at least once: a crash after the server accepted, before we recorded it).
    message["Message-ID"] = message_id or make_msgid(domain="referrals.local")
    if reply_to:
        message["Reply-To"] = mailbox(reply_to)
    if list_unsubscribe:
        # RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" to this URL.
        message["List-Unsubscribe"] = f"<{header_text(list_unsubscribe)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
