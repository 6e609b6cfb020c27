"""Waking a listener's delivery when a reply arrives, whatever holds the queue.

Delivery scans its channel's replies at start and every few seconds anyway; a
wake-up only shortens the wait. On files a watcher on ``queue/outgoing/<channel>/``
(inotify on Linux) gives it; on NATS a subscription on the channel's reply subjects.
A backend that offers neither is simply scanned."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tinyclaw.core import Watcher
from tinyclaw.spool.maildir import Spool


def watch_replies(spool: Any, channel: str, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` (from another thread) when a reply for ``channel`` may be
    waiting; returns the function that stops watching (it may block a moment, so
    callers on an event loop run it on the side)."""
    if isinstance(spool, Spool):
        watcher = Watcher([spool.outgoing(channel)], wake)
        watcher.start()
        return watcher.stop
    watch = getattr(spool, "watch_replies", None)
    if watch is None:
        return lambda: None
    stop: Callable[[], None] = watch(channel, wake)
    return stop


def stop_on_the_side(stop: Callable[[], None], name: str) -> None:
    """Run ``stop`` on a daemon thread: joining a watch thread, or waiting for a
    server's answer, must not hold up a listener that is shutting down."""
    threading.Thread(target=stop, name=name, daemon=True).start()
