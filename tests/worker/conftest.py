"""Fixtures for driving a real worker: a home with a config, the worker running in a
thread (or as a real process), and helpers to send a message and await its reply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.cli_fixtures import (  # noqa: F401  (fixtures: the real CLIs against loopback fakes)
    anthropic_fake,
    claude_settings,
    codex_settings,
    openai_fake,
)
from tinyclaw.config import load_config
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply, Sender, load_reply
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker

REPO = Path(__file__).resolve().parents[2]
FAKE_CLI = REPO / "scripts" / "fake-cli"


def fake_cli_config(
    actors: dict[str, dict[str, object]] | None = None,
    *,
    env: dict[str, str] | None = None,
    extra: str = "",
    concurrency: int = 4,
    scan_interval: float = 0.5,
) -> str:
    """A tinyclaw.toml whose claude runner is scripts/fake-cli (echoes the prompt)."""
    actors = actors or {"assistant": {}, "coder": {"description": "writes code"}}
    lines = [
        "[worker]",
        f"concurrency = {concurrency}",
        f"scan_interval = {scan_interval}",
        "retry_backoff = 0",
        "stop_timeout = 0.5",
        "",
        "[runners.claude]",
        f"command = {json.dumps(str(FAKE_CLI))}",
        "env = {" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in (env or {}).items()) + "}",
        "",
    ]
    for name, fields in actors.items():
        lines.append(f"[actors.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
        lines.append("")
    return "\n".join(lines) + "\n" + extra


def write_config(home: Home, text: str) -> None:
    home.config_file.write_text(text, encoding="utf-8")


def message(text: str, *, chat: str = "local", channel: str = "cli", **extra: object) -> Inbound:
    return Inbound.model_validate(
        {
            "id": unique_name(),
            "channel": channel,
            "chat_id": chat,
            "sender": Sender(id="me", name="Me"),
            "text": text,
            **extra,
        }
    )


def wait_for(
    predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def reply_for(home: Home, msg: Inbound, timeout: float = 20.0) -> Reply:
    path = Spool(home).outgoing(msg.channel) / f"{msg.id}.json"
    wait_for(path.exists, timeout, f"reply to {msg.text!r}")
    return load_reply(path.read_bytes())


@contextmanager
def serving(worker: Worker) -> Iterator[Worker]:
    """Run ``worker`` in a thread for the block; stop it gracefully after."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        worker.wake.set()
        thread.join(30)
        assert not thread.is_alive(), "worker did not stop"


@contextmanager
def worker_thread(home: Home) -> Iterator[Worker]:
    config = load_config(home)
    with serving(Worker(home, config, build_runners(home, config))) as worker:
        yield worker


def start_worker_process(home: Home, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "worker"],
        env={**os.environ, "TINYCLAW_HOME": str(home.root), **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def worker_process(home: Home, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``tinyclaw worker`` for the block, stopped with SIGTERM after it (which
    must end it cleanly, exit code 0)."""
    worker = start_worker_process(home, **env)
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        worker.stderr.close()  # type: ignore[union-attr]


def crash_at(home: Home, point: str) -> None:
    """Run a worker until the failpoint ``point`` SIGKILLs it."""
    crashed = start_worker_process(home, TINYCLAW_FAILPOINT=point)
    assert crashed.wait(60) == -signal.SIGKILL, f"the failpoint {point} was never reached"
    crashed.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def fake_home(home: Home) -> Home:
    write_config(home, fake_cli_config())
    return home
