"""A restarted worker stops the CLIs a dead worker left running, all at once.

Each orphan gets SIGTERM first (a CLI may save its session) and SIGKILL once the
grace period is over. With several orphans the grace period runs once for all of
them together: start-up must not wait one grace period per orphan."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyclaw.runners.groups import GroupLedger
from tinyclaw.runners.process import live_group_members

# A CLI that does not stop on SIGTERM (it is busy, or saves its state slowly).
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(300)"
)
GRACE = 1.5


@pytest.fixture
def orphans(tmp_path: Path) -> Iterator[tuple[GroupLedger, list[int]]]:
    """Three stubborn CLIs, each in a session of its own, recorded in the ledger as a
    worker records its runs, and then left behind by that worker."""
    ledger = GroupLedger(tmp_path / "runs")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", STUBBORN],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        ledger.add(child.pid)
    try:
        yield ledger, [child.pid for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()


def test_three_stubborn_orphans_are_stopped_within_one_grace_period(
    orphans: tuple[GroupLedger, list[int]],
) -> None:
    ledger, pids = orphans

    started = time.monotonic()
    stopped = ledger.reap(grace=GRACE)
    took = time.monotonic() - started

    assert sorted(stopped) == sorted(pids)
    assert all(live_group_members(pid) == [] for pid in pids)
    assert GRACE <= took < 2 * GRACE, f"{took:.2f} s for 3 orphans (one at a time: {3 * GRACE})"
    assert list(ledger.root.iterdir()) == []


def test_orphans_that_stop_on_sigterm_take_no_grace_at_all(tmp_path: Path) -> None:
    ledger = GroupLedger(tmp_path / "runs")
    children = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                         start_new_session=True)
        for _ in range(2)
    ]  # fmt: skip
    for child in children:
        ledger.add(child.pid)
    started = time.monotonic()
    assert sorted(ledger.reap(grace=10)) == sorted(c.pid for c in children)
    assert time.monotonic() - started < 5
    for child in children:
        child.wait(5)
