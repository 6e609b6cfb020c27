"""The worker's disk-full state: noticed on ENOSPC, reported where people look, left
by itself when space returns.

A full disk is nobody's message's fault, so it must not count an attempt or send a
message to ``failed/``; and nothing can be written to say so. Hence:

* :func:`disk_full` tells ENOSPC (and EDQUOT, a full quota) from other errors;
* the worker puts a stalled message back into its actor's inbox (a rename needs no
  space) and claims nothing new while the disk is full;
* :class:`DiskReport` is a small file the worker writes at start-up, padded to a
  fixed size, and later only overwrites in place: that needs no new block, so the
  state can be written while the disk is full. ``tinyclaw status`` and ``tinyclaw
  doctor`` read it;
* every ``PROBE_EVERY`` seconds the worker tries to write a probe file; once that
  works it resumes (well within the 10 s an operator may wait after freeing space).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("tinyclaw.worker")

REPORT_NAME = "disk.json"
REPORT_SIZE = 1024  # fixed: rewritten in place, never grown
PROBE_EVERY = 2.0
PROBE_BYTES = 64 * 1024  # a run needs more than a directory entry; ask for some room
_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk or the quota is full."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


@dataclass
class DiskState:
    full: bool
    since: float | None = None
    waiting: int = 0
    error: str = ""


def report_path(state_dir: Path) -> Path:
    return state_dir / REPORT_NAME


def read_report(state_dir: Path) -> DiskState | None:
    """The worker's last report, or None when there is none (or it is unreadable)."""
    try:
        raw = json.loads(report_path(state_dir).read_bytes().strip() or b"null")
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    since = raw.get("since")
    waiting = raw.get("waiting")
    return DiskState(
        full=raw.get("full") is True,
        since=float(since) if isinstance(since, (int, float)) else None,
        waiting=waiting if isinstance(waiting, int) else 0,
        error=str(raw.get("error") or ""),
    )


def describe(state: DiskState, now: float) -> str:
    """One line for ``status`` and ``doctor``."""
    ago = f" for {now - state.since:.0f} s" if state.since is not None else ""
    return (
        f"disk full{ago}: {state.waiting} message(s) wait in their inboxes, none lost; "
        "the worker resumes by itself within seconds once space is freed"
    )


class DiskGuard:
    """The worker's side: :meth:`stall` on ENOSPC, :meth:`check` on each pass."""

    def __init__(
        self,
        state_dir: Path,
        probe_dir: Path,
        *,
        clock: Callable[[], float],
        probe_every: float = PROBE_EVERY,
    ) -> None:
        self.path = report_path(state_dir)
        self.probe_dir = probe_dir
        self.clock = clock
        self.probe_every = probe_every
        self.state = DiskState(full=False)
        self._next_probe: float | None = None
        self._ready = False
        self._lock = threading.Lock()  # run threads stall, the loop thread checks

    @property
    def full(self) -> bool:
        return self.state.full

    def prepare(self) -> None:
        """Write the report file at its full size, while there is space."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(self._encode())
            self._ready = True
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)

    def stall(self, what: str, exc: BaseException, waiting: int) -> None:
        """The disk is full: stop claiming, probe, and say so."""
        with self._lock:
            self._stall(what, exc, waiting)

    def _stall(self, what: str, exc: BaseException, waiting: int) -> None:
        if not self.state.full:
            log.error("disk full (%s): %s; claiming nothing until space returns", what, exc)
            self.state = DiskState(True, self.clock(), waiting, str(exc)[:200])
            self._next_probe = self.clock() + self.probe_every
        else:
            self.state.waiting = max(self.state.waiting, waiting)
        self._write()

    def due(self) -> float | None:
        """When the next probe is due (None: not full)."""
        return self._next_probe if self.state.full else None

    def check(self) -> bool:
        """Probe if due; True if the disk was full and has room again."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        if not self.state.full or self._next_probe is None or self.clock() < self._next_probe:
            return False
        if not self._has_room():
            self._next_probe = self.clock() + self.probe_every
            return False
        log.info(
            "disk has room again after %.0f s; resuming", self.clock() - (self.state.since or 0)
        )
        self.state = DiskState(full=False)
        self._next_probe = None
        self._write()
        return True

    def _has_room(self) -> bool:
        probe = self.probe_dir / f".space-probe-{os.getpid()}"
        try:
            with open(probe, "wb") as out:
                out.write(b"\0" * PROBE_BYTES)
                out.flush()
                os.fsync(out.fileno())
            return True
        except OSError as exc:
            if not disk_full(exc):
                log.warning("space probe failed: %s", exc)
            return False
        finally:
            probe.unlink(missing_ok=True)

    def _encode(self) -> bytes:
        data: dict[str, Any] = {
            "full": self.state.full,
            "since": self.state.since,
            "waiting": self.state.waiting,
            "error": self.state.error,
        }
        return json.dumps(data).encode("utf-8")[: REPORT_SIZE - 1].ljust(REPORT_SIZE - 1) + b"\n"

    def _write(self) -> None:
        """Overwrite the report in place: no new block, so it works on a full disk."""
        if not self._ready:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, self._encode(), 0)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("cannot update %s: %s", self.path, exc)
