"""A home whose actors run the fake CLI, and the real worker serving it: in a thread
(``worker_thread``) or as the ``tinyclaw worker`` process (``worker_process``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.paths import FAKE_CLI, REPO
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker


def fake_cli_config(
    actors: dict[str, dict[str, object]] | None = None,
    *,
    env: dict[str, str] | None = None,
    extra: str = "",
    concurrency: int = 4,
    scan_interval: float = 0.5,
) -> str:
    """A tinyclaw.toml whose claude runner is the fake CLI (it echoes the prompt)."""
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
    return "\n".join(lines + actor_tables(actors)) + "\n" + extra


def actor_tables(actors: dict[str, dict[str, object]]) -> list[str]:
    """The ``[actors.NAME]`` tables of a test's tinyclaw.toml, one per actor, as lines."""
    lines: list[str] = []
    for name, fields in actors.items():
        lines.append(f"[actors.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
        lines.append("")
    return lines


def write_config(home: Home, text: str) -> None:
    home.config_file.write_text(text, encoding="utf-8")


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


def start_worker_process(
    home: Home, *, node: str | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """``tinyclaw worker`` (``--node NODE`` with a node) on ``home``."""
    return subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "worker", *(["--node", node] if node else [])],
        env={**os.environ, "TINYCLAW_HOME": str(home.root), **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def worker_process(
    home: Home, *, node: str | None = None, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``tinyclaw worker`` for the block, stopped with SIGTERM after it (which
    must end it cleanly, exit code 0)."""
    worker = start_worker_process(home, node=node, **env)
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
