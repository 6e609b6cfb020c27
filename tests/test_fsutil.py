"""Paths from outside (an actor's ``[send_file:]``, an attachment) are confined to
their root; a path that cannot even be resolved is refused like one that escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyclaw.errors import UnsafePathError
from tinyclaw.fsutil import confine


def test_a_symlink_loop_is_refused_not_a_crash(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(UnsafePathError, match="'a' cannot be resolved"):
        confine(tmp_path, "a")


def test_inside_is_kept_and_outside_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    os.symlink("/etc/passwd", tmp_path / "leak")
    assert confine(tmp_path, "notes.txt") == (tmp_path / "notes.txt").resolve()
    for escaping in ("../x", "/etc/passwd", "leak"):
        with pytest.raises(UnsafePathError, match="is outside"):
            confine(tmp_path, escaping)
