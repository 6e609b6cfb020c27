"""The ledger of running CLI process groups, so a worker that died cannot leave one.

A CLI runs in a session of its own (so a timeout can stop all of it), which also means
it does not die with the worker: after a SIGKILL of the worker, the CLI and everything
it started keep working in the actor's workspace while the restarted worker runs the
same message again. Each run therefore records its group (leader pid and the leader's
start time) in ``state/runs/<pid>`` while it lives; the next worker stops whatever is
left in the ledger before it requeues the interrupted messages, so a message never has
two CLIs at work.

The start time (from ``/proc``) tells our leader from a later process that was given
the same pid. When the leader itself is gone but members of its group remain, the group
id is still reserved by the kernel (a pid is not reused while a group of that id has
members), so those members are ours.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tinyclaw.runners.process import live_group_members

log = logging.getLogger("tinyclaw.runner")
# How long a SIGKILLed group may take to be gone before the worker goes on anyway.
KILL_SETTLE = 5.0


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of stat(5); fields[0] is field 3
    except (IndexError, ValueError):
        return None


class GroupLedger:
    """``state/runs/``: one small file per CLI process group that may still run."""

    def __init__(self, root: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.root = root
        self._sleep = sleep

    def add(self, pid: int) -> None:
        """Record the group led by ``pid`` (called right after it was spawned)."""
        started = start_time(pid)
        # Not fsynced: it guards against a killed worker, not a power cut (after which
        # no process of the group survives anyway). One small write, no temporary file
        # and rename: killed before it, the entry is empty, which reap() takes for
        # "not ours" exactly as it would take a missing entry.
        data = f"{started if started is not None else ''}\n".encode("ascii")
        path, flags = self.root / str(pid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:  # the folder is made on the first run
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def remove(self, pid: int) -> None:
        (self.root / str(pid)).unlink(missing_ok=True)

    def reap(self, grace: float = 2.0) -> list[int]:
        """Stop every recorded group that still has members; returns their group ids.

        Called by a starting worker, before it puts interrupted runs back in the queue.
        SIGTERM to every group first (a CLI may save its session), then one grace
        period for all of them together, then SIGKILL to what is left: two orphans
        cost one grace period at most, not one each."""
        try:
            entries = sorted(self.root.iterdir())
        except FileNotFoundError:
            return []
        stopped = []
        for entry in entries:
            if not entry.name.isdigit():
                entry.unlink(missing_ok=True)  # a torn temporary file
                continue
            pid = int(entry.name)
            if self._ours(pid, entry):
                log.warning("stopping CLI process group %d left running by a dead worker", pid)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
                stopped.append(pid)
        self._wait_or_kill(stopped, grace)
        for entry in entries:
            entry.unlink(missing_ok=True)
        return stopped

    def _wait_or_kill(self, groups: list[int], grace: float) -> None:
        """Give the signalled ``groups`` ``grace`` seconds together, then SIGKILL."""
        left = list(groups)
        deadline = time.monotonic() + grace
        while left:
            left = [pgid for pgid in left if live_group_members(pgid)]
            if not left or time.monotonic() >= deadline:
                break
            self._sleep(0.05)
        for pgid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        # SIGKILL is delivered, not yet done: wait (briefly) until the groups are gone,
        # so no killed CLI still writes in a workspace while its message runs again.
        deadline = time.monotonic() + KILL_SETTLE
        while left and time.monotonic() < deadline:
            self._sleep(0.01)
            left = [pgid for pgid in left if live_group_members(pgid)]

    def _ours(self, pid: int, entry: Path) -> bool:
        members = live_group_members(pid)
        if not members:
            return False
        if pid not in members:
            return True  # leader gone, group id still reserved: its members are ours
        try:
            recorded = entry.read_text(encoding="ascii").strip()
        except OSError:
            return False
        return recorded == str(start_time(pid))
