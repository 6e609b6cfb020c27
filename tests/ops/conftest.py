"""Helpers for the operations tests: the `tinyclaw` command as a user runs it, the
event log, a question to a running worker, and where systemd's notifications land."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.channels.conftest import telegram_fake  # noqa: F401  (fixture)
from tests.worker.conftest import REPO, message, reply_for
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool


def events(home: Home, kind: str) -> list[dict[str, object]]:
    return [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == kind]


def tinyclaw(home: Home, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``tinyclaw ARGS`` run on ``home`` as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TINYCLAW_HOME": str(home.root), **env},
        cwd=REPO,
        check=False,
    )


def ask(home: Home, text: str, **fields: object) -> str:
    """Queue ``text`` as the terminal would and return the reply's text."""
    msg = message(text, **fields)
    Spool(home).put(msg)
    return reply_for(home, msg, timeout=30).text


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket where systemd would listen (short path: AF_UNIX limit)."""
    folder = tempfile.mkdtemp(prefix="tc-notify-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder)
