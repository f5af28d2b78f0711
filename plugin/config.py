"""Runtime configuration, read once from the environment; the one place that reads it.

Every variable is documented in the README ("Configuration"). Defaults are the
embedded `make run` setup: SQLite file, in-process task runner, file outbox.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult

from plugin.netpolicy import UrlRefused, parse_url


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR.

    A key that changed on every restart would make stored Saleor tokens unreadable.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Config:
    app_url: str = "http://127.0.0.1:3000"
    port: int = 3000
    database_url: str = ""
    redis_url: str = ""
    smtp_url: str = ""
    mail_outbox_dir: str = ""
    mail_from: str = "Referrals <referrals@localhost>"
    mail_sender_domains: list[str] = field(default_factory=list)
    secret_key: str = ""
    old_secret_keys: list[str] = field(default_factory=list)  # still decrypt tokens stored under these
    data_dir: str = "var"
    allowed_saleor_api_urls: list[str] = field(default_factory=list)
    # Without an allow-list, a Saleor on loopback or a private network may install only when allowed.
    saleor_allow_loopback: bool = False
    saleor_allow_private: bool = False
    trusted_proxies: int = 0
    saleor_timeout: float = 5.0
    max_webhook_bytes: int = 256 * 1024
    sweep_interval: float = 30.0
    sweep_grace: float = 30.0  # seconds: younger unfinished work is left to its task
    mail_retry_base_seconds: float = 5.0
    disposable_domains_file: str = ""  # "" → the shipped list (plugin/fraud/disposable_domains.txt)
    coupon_sites_file: str = ""  # "" → the shipped list (plugin/fraud/coupon_sites.txt)
    task_always_eager: bool = False
    log_level: str = "INFO"
    # Outbound webhooks to the merchant's systems (plugin/merchant_webhooks/).
    webhooks_allow_local: bool = False  # plain http and loopback/private receivers: tests and local development
    webhook_timeout: float = 5.0
    webhook_retry_base_seconds: float = 10.0
    webhook_retry_hours: float = 24.0

    @classmethod
    def from_env(cls, **overrides) -> Config:
        env = os.environ
        port = int(env.get("PORT", "3000"))
        data_dir = Path(env.get("DATA_DIR") or Path.cwd() / "var")
        data_dir.mkdir(parents=True, exist_ok=True)
        cfg = cls(
            app_url=(env.get("APP_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
            port=port,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'referrals.sqlite3'}",
            redis_url=env.get("REDIS_URL", ""),
            smtp_url=env.get("SMTP_URL", ""),
            mail_outbox_dir=env.get("MAIL_OUTBOX_DIR") or str(data_dir / "outbox"),
            mail_from=env.get("MAIL_FROM") or cls.mail_from,
            mail_sender_domains=[d.lower() for d in _list(env.get("MAIL_SENDER_DOMAINS"))],
            secret_key="",
            old_secret_keys=_list(env.get("OLD_SECRET_KEYS")),
            data_dir=str(data_dir),
            allowed_saleor_api_urls=_list(env.get("ALLOWED_SALEOR_API_URLS")),
            saleor_allow_loopback=_bool(env.get("SALEOR_ALLOW_LOOPBACK")),
            saleor_allow_private=_bool(env.get("SALEOR_ALLOW_PRIVATE")),
            trusted_proxies=int(env.get("TRUSTED_PROXIES") or 0),
            saleor_timeout=float(env.get("SALEOR_TIMEOUT", "5")),
            max_webhook_bytes=int(env.get("MAX_WEBHOOK_BYTES", str(256 * 1024))),
            sweep_interval=float(env.get("SWEEP_INTERVAL", "30")),
            sweep_grace=float(env.get("SWEEP_GRACE") or 30),
            mail_retry_base_seconds=float(env.get("MAIL_RETRY_BASE_SECONDS") or 5),
            disposable_domains_file=env.get("DISPOSABLE_DOMAINS_FILE", ""),
            coupon_sites_file=env.get("COUPON_SITES_FILE", ""),
            log_level=env.get("LOG_LEVEL", "INFO"),
            webhooks_allow_local=_bool(env.get("WEBHOOKS_ALLOW_LOCAL")),
            webhook_timeout=float(env.get("WEBHOOK_TIMEOUT", "5")),
            webhook_retry_base_seconds=float(env.get("WEBHOOK_RETRY_BASE_SECONDS", "10")),
            webhook_retry_hours=float(env.get("WEBHOOK_RETRY_HOURS", "24")),
        )
        for key, value in overrides.items():
            setattr(cfg, key, value)
        if not cfg.secret_key:
            cfg.secret_key = _secret_key(Path(cfg.data_dir))
        return cfg

    def saleor_api_url_allowed(self, url: str) -> bool:
        """Exact URLs, or patterns: `*` stands for DNS-label characters (letters, digits, `-`)
        within one host label or path segment; `re:` prefixes a full regex.

        The URL is parsed first and compared part by part (scheme, host, port, path): a URL with
        user-info, a backslash, whitespace, control characters, a query or a fragment never
        matches. An empty list allows every clean URL (the network policy, `saleor_address_policy`,
        then decides which addresses may be called).
        """
        try:
            parts = parse_url(url)
        except UrlRefused:
            return False
        if parts.query or url.endswith("?"):
            return False
        if not self.allowed_saleor_api_urls:
            return True
        return any(_url_matches(pattern, url, parts) for pattern in self.allowed_saleor_api_urls)

    def saleor_address_policy(self) -> dict | None:
        """Which addresses calls to Saleor may reach: None (any) when an allow-list names the shops,
        else the `allow_loopback`/`allow_private` keywords of `plugin.netpolicy.check_url`."""
        if self.allowed_saleor_api_urls:
            return None
        return {"allow_loopback": self.saleor_allow_loopback, "allow_private": self.saleor_allow_private}


_DEFAULT_PORTS = {"http": 80, "https": 443}
_WILDCARD = "[A-Za-z0-9-]*"


def _glob(pattern: str, value: str) -> bool:
    regex = _WILDCARD.join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value) is not None


def _url_matches(pattern: str, url: str, parts: SplitResult) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], url) is not None
    if "*" not in pattern:
        return pattern == url
    scheme, _, rest = pattern.partition("://")
    authority, slash, path = rest.partition("/")
    if any(ch in pattern for ch in "@?#\\") or scheme.lower() not in _DEFAULT_PORTS:
        return False
    host, port = authority, ""
    if ":" in authority and not authority.endswith("]"):
        host, _, port = authority.rpartition(":")
    actual_scheme = parts.scheme.lower()
    default_port = _DEFAULT_PORTS[actual_scheme]
    return (
        scheme.lower() == actual_scheme
        and _glob(host.lower(), parts.hostname.lower())
        and (int(port) if port.isdigit() else default_port) == (parts.port or default_port)
        and _glob(slash + path or "/", parts.path or "/")
    )
