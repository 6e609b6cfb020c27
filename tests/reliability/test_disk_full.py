"""A full disk stalls the worker; it does not lose, fail or double a message.

The home lies on a small tmpfs, mounted by the test (that needs root, as CI has).
A real ``tinyclaw worker`` process serves it with ``scripts/fake-cli``. The disk is
filled to the last byte, then 30 messages arrive. None may end in ``failed/`` or
stay claimed in ``processing/``; ``tinyclaw status`` and ``tinyclaw doctor`` say the
disk is full. Once space is freed, the running worker resumes within 10 s (its first
answer) and answers all 30, each once, without a restart.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.conftest import fake_cli_config, message, wait_for, write_config
from tinyclaw.core.diskspace import read_report
from tinyclaw.core.home import Home
from tinyclaw.core.messages import dump
from tinyclaw.spool import Spool

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 30
RECOVERY_TARGET = 10.0  # seconds from freeing space to the first answer


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Home]:
    """The test's home on a 4 MiB tmpfs of its own."""
    root = tmp_path / "home"
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the home needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        home = Home(root)
        home.ensure()
        yield home
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def _fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no byte left."""
    with open(path, "wb", buffering=0) as out:
        chunk = b"\0" * 65536
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]


def _full(home: Home) -> bool:
    report = read_report(home.state)
    return report is not None and report.full


def _tinyclaw(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tinyclaw", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    return done.stdout + done.stderr


def test_a_full_disk_stalls_the_worker_and_it_resumes_by_itself_when_space_returns(
    small_home: Home, tmp_path: Path
) -> None:
    home = small_home
    write_config(home, fake_cli_config(scan_interval=5.0))
    spool = Spool(home)
    messages = [message(f"question {n}") for n in range(MESSAGES)]
    staged = home.root / "staged"  # on the same filesystem: moving them in needs no space
    staged.mkdir()
    for m in messages:
        (staged / f"{m.id}.json").write_bytes(dump(m))
    with open(tmp_path / "worker.err", "wb") as err:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tinyclaw", "worker"],
            env={**os.environ, "TINYCLAW_HOME": str(home.root)},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_for(lambda: read_report(home.state) is not None, 30, "the worker to start")
        _fill(home.root / "filler")
        for m in messages:
            os.rename(staged / f"{m.id}.json", spool.incoming / f"{m.id}.json")

        wait_for(lambda: _full(home), 30, "the disk-full report")
        wait_for(lambda: spool.depths()["processing"] == 0, 30, "stalled claims put back")
        depths = spool.depths()
        assert depths["failed"] == 0 and depths["outgoing"] == 0
        assert depths["inboxes"] + depths["incoming"] == MESSAGES
        assert "disk full" in _tinyclaw("status")
        doctor = _tinyclaw("doctor")
        assert "disk full" in doctor and "df -h" in doctor

        (home.root / "filler").unlink()
        freed = time.monotonic()
        wait_for(lambda: spool.depths()["outgoing"] > 0, 30, "the first answer")
        recovery = time.monotonic() - freed
        wait_for(lambda: spool.depths()["outgoing"] == MESSAGES, 60, "every answer")
        backlog = time.monotonic() - freed
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0

    assert recovery <= RECOVERY_TARGET, f"{recovery:.1f} s"
    answered = {p.stem for p in spool.list_box(spool.outgoing("cli"))}
    assert answered == {m.id for m in messages}  # each once: replies are named by id
    assert spool.depths()["failed"] == 0
    report = read_report(home.state)
    assert report is not None and not report.full
    print(f"after ENOSPC cleared: first answer {recovery:.2f} s, all {MESSAGES} {backlog:.2f} s")
