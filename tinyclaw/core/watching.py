"""Turn filesystem events into a wake-up call (the worker loop, a listener's outbox,
``tinyclaw send`` waiting for its reply).

On Linux the worker listens to inotify through watchdog's ``InotifyFD`` for exactly
the events that mean "a file arrived" (moved in, created, closed after writing).
watchdog's ``Observer`` would do, but it holds every unpaired IN_MOVED_FROM for half a
second to pair renames, and every event behind it waits too: after the worker moves a
file *out* of a box (routing, claiming), the next arrival in that box would be seen
up to 0.5 s late. Elsewhere the ``Observer`` is used as is.

Events are only hints: inotify can overflow and watchdog merely logs it, so the loop
also scans at start-up and on a timer (docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

log = logging.getLogger("tinyclaw.watcher")


class _QuietStop(logging.Filter):
    """watchdog logs an ERROR when an event races its own shutdown; nothing is lost
    (the next scan is the truth), so keep that line out of users' terminals."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_QuietStop())


Notify = Callable[[], None]
# Given each arrival's path; False means "an echo of our own rename, no wake-up".
Arrival = Callable[[Path], bool | None]


def _ignore(path: Path) -> None:
    return None


def _nothing() -> None:
    return None


class _Wake(FileSystemEventHandler):
    def __init__(self, notify: Notify, arrived: Arrival) -> None:
        self._notify = notify
        self._arrived = arrived

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "moved", "closed"):
            where = event.dest_path if event.event_type == "moved" else event.src_path
            if where and self._arrived(Path(os.fsdecode(where))) is False:
                return
            self._notify()


class _InotifyWake:
    """A watchdog ``WatchCallback`` of one directory: any event is a wake-up call,
    and a named arrival is passed on first (the loop it wakes can then know it)."""

    def __init__(self, notify: Notify, directory: Path, arrived: Arrival, lost: Notify) -> None:
        self._notify = notify
        self._directory = directory
        self._arrived = arrived
        self._lost = lost

    def on_event(self, event: Any) -> None:
        if event.name and self._arrived(self._directory / os.fsdecode(event.name)) is False:
            return  # the loop made this rename itself and has looked already
        self._notify()

    def on_watch_deleted(self, wd: Any) -> None:
        self._lost()
        self._notify()

    def on_queue_overflow(self) -> None:
        self._lost()
        self._notify()  # events were lost: the scan finds what they said

    def on_events_lost(self) -> None:
        self._lost()
        self._notify()  # watchdog 7.1, after an overflow once watches recovered: rescan


class Watcher:
    """Watch some directories (not recursively) and call ``notify`` on arrivals (from
    a watchdog thread). A ``threading.Event`` may be passed: it is set.

    ``arrived`` gets each arrival's path first (a hint: the file may be gone again)
    and may answer False for one that needs no wake-up (the caller's own rename);
    ``lost`` is called when events were lost (an overflow): whoever keeps what the
    hints told must look at the folders again."""

    def __init__(
        self,
        directories: Iterable[Path],
        notify: Notify | threading.Event,
        *,
        arrived: Arrival = _ignore,
        lost: Notify = _nothing,
    ) -> None:
        self._dirs = list(dict.fromkeys(directories))  # actors may share a workspace
        self._wake: Notify = notify.set if isinstance(notify, threading.Event) else notify
        self._arrived = arrived
        self._lost = lost
        self._inotify: Any = None
        self._observer: Any = None
        for directory in self._dirs:
            directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        if sys.platform.startswith("linux") and self._start_inotify():
            return
        from watchdog.observers import Observer

        self._observer = Observer()
        handler = _Wake(self._wake, self._arrived)
        for directory in self._dirs:
            self._observer.schedule(handler, str(directory), recursive=False)
        self._observer.daemon = True
        self._observer.start()

    @property
    def backend(self) -> str:
        """ "inotify" (wakes at once), "observer" (watchdog's, a rename up to 0.5 s
        late) or "" before ``start``; shown in the log and checked by the tests."""
        return "inotify" if self._inotify is not None else "observer" if self._observer else ""

    def _start_inotify(self) -> bool:
        try:
            from watchdog.observers.inotify_c import CallbackId, InotifyConstants, InotifyFD, Mask
        except ImportError as exc:  # a watchdog older than pyproject.toml allows
            log.warning("watchdog has no inotify interface (%s); using its observer", exc)
            return False
        mask = Mask(
            InotifyConstants.IN_MOVED_TO
            | InotifyConstants.IN_CREATE
            | InotifyConstants.IN_CLOSE_WRITE
        )
        try:
            inotify = InotifyFD()
            for number, directory in enumerate(self._dirs):
                callback = _InotifyWake(self._wake, directory, self._arrived, self._lost)
                inotify.add_callback(os.fsencode(directory), mask, callback, CallbackId(number))
        except OSError as exc:  # e.g. out of inotify watches: the Observer may cope
            log.warning("inotify unavailable (%s); using watchdog's observer", exc)
            return False
        inotify.daemon = True
        inotify.start()
        self._inotify = inotify
        return True

    def stop(self) -> None:
        if self._inotify is not None:
            self._inotify.stop()
            self._inotify.join(timeout=5)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
