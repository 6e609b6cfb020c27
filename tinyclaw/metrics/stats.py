"""What the worker did since it started, counted from the events it emits.

The worker already reports every run as a ``run.end`` event (actor, ok, duration,
cost) and every reload as ``config.reload``/``config.refused``. Counting those as they
are emitted, through :class:`TappedEventLog`, gives the metrics without a single new
call in the worker's code path, and with nothing to reconcile: the event log and the
metrics describe the same runs. Counters start at zero with each worker, as
Prometheus expects of a restarted process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tinyclaw.core.events import EventLog

# Upper bounds (seconds) of the run-duration histogram: chat answers to long jobs.
DURATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@dataclass(frozen=True)
class ActorRuns:
    """One actor's runs: counts, summed seconds and cost, and the histogram counts."""

    runs: int = 0
    failures: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
    buckets: tuple[int, ...] = field(default=(0,) * len(DURATION_BUCKETS))


class RunStats:
    """Thread-safe counters fed by :meth:`observe` (run threads emit concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actors: dict[str, ActorRuns] = {}
        self._reloads = {"applied": 0, "refused": 0}

    def observe(self, kind: str, fields: Mapping[str, Any]) -> None:
        if kind == "run.end":
            self._run_end(fields)
        elif kind in ("config.reload", "config.refused"):
            with self._lock:
                self._reloads["applied" if kind == "config.reload" else "refused"] += 1

    def _run_end(self, fields: Mapping[str, Any]) -> None:
        actor = str(fields.get("actor") or "?")
        seconds = _number(fields.get("duration"))
        cost = _number(fields.get("cost"))
        ok = bool(fields.get("ok"))
        with self._lock:
            now = self._actors.get(actor, ActorRuns())
            buckets = tuple(
                count + (1 if seconds <= bound else 0)
                for count, bound in zip(now.buckets, DURATION_BUCKETS, strict=True)
            )
            self._actors[actor] = replace(
                now,
                runs=now.runs + 1,
                failures=now.failures + (0 if ok else 1),
                seconds=now.seconds + seconds,
                cost_usd=now.cost_usd + cost,
                buckets=buckets,
            )

    def actors(self) -> dict[str, ActorRuns]:
        with self._lock:
            return dict(self._actors)

    def reloads(self) -> dict[str, int]:
        with self._lock:
            return dict(self._reloads)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class TappedEventLog(EventLog):
    """An :class:`EventLog` that also hands every event to ``tap`` (after writing it)."""

    def __init__(self, path: Path, tap: Callable[[str, Mapping[str, Any]], None]) -> None:
        super().__init__(path)
        self._tap = tap

    def emit(self, kind: str, **fields: Any) -> None:
        super().emit(kind, **fields)
        self._tap(kind, fields)
