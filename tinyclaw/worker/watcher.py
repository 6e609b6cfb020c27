"""Turn filesystem events into a wake-up call for the worker loop.

watchdog's inotify observer wakes the loop the moment a file is renamed into a box.
Events are only hints: inotify can overflow and watchdog merely logs it, so the loop
also scans at start-up and on a timer (STYLE.md, habit 4).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("tinyclaw.watcher")


class _QuietStop(logging.Filter):
    """watchdog logs an ERROR when an event races its own shutdown; nothing is lost
    (the next scan is the truth), so keep that line out of users' terminals."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_QuietStop())


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "moved", "closed"):
            self._event.set()


class Watcher:
    """Watch some directories (not recursively) and set ``wake`` on arrivals."""

    def __init__(self, directories: Iterable[Path], wake: threading.Event) -> None:
        self._observer = Observer()
        handler = _Wake(wake)
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(handler, str(directory), recursive=False)

    def start(self) -> None:
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
