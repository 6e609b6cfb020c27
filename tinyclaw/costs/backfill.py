"""Costs recorded before the ledger existed: taken once from the event log.

Every run has always logged its cost in a ``run.end`` event (``logs/events.jsonl``
and its rotated ``.1``). The first worker that starts with a cost ledger copies the
``run.end`` events of the last two months that the ledger does not have yet, so
``tinyclaw cost`` and the spend limits count this month's runs from before the
upgrade too. Those runs are charged to their actor and chat only: the event does not
say who asked. A marker file (``state/costs/imported``) makes it happen once; the
ledger keeps one line per message id, so even a second import would count nothing
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinyclaw.core.fsutil import atomic_write
from tinyclaw.costs.ledger import CostEntry, CostLedger

log = logging.getLogger("tinyclaw.costs")

LOOK_BACK = 62 * 86400  # this month and the one before, whatever the time zone
MARKER = "imported"


def import_run_ends(ledger: CostLedger, events: Iterable[dict[str, Any]], now: float) -> int:
    """Copy the missing ``run.end`` costs into ``ledger``; the number copied."""
    marker = ledger.root / MARKER
    if marker.exists():
        return 0
    since = now - LOOK_BACK
    known = {entry.id for entry in ledger.entries(since, now + 1)}
    copied = 0
    try:
        for event in events:
            entry = _entry(event, since)
            if entry is None or entry.id in known:
                continue
            ledger.record(entry)
            known.add(entry.id)
            copied += 1
    except OSError as exc:  # tried again at the next start; the worker serves meanwhile
        log.warning("cost ledger: cannot take earlier runs from the event log: %s", exc)
        return copied
    _mark(marker, copied)
    if copied:
        log.info("cost ledger: %d earlier runs taken from the event log", copied)
    return copied


def _entry(event: dict[str, Any], since: float) -> CostEntry | None:
    if event.get("event") != "run.end":
        return None
    ts, cost = event.get("ts"), event.get("cost")
    ident, actor = event.get("id"), event.get("actor")
    if not isinstance(ts, int | float) or ts < since:
        return None
    if not (isinstance(ident, str) and ident and isinstance(actor, str) and actor):
        return None
    chat = event.get("conversation")
    return CostEntry(
        id=ident,
        ts=float(ts),
        actor=actor,
        chat=chat if isinstance(chat, str) and chat else "unknown",
        cost_usd=max(0.0, float(cost)) if isinstance(cost, int | float) else 0.0,
    )


def _mark(marker: Path, copied: int) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(marker, f"{copied}\n".encode())
    except OSError as exc:  # only means the import is tried again at the next start
        log.warning("cannot write %s: %s", marker, exc)
