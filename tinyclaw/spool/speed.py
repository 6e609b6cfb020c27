"""What keeps the Maildir backend's cost per message flat: directory fsyncs shared
between threads (group commit), and the inboxes' listings kept in memory.

Neither changes what reaches the disk or in which order: a caller of
:meth:`DirSync.sync` returns only once an fsync of the folder *started after its
rename* has finished, exactly as if it had made that fsync itself; several callers
waiting at once share one. :class:`InboxIndex` only saves listing a folder: it is
kept by the process's own moves, fed the watcher's hints, and listed afresh when it
is older than its ``ttl``, so a name it missed waits at most that long.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tinyclaw.core import failpoint

SUFFIX = ".json"


@dataclass
class _Folder:
    changed: int = 0  # renames and unlinks noted in the folder so far
    synced: int = 0  # how many of them an fsync has covered
    busy: bool = False  # an fsync of the folder is under way


class DirSync:
    """Group commit of directory fsyncs across the threads of one process.

    Each folder counts the changes made in it; an fsync covers every change counted
    before it started. ``sync`` counts the caller's change, then waits while another
    thread's fsync runs (it may have started before the change), and makes the next
    one itself unless that covered it. ``fsync`` None (a spool that is not durable)
    makes every call free."""

    def __init__(self, fsync: Callable[[Path], None] | None) -> None:
        self._fsync = fsync
        self._cond = threading.Condition()
        self._folders: dict[Path, _Folder] = {}

    def changed(self, folder: Path) -> None:
        """A change in ``folder`` whose fsync is left for a later ``sync``/``flush``."""
        if self._fsync is None:
            return
        with self._cond:
            self._folders.setdefault(folder, _Folder()).changed += 1

    def sync(self, folder: Path) -> None:
        """Make every change in ``folder`` so far (the caller's last one included)
        durable."""
        if self._fsync is None:
            return
        with self._cond:
            state = self._folders.setdefault(folder, _Folder())
            state.changed += 1
            wanted = state.changed
            while state.busy:
                self._cond.wait()
            if state.synced >= wanted:
                return  # an fsync that started after our change has finished
            state.busy = True
            covers = state.changed
        done = False
        try:
            failpoint("dirsync.started")
            self._fsync(folder)
            done = True
        finally:
            with self._cond:
                state.busy = False
                if done:
                    state.synced = max(state.synced, covers)
                self._cond.notify_all()

    def flush(self) -> None:
        """fsync every folder with a change no fsync has covered yet."""
        with self._cond:
            behind = [f for f, s in self._folders.items() if s.changed > s.synced]
        for folder in behind:
            self.sync(folder)


@dataclass
class _Listing:
    names: list[str] = field(default_factory=list)  # sorted: the FIFO
    members: set[str] = field(default_factory=set)
    listed: float = 0.0


# Echoes kept at most (a few MB): a watcher that lost its events (restarted on a
# configuration change) leaves some for ever; past this many, a routed message's
# event just wakes the loop once more, as every event did before.
_MAX_ECHOES = 20_000


class InboxIndex:
    """The names in each inbox, sorted, without listing the folder per look.

    A folder is listed the first time it is asked for and again once its listing is
    older than ``ttl`` seconds. In between, ``added``/``removed`` keep it: the
    spool's own moves call them, and the worker passes on the watcher's arrivals.
    A name that is gone by the time it is read is removed by the reader (the spool's
    ``load``), so a stale hint costs one failed open. Only folders that were asked
    for are kept; the others are ignored."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._folders: dict[Path, _Listing] = {}
        # Renames this process made into a watched folder whose watcher event has not
        # come back yet: that event is an echo, not news (see ``seen``).
        self._echoes: set[tuple[Path, str]] = set()

    def names(self, folder: Path, listing: Callable[[Path], Iterable[str]]) -> list[str]:
        """The names of ``folder`` in arrival order (a copy), listing it with
        ``listing`` when the kept one is missing or too old."""
        with self._lock:
            kept = self._folders.get(folder)
            now = self._clock()
            if kept is None or now - kept.listed > self._ttl:
                failpoint("index.listing")
                names = list(listing(folder))
                kept = _Listing(names, set(names), now)
                self._folders[folder] = kept
            return kept.names[:]

    def added(self, folder: Path, name: str) -> None:
        if not name.endswith(SUFFIX) or name.startswith("."):
            return
        with self._lock:
            kept = self._folders.get(folder)
            if kept is not None and name not in kept.members:
                kept.members.add(name)
                bisect.insort(kept.names, name)

    def removed(self, folder: Path, name: str) -> None:
        with self._lock:
            kept = self._folders.get(folder)
            if kept is not None and name in kept.members:
                kept.members.discard(name)
                at = bisect.bisect_left(kept.names, name)
                if at < len(kept.names) and kept.names[at] == name:
                    del kept.names[at]

    def clear(self) -> None:
        """List every folder afresh at its next look."""
        with self._lock:
            self._folders.clear()
            self._echoes.clear()

    def moved_in(self, folder: Path, name: str) -> None:
        """This process renamed ``name`` into ``folder`` and will look at the folder
        itself: the watcher's event for it, when it comes, is only an echo."""
        with self._lock:
            if len(self._echoes) < _MAX_ECHOES:
                self._echoes.add((folder, name))

    def seen(self, folder: Path, name: str) -> bool:
        """A watcher's arrival: learn the name; False when it is the echo of
        ``moved_in`` (nothing new to look at, so nobody need be woken)."""
        with self._lock:
            if (folder, name) in self._echoes:
                self._echoes.discard((folder, name))
                return False
        self.added(folder, name)
        return True
