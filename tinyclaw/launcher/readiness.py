"""When a supervised child counts as ready, which is what ``tinyclaw start`` waits for.

A probe is written as comma-separated terms: ``file`` (the child touches
``$TINYCLAW_READY_FILE``, see ``state.touch_ready``), ``event:NAME`` (the child
writes that event to ``logs/events.jsonl`` under its own pid, as the worker's
``worker.start`` and a listener's ``listener.ready``) and ``alive:SECONDS`` (a grace
period for a program that says nothing). The ready file always counts, so any child
can announce itself the same way whatever its probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyclaw.runners.live_log import JsonlTail


@dataclass(frozen=True)
class ReadyProbe:
    """How to tell that a child serves. Parsed from comma-separated terms: ``file``,
    ``event:NAME`` (repeatable), ``alive:SECONDS``. The ready file is always accepted,
    so any child can say "ready" the same way whatever its probe."""

    events: frozenset[str] = frozenset()
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> ReadyProbe:
        events: set[str] = set()
        seconds: float | None = None
        for term in filter(None, (t.strip() for t in text.split(","))):
            kind, _, arg = term.partition(":")
            if kind == "file" and not arg:
                continue
            if kind == "event" and arg:
                events.add(arg)
                continue
            if kind == "alive":
                try:
                    seconds = float(arg or "1")
                    continue
                except ValueError:
                    pass
            raise ValueError(
                f"unknown readiness probe {term!r} (file | event:NAME | alive:SECONDS)"
            )
        return cls(frozenset(events), seconds)


class EventTail:
    """New events of the event log since the child was spawned (readiness by event).
    Follows the log across its rotation (``events.jsonl`` → ``.1``), so an event
    written just before a rotation is not missed."""

    def __init__(self, path: Path) -> None:
        self._tail = JsonlTail(path)
        self._tail.poll()  # start at the current end: only what comes next counts

    def seen(self, pid: int, names: frozenset[str]) -> bool:
        return any(
            record.get("pid") == pid and record.get("event") in names
            for record in self._tail.poll()
        )

    def close(self) -> None:
        self._tail.close()
