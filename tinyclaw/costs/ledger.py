"""The cost ledger: what every CLI run cost, one JSON line per run, by month.

``tinyclaw cost``, ``/cost`` and the spend limits must not read the whole event log on
every question (it rotates, and a busy home writes it fast), so the worker also writes
each finished run's cost here, in ``state/costs/<YYYY-MM>.jsonl`` (the UTC month of
the run). A line is appended with one ``write`` and fsynced: the file is money, and a
torn last line after a power cut is skipped by readers. The worker's ledger shares its
fsyncs (``sync_every``): a line reaches the file at once, so a killed worker loses
nothing, and an fsync covers every line of the last moment (at most ``sync_every``
seconds old, or when the worker idles): a power cut can lose that moment's lines only.

Lines are keyed by message id. The worker appends the line after the run's result is
in the run journal and before any reply is written, so a worker killed later replays
the journaled result and appends the same line again; readers keep one line per id,
so a replay never counts a run twice.

Reading is incremental: a :class:`CostLedger` remembers how far it read each file and
reads only what was appended since, so asking before every run stays cheap.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("tinyclaw.costs")

SUFFIX = ".jsonl"


@dataclass(frozen=True)
class CostEntry:
    """One run's cost and who it is charged to.

    ``profile`` is the pairing profile of the person who asked (for a team, the person
    who started the conversation); ``identity`` is their ``channel:user_id``; both are
    None for what the home itself started (the terminal, schedules, heartbeats).
    ``chat`` is ``channel:chat_id`` of the chat the run answered. ``cost_usd`` is what
    the CLI reported (codex reports none: 0)."""

    id: str
    ts: float
    actor: str
    chat: str
    cost_usd: float
    profile: str | None = None
    identity: str | None = None
    model: str | None = None

    def to_json(self) -> str:
        # Every field is a scalar: vars() is asdict() without its recursive deep copy.
        return json.dumps({"v": 1, **vars(self)}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CostEntry | None:
        """The entry of one parsed line; None for a line that is not one of ours."""
        try:
            cost = data["cost_usd"]
            ts = data["ts"]
            if not isinstance(cost, int | float) or not isinstance(ts, int | float):
                return None
            fields = {k: data.get(k) for k in ("id", "actor", "chat")}
            if not all(isinstance(v, str) and v for v in fields.values()):
                return None
            optional = {k: data.get(k) for k in ("profile", "identity", "model")}
            return cls(
                id=str(fields["id"]),
                ts=float(ts),
                actor=str(fields["actor"]),
                chat=str(fields["chat"]),
                cost_usd=max(0.0, float(cost)),
                **{k: v if isinstance(v, str) else None for k, v in optional.items()},
            )
        except KeyError:
            return None


@dataclass
class _Cursor:
    """How far one month file was read, and what it held by message id."""

    inode: int
    offset: int
    entries: dict[str, CostEntry]


def month_of(ts: float) -> str:
    """The UTC month a run's line is filed under: ``2026-12``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def _months_between(start: float, end: float) -> list[str]:
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(max(start, end), UTC)
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class CostLedger:
    """``record`` a run; ``entries`` since a time. Safe from several threads; one
    process (the worker) writes, any number read."""

    def __init__(self, root: Path, *, sync_every: float = 0.0) -> None:
        """``sync_every`` > 0: fsync a written file at most that often (and at
        :meth:`flush`) instead of after every line."""
        self.root = root
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cursors: dict[str, _Cursor] = {}
        self._sync_every = sync_every
        self._unsynced: set[Path] = set()
        self._synced_at = time.monotonic()

    def path(self, month: str) -> Path:
        return self.root / f"{month}{SUFFIX}"

    def record(self, entry: CostEntry) -> None:
        """Append ``entry`` durably. Recording the same message id again is harmless."""
        line = (entry.to_json() + "\n").encode("utf-8")
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(month_of(entry.ts))
        with self._write_lock:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a line torn by a crash stays alone, not glued to this
                os.write(fd, line)
                if self._sync_every <= 0:
                    os.fsync(fd)
                else:
                    self._unsynced.add(path)
            finally:
                os.close(fd)
        if self._unsynced and time.monotonic() - self._synced_at >= self._sync_every:
            self.flush()

    def flush(self) -> None:
        """fsync every file written since the last fsync."""
        with self._write_lock:
            pending, self._unsynced = self._unsynced, set()
            self._synced_at = time.monotonic()
        for path in pending:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self, since: float, until: float) -> list[CostEntry]:
        """Every run recorded with ``since <= ts < until``, one per message id."""
        found: list[CostEntry] = []
        with self._lock:
            for month in _months_between(since, until):
                for entry in self._read(month).values():
                    if since <= entry.ts < until:
                        found.append(entry)
        return found

    def _read(self, month: str) -> dict[str, CostEntry]:
        path = self.path(month)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            self._cursors.pop(month, None)
            return {}
        except OSError as exc:  # counted as empty: a limit is not enforced, nothing stops
            log.warning("cannot read the cost ledger %s: %s", path, exc)
            return {}
        with handle:
            inode = os.fstat(handle.fileno()).st_ino
            cursor = self._cursors.get(month)
            size = os.fstat(handle.fileno()).st_size
            if cursor is None or cursor.inode != inode or size < cursor.offset:
                cursor = _Cursor(inode, 0, {})  # new, replaced or truncated: read it all
                self._cursors[month] = cursor
            handle.seek(cursor.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
        for raw in chunk[:end].splitlines():
            entry = _parse(raw)
            if entry is not None:
                cursor.entries[entry.id] = entry
        cursor.offset += end
        return cursor.entries


def _parse(raw: bytes) -> CostEntry | None:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return CostEntry.from_json(data) if isinstance(data, dict) else None
