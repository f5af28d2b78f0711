"""Real Celery worker processes and private Redis servers for tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT, free_port


class CeleryWorker:
    """`celery -A plugin.tasks.celery_app worker --beat` as a child process.

    `supervised=True` restarts it whenever it exits on its own, as the supervisor the README asks
    for (systemd, Kubernetes) does: Celery exits when the broker vanishes at the wrong moment."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 2, supervised: bool = False):
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.supervised = supervised
        self.restarts = 0
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()

    def start(self) -> CeleryWorker:
        self._stopping.clear()
        self._spawn()
        if self.supervised:
            threading.Thread(target=self._supervise, daemon=True).start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            if self.proc is not None and self.proc.poll() is not None and not self._stopping.is_set():
                self.restarts += 1
                try:
                    self._log.write(f"\n--- supervisor: worker exited ({self.proc.returncode}); restarting\n".encode())
                    self._log.flush()
                    self._spawn()
                except ValueError:  # stop() closed the log meanwhile
                    return

    def _spawn(self) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        schedule = self.log_path.with_suffix(".schedule")
        if getattr(self, "_log", None) is None or self._log.closed:
            self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                celery,
                "-A",
                "plugin.tasks.celery_app",
                "worker",
                "--beat",
                "-s",
                str(schedule),
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker gets no chance to ack or clean up."""
        self._stopping.set()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self._stopping.set()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker_env(cfg, **extra) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_URL", "REDIS_URL", "SMTP_URL"))
    }
    env.update(
        {
            "DATABASE_URL": cfg.database_url,
            "REDIS_URL": cfg.redis_url,
            "SECRET_KEY": cfg.secret_key,
            "APP_URL": cfg.app_url,
            "SMTP_URL": cfg.smtp_url,
            "MAIL_OUTBOX_DIR": cfg.mail_outbox_dir,
            "SALEOR_TIMEOUT": str(cfg.saleor_timeout),
            "SWEEP_INTERVAL": "1",
            "SWEEP_GRACE": "2",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "SALEOR_ALLOW_LOOPBACK": "1" if cfg.saleor_allow_loopback else "",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class RedisServer:
    """A private redis-server on a free port, so a test can stop and restart it."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url).ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
