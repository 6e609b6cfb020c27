"""``scripts/start``, the one command of the README: it says exactly what to install
when tmux or a CLI is missing, and hands over to ``tinyclaw start``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.launcher.conftest import REPO

BASH = shutil.which("bash") or "/bin/bash"


def _checkout(tmp_path: Path) -> Path:
    """A checkout without .tools/: the script and its versions, this .venv linked in."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("start", "versions.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def _bin_with(tmp_path: Path, *tools: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(root: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(root / "scripts" / "start"), *args],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_without_tmux_it_says_how_to_install_it(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    result = _run(root, _bin_with(tmp_path))
    assert result.returncode == 1
    assert "sudo apt-get install tmux" in result.stderr


def test_missing_clis_get_the_exact_npm_command_then_start_runs(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    result = _run(root, _bin_with(tmp_path, "tmux"), "--help")
    assert (
        "npm install --prefix .tools @anthropic-ai/claude-code@2.1.331 @openai/codex@0.169.0"
        in result.stderr
    )
    assert "not found: claude codex" in result.stderr
    assert result.returncode == 0, result.stderr
    assert "Start everything in one tmux session" in result.stdout
