"""Shared fixtures. Every test runs against a throwaway home: the autouse fixture points
``TINYCLAW_HOME`` (and ``HOME``, which the CLIs write under) at ``tmp_path``, so no
test can touch a real home or a real ``~/.claude``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyclaw.core.home import Home


def pytest_configure(config: pytest.Config) -> None:
    """Test folders live under /var/tmp, not /tmp. Inside an actor's sandbox /tmp is a
    private, empty folder and the temporary directory; codex refuses to set up its own
    command sandbox when its CODEX_HOME lies inside the temporary directory, so a test
    home under /tmp would make every codex tool call fail for a reason no real home
    has (a real CODEX_HOME is ~/.codex)."""
    if config.option.basetemp or os.environ.get("TMPDIR", "/tmp").rstrip("/") != "/tmp":
        return
    root = Path("/var/tmp") / f"tinyclaw-tests-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() looks again


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("TINYCLAW_HOME", str(home_dir))
    monkeypatch.setenv("HOME", str(user_home))
    for name in list(os.environ):
        if name.endswith(("_TOKEN", "_API_KEY", "_SECRET")):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """The isolated home of this test, with its folders created."""
    h = Home(tmp_path / "home")
    h.ensure()
    return h
