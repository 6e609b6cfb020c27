"""Shared fixtures. Every test runs against a throwaway home: the autouse fixture points
``TINYCLAW_HOME`` (and ``HOME``, which the CLIs write under) at ``tmp_path``, so no
test can touch a real home or a real ``~/.claude``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyclaw.home import Home


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
