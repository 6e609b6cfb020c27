"""The home's own files gone bad: a corrupt session store, a lock file swapped for a
symlink, a read-only disk, a disk that fails a read now and then. Each is one clear
line or a fresh start; none is a traceback, a crash loop or a message lost for good."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.worker.conftest import (
    REPO,
    message,
    reply_for,
    serving,
    worker_thread,
)
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker


def run_worker_once(home: Home, *wrap: str) -> subprocess.CompletedProcess[str]:
    """``tinyclaw worker`` on ``home`` (behind ``wrap``), expected to refuse to start."""
    return subprocess.run(
        [*wrap, sys.executable, "-m", "tinyclaw", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "TINYCLAW_HOME": str(home.root)},
    )


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_a_session_store_nested_5000_deep_is_set_aside_and_conversations_start_fresh(
    fake_home: Home,
) -> None:
    store = fake_home.actors / "assistant" / "sessions.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b'{"sessions": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    spool = Spool(fake_home)
    with worker_thread(fake_home):
        first = message("hello after the corruption")
        spool.put(first)
        assert reply_for(fake_home, first).text == "echo: hello after the corruption"
    aside = list(store.parent.glob("sessions.json.corrupt-*"))
    assert len(aside) == 1 and b"[" * 5000 in aside[0].read_bytes()
    assert json.loads(store.read_text())["sessions"]  # the new conversation's session
    assert spool.list_box(spool.failed) == []


def test_a_lock_file_replaced_by_a_symlink_is_refused_not_followed(
    fake_home: Home, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours\n")
    lock = fake_home.state / "worker.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(victim, lock)
    line = one_line_error(run_worker_once(fake_home))
    assert "worker.lock is a symlink" in line
    assert victim.read_text() == "not yours\n"


def _can_bind_mount(folder: Path) -> bool:
    """Whether this machine lets us make a read-only bind mount in a mount namespace
    of our own (root with CAP_SYS_ADMIN, as in CI's container)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    mount_ro = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", mount_ro], capture_output=True)
    return probe.returncode == 0


def test_a_worker_on_a_read_only_home_says_so_in_one_line(fake_home: Home) -> None:
    if not _can_bind_mount(fake_home.root):
        pytest.skip("needs root and unshare for a read-only bind mount")
    fake_home.ensure()
    (fake_home.logs / "worker.log").touch()
    root = str(fake_home.root)
    mount_ro = f'mount --bind {root} {root} && mount -o remount,bind,ro {root} && exec "$@"'
    line = one_line_error(run_worker_once(fake_home, "unshare", "-m", "sh", "-c", mount_ro, "-"))
    assert f"cannot use the home {root}: Read-only file system" in line


def test_worker_and_listener_logs_are_private(fake_home: Home) -> None:
    fake_home.ensure()
    old = fake_home.logs / "listen-telegram.log"
    old.touch(mode=0o644)  # left world-readable by an older version
    os.chmod(old, 0o644)
    code = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from tinyclaw.core.logsetup import setup_logging\n"
        "for component in ('worker', 'listen-telegram', 'listen-discord'):\n"
        "    setup_logging(Path(sys.argv[1]), component, stderr=False)\n"
        "    logging.getLogger('t').info('a user wrote: my secret plans')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(fake_home.logs)], check=True, cwd=REPO)
    for name in ("worker.log", "listen-telegram.log", "listen-discord.log"):
        path = fake_home.logs / name
        assert "my secret plans" in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_a_prompt_too_long_for_the_command_line_is_removed_after_the_run(
    fake_home: Home,
) -> None:
    spool = Spool(fake_home)
    with worker_thread(fake_home):
        long = message("é" * 70_000)  # 140 KB of UTF-8: over the 120 KiB inline limit
        spool.put(long)
        assert "too long to pass inline" in reply_for(fake_home, long).text
    folder = fake_home.actors / "assistant" / "workspace" / ".tinyclaw" / "messages"
    assert not folder.exists() or list(folder.iterdir()) == []


def flaky_disk(failures: int, reads: dict[str, int]) -> type[Spool]:
    """A spool whose disk fails the first ``failures`` reads of each file with EIO,
    as a failing drive or a network filesystem does for a while."""

    class FlakyDisk(Spool):
        @staticmethod
        def read(path: Path) -> bytes:
            reads[path.name] = reads.get(path.name, 0) + 1
            if reads[path.name] <= failures:
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
            return Spool.read(path)

    return FlakyDisk


def test_a_read_error_of_the_disk_leaves_the_message_for_the_next_pass_not_failed(
    fake_home: Home,
) -> None:
    reads: dict[str, int] = {}
    spool = flaky_disk(3, reads)(fake_home)
    config = load_config(fake_home)
    worker = Worker(fake_home, config, build_runners(fake_home, config), spool=spool)
    with serving(worker):
        msg = message("are you there?")
        spool.put(msg)
        assert reply_for(fake_home, msg).text == "echo: are you there?"
    assert reads[f"{msg.id}.json"] > 3  # failed three times, then routed and run
    assert spool.list_box(spool.failed) == []
