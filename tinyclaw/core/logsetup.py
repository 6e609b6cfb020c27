"""Logging for every tinyclaw process: stderr plus one rotating file per process.

A redaction filter replaces the values of secret environment variables (everything
the configuration names as a token, and any ``*_TOKEN``/``*_API_KEY``/``*_SECRET``)
with ``***``, so a library that logs a URL with a token in it cannot leak it. Control
characters in a record (a chat message quoted in an error) are written as ``\\xNN``
text: the worker's and listeners' stderr is a tmux window the operator looks at.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
from collections.abc import Iterable
from pathlib import Path

from tinyclaw.core.display import printable

SECRET_SUFFIXES = ("_TOKEN", "_API_KEY", "_SECRET", "_KEY", "_PASSWORD")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def secret_values(extra_names: Iterable[str] = ()) -> list[str]:
    names = {n for n in os.environ if n.upper().endswith(SECRET_SUFFIXES)} | set(extra_names)
    values = [os.environ[n] for n in names if len(os.environ.get(n, "")) >= 6]
    return sorted(set(values), key=len, reverse=True)


class SafeFormatter(logging.Formatter):
    """The usual format, with every secret value replaced by ``***`` and no escape
    sequence left (see printable).

    Redaction works on the *formatted* record, traceback included: an exception's
    text (a URL with a bot token in it) reaches the log through ``exc_info``, which a
    filter on the message alone never sees.

    A record is formatted once however many handlers share this formatter (stderr,
    the log file, and the file's size check before rotating each ask): the text is
    kept on the record, keyed by this formatter."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        done = record.__dict__.get("_tinyclaw_formatted")
        if done is not None and done[0] is self:
            text: str = done[1]
            return text
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = printable(text)
        record.__dict__["_tinyclaw_formatted"] = (self, text)
        return text


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file only its owner may read (0600), like the rest of the home's
    state: with ``-v`` it holds the users' message text. A log an older version left
    world-readable is made private when it is opened again."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(self.baseFilename, flags, 0o600)
        with contextlib.suppress(OSError):  # not ours to change: leave it as it is
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


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
    formatter = SafeFormatter(FORMAT, secret_values(secret_names))
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(logging.StreamHandler())
    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            PrivateLogFile(
                logs_dir / f"{component}.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "watchdog", "telegram.ext", "discord", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
