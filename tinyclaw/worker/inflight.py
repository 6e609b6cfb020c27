"""The runs in flight: at most one per actor, shared by the loop thread (which starts
them), the run threads (which end them) and chat commands (``/status``, ``/cancel``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyclaw.core import Inbound


@dataclass
class Running:
    """One run: its claimed file, and the event that stops its CLI."""

    actor: str
    message: Inbound
    path: Path
    started: float
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""


def same_chat(a: Inbound, b: Inbound) -> bool:
    return a.channel == b.channel and a.chat_id == b.chat_id


class InFlight:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, Running] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def busy(self, actor: str) -> bool:
        """Whether ``actor`` has a run in flight (its CLI may be writing files)."""
        with self._lock:
            return actor in self._runs

    def can_start(self, actor: str, limit: int) -> bool:
        """Whether ``actor`` is idle and the global limit leaves room for one more."""
        with self._lock:
            return actor not in self._runs and len(self._runs) < limit

    def add(self, running: Running) -> None:
        with self._lock:
            self._runs[running.actor] = running

    def remove(self, actor: str) -> None:
        with self._lock:
            self._runs.pop(actor, None)

    def discard(self, running: Running) -> None:
        """Remove ``running`` if it is still its actor's run (not a later one)."""
        with self._lock:
            if self._runs.get(running.actor) is running:
                del self._runs[running.actor]

    def actors(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def for_chat(self, message: Inbound) -> list[Running]:
        with self._lock:
            return [r for r in self._runs.values() if same_chat(r.message, message)]

    def cancel(
        self, reason: str, message: Inbound | None = None, actor: str | None = None
    ) -> list[str]:
        """Stop the runs of ``message``'s chat and ``actor``'s run (every run when
        neither is given); returns the actors stopped."""
        with self._lock:
            chosen = [
                r
                for r in self._runs.values()
                if (message is None and actor is None)
                or (message is not None and same_chat(r.message, message))
                or r.actor == actor
            ]
            for running in chosen:
                running.cancel_reason = reason
                running.cancel.set()
        return [r.actor for r in chosen]

    def snapshot(self) -> list[tuple[str, str, float]]:
        """(actor, message id, seconds running) for status displays."""
        now = self._clock()
        with self._lock:
            return [(r.actor, r.message.id, now - r.started) for r in self._runs.values()]
