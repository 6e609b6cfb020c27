"""Logging for every tinyclaw process: stderr plus one rotating file per process.

A redaction filter replaces the values of secret environment variables (everything
the configuration names as a token, and any ``*_TOKEN``/``*_API_KEY``/``*_SECRET``)
with ``***``, so a library that logs a URL with a token in it cannot leak it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterable
from pathlib import Path

SECRET_SUFFIXES = ("_TOKEN", "_API_KEY", "_SECRET", "_KEY", "_PASSWORD")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def secret_values(extra_names: Iterable[str] = ()) -> list[str]:
    names = {n for n in os.environ if n.upper().endswith(SECRET_SUFFIXES)} | set(extra_names)
    values = [os.environ[n] for n in names if len(os.environ.get(n, "")) >= 6]
    return sorted(set(values), key=len, reverse=True)


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(
    logs_dir: Path | None,
    component: str,
    *,
    level: int = logging.INFO,
    secret_names: Iterable[str] = (),
    stderr: bool = True,
) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redact = Redact(secret_values(secret_names))
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(logging.StreamHandler())
    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                logs_dir / f"{component}.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redact)
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "watchdog", "telegram.ext", "discord", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
