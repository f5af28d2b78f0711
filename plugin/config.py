"""Runtime configuration, read once from the environment.

Every variable is documented in the README ("Configuration"). Defaults are the
embedded `make run` setup: SQLite file, in-process task runner, file outbox.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(os.environ.get("DATA_DIR", Path.cwd() / "var"))


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR.

    A key that changed on every restart would make stored Saleor tokens unreadable.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
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
    secret_key: str = ""
    allowed_saleor_api_urls: list[str] = field(default_factory=list)
    saleor_timeout: float = 5.0
    max_webhook_bytes: int = 256 * 1024
    sweep_interval: float = 30.0
    task_always_eager: bool = False
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        env = os.environ
        port = int(env.get("PORT", "3000"))
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        cfg = cls(
            app_url=(env.get("APP_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
            port=port,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'referrals.sqlite3'}",
            redis_url=env.get("REDIS_URL", ""),
            smtp_url=env.get("SMTP_URL", ""),
            mail_outbox_dir=env.get("MAIL_OUTBOX_DIR") or str(DATA_DIR / "outbox"),
            mail_from=env.get("MAIL_FROM", cls.mail_from),
            secret_key="",
            allowed_saleor_api_urls=[
                p.strip() for p in env.get("ALLOWED_SALEOR_API_URLS", "").split(",") if p.strip()
            ],
            saleor_timeout=float(env.get("SALEOR_TIMEOUT", "5")),
            max_webhook_bytes=int(env.get("MAX_WEBHOOK_BYTES", str(256 * 1024))),
            sweep_interval=float(env.get("SWEEP_INTERVAL", "30")),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
        for key, value in overrides.items():
            setattr(cfg, key, value)
        if not cfg.secret_key:
            cfg.secret_key = _secret_key()
        return cfg

    def saleor_api_url_allowed(self, url: str) -> bool:
        """Exact URLs, or patterns: `*` matches within one host or path segment
        (never across `/`, `?` or `#`), `re:` prefixes a full regex.

        An empty list allows every URL (development default; the README says to set it).
        """
        if not self.allowed_saleor_api_urls:
            return True
        for pattern in self.allowed_saleor_api_urls:
            if pattern.startswith("re:"):
                if re.fullmatch(pattern[3:], url):
                    return True
            elif "*" in pattern:
                regex = "[^/?#]*".join(re.escape(part) for part in pattern.split("*"))
                if re.fullmatch(regex, url):
                    return True
            elif pattern == url:
                return True
        return False
