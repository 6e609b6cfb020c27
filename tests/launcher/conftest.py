"""Fixtures for the launcher tests: a private tmux server, a home whose actors run the
fake CLI, and the ``tinyclaw`` command run as the user runs it (a subprocess of this
very Python). Every test gets its own tmux socket, so the user's server is never
touched, and teardown stops the session and the server whatever the test did."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.cli_fixtures import anthropic_fake  # noqa: F401  (the real claude's API fake)
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.launcher.state import ComponentState, read_states, state_dir
from tinyclaw.spool import Spool

REPO = Path(__file__).resolve().parents[2]
FAKE_CLI = REPO / "scripts" / "fake-cli"
SESSION = "tc-test"

CONFIG = """\
[worker]
concurrency = 2
scan_interval = 0.5
stop_timeout = {stop_timeout}
max_attempts = 5

[runners.claude]
command = "{fake_cli}"
{runner_env}

[actors.coder]
runner = "claude"
description = "writes the code"

[actors.reviewer]
runner = "claude"
{channels}
"""


def write_config(
    home: Home, *, stop_timeout: float = 2.0, runner_env: str = "", channels: str = ""
) -> None:
    home.config_file.write_text(
        CONFIG.format(
            stop_timeout=stop_timeout,
            fake_cli=FAKE_CLI,
            runner_env=runner_env,
            channels=channels,
        ),
        encoding="utf-8",
    )


def run_tinyclaw(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``tinyclaw ARGS`` as a user types it, with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "tinyclaw", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def wait_until(check: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class TmuxServer:
    """Read-only helpers over the test's private tmux server."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )

    def windows(self) -> dict[str, str]:
        """Component name (the @tinyclaw option) -> window name."""
        out = self.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{@tinyclaw}\t#{window_name}")
        return dict(line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)

    def window_id(self, component: str) -> str:
        out = self.tmux("list-windows", "-t", f"={SESSION}", "-F", "#{@tinyclaw}\t#{window_id}")
        for line in out.stdout.splitlines():
            name, _, window_id = line.partition("\t")
            if name == component:
                return window_id
        raise AssertionError(f"no window for {component}: {out.stdout!r}")

    def capture(self, component: str) -> str:
        return self.tmux(
            "capture-pane", "-p", "-J", "-S", "-200", "-t", self.window_id(component)
        ).stdout

    def send_line(self, component: str, text: str) -> None:
        window = self.window_id(component)
        self.tmux("send-keys", "-t", window, "-l", text)
        self.tmux("send-keys", "-t", window, "Enter")

    def has_session(self) -> bool:
        return self.tmux("has-session", "-t", f"={SESSION}").returncode == 0


@pytest.fixture
def tmux(monkeypatch: pytest.MonkeyPatch) -> Iterator[TmuxServer]:
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI")
        pytest.skip("tmux is not installed")
    socket = f"tinyclaw-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("TINYCLAW_TMUX_SOCKET", socket)
    monkeypatch.setenv("TINYCLAW_TMUX_SESSION", SESSION)
    server = TmuxServer(socket)
    yield server
    if server.has_session():
        run_tinyclaw("stop", "--timeout", "10")
    server.tmux("kill-server")
    tmpdir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp")
    (tmpdir / f"tmux-{os.getuid()}" / socket).unlink(missing_ok=True)


@pytest.fixture
def launch_home(home: Home) -> Home:
    """A home with two fake-CLI actors, ready for `tinyclaw start`."""
    write_config(home)
    return home


def states(home: Home) -> dict[str, ComponentState]:
    return read_states(state_dir(home.root))


def events(home: Home) -> list[dict[str, object]]:
    path = home.logs / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def claimed(home: Home, actor: str, text: str, sender: str = "Alice") -> Inbound:
    """A Telegram message the worker has claimed for ``actor`` (it sits in processing/)."""
    spool = Spool(home)
    message = Inbound(
        id=unique_name(),
        channel="telegram",
        chat_id="42",
        sender=Sender(id="7", name=sender),
        text=text,
        actor=actor,
    )
    path = spool.put(message, spool.inbox(actor))
    assert path is not None
    spool.claim(path, actor)
    return message
