"""The structured event log: one JSON object per line in ``logs/events.jsonl``.

Every process appends to the same file with ``O_APPEND`` and one ``write`` per event,
which POSIX keeps whole for lines this small, so no lock is needed to write.
``tinyclaw trace``, ``status`` and the dashboard read it; nothing else depends on it,
and a failure to write an event never stops the work it describes.

The file is bounded: a writer that finds it past ``max_bytes`` after its write renames
it to ``events.jsonl.1`` (replacing the previous one), so the log costs at most about
twice ``max_bytes``. Rotation is safe across processes: each write opens the path
afresh (a writer that opened the old inode just before the rename adds its line to
``.1``, where readers look too), and the rename happens under an exclusive ``flock``
on ``events.jsonl.lock`` after checking the size *of the path* again, so two writers
crossing the limit together rotate once, never throwing away a fresh file.
:meth:`EventLog.read` reads ``.1`` then the current file.

A busy writer may let some kinds wait (``deferred``): their lines are kept in memory
and written together, in order, with the next event of another kind or at
:meth:`EventLog.flush`, which the worker calls at its safe points (a pass of its loop
done, a run ended). Only kinds nothing waits for on disk are deferred; every other
event is written before ``emit`` returns, as the crash tests expect.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("tinyclaw.core.events")
MAX_LINE = 16_000
MAX_BYTES = 10_000_000
ROTATED_SUFFIX = ".1"

_pid = os.getpid()  # asked once per process, not once per event


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def rotated_path(path: Path) -> Path:
    """Where the previous part of an event log lives (``events.jsonl.1``)."""
    return path.with_name(path.name + ROTATED_SUFFIX)


class EventLog:
    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.path = path
        self.clock = clock
        self.max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        self.deferred: frozenset[str] = frozenset()  # kinds that may wait for a flush
        self._pending: list[bytes] = []
        self._pending_lock = threading.Lock()

    def emit(self, kind: str, **fields: Any) -> None:
        record = {"ts": round(self.clock(), 6), "event": kind, "pid": _pid, **fields}
        line = json.dumps(record, default=str, ensure_ascii=False)
        if len(line) > MAX_LINE:
            record = {
                k: (v[:500] + "…" if isinstance(v, str) and len(v) > 500 else v)
                for k, v in record.items()
            }
            line = json.dumps(record, default=str, ensure_ascii=False)[:MAX_LINE]
        data = (line + "\n").encode("utf-8")
        with self._pending_lock:
            if kind in self.deferred:
                self._pending.append(data)
                return
            lines, self._pending = [*self._pending, data], []
        self._write(b"".join(lines))

    def flush(self) -> None:
        """Write the deferred events (one ``write``)."""
        with self._pending_lock:
            lines, self._pending = self._pending, []
        if lines:
            self._write(b"".join(lines))

    def _write(self, data: bytes) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                full = os.fstat(fd).st_size >= self.max_bytes
            finally:
                os.close(fd)
            if full:
                self.rotate()
        except OSError as exc:
            log.warning("cannot write event log %s: %s", self.path, exc)

    def rotate(self) -> bool:
        """Move a full log to ``.1``; False if another process just did (or no need)."""
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self.path.stat().st_size < self.max_bytes:
                    return False  # someone rotated between our write and the lock
            except FileNotFoundError:
                return False
            os.replace(self.path, rotated_path(self.path))
            return True
        finally:
            os.close(lock)  # closing drops the flock

    def read(self) -> Iterator[dict[str, Any]]:
        """Every readable event, oldest first (the rotated ``.1``, then the current
        file); a torn or foreign line is skipped."""
        for path in (rotated_path(self.path), self.path):
            yield from _read_lines(path)


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
