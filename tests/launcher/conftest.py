"""Fixtures for the launcher tests: a private tmux server and a home whose actors run
the fake CLI. Every test gets its own tmux socket, so the user's server is never
touched, and teardown stops the session and the server whatever the test did."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.commands import run_tinyclaw
from tests.support.launcher import SESSION, TmuxServer, write_config
from tinyclaw.core.home import Home


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
