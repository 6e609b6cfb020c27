"""What ``python -m tests.chaos`` expected, what its deliverer saw, and the final audit.

The deliverer plays the listeners' part for the ``cli`` channel: it records each
reply (a reply id seen twice is a duplicate, what a chat user would notice) and moves
it to ``queue/sent/cli``, the ledger the worker consults before running a message
again. :func:`audit` then counts, from the home alone, what was lost, doubled, failed
or left behind, and how long each recovery took.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_reply
from tinyclaw.spool import Spool

CHANNEL = "cli"


@dataclass
class Expected:
    actor: str
    text: str
    order: int


@dataclass
class Ledger:
    """What the deliverer saw, shared between threads under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    delivered: dict[str, float] = field(default_factory=dict)  # reply id -> mtime
    duplicates: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.delivered)


def deliver_once(spool: Spool, expected: dict[str, Expected], ledger: Ledger) -> int:
    """One pass over ``outgoing/cli``: record each reply, then move it to ``sent/``."""
    moved = 0
    for path in spool.list_box(spool.outgoing(CHANNEL)):
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            continue
        reply = load_reply(data)
        want = expected.get(reply.in_reply_to)
        with ledger.lock:
            if reply.id in ledger.delivered:
                ledger.duplicates.append(reply.id)
            ledger.delivered.setdefault(reply.id, mtime)
            if reply.kind == "error":
                ledger.errors.append(f"{reply.id}: {reply.text[:200]}")
            elif want is None or reply.text != want.text or reply.actor != want.actor:
                ledger.wrong.append(reply.id)
        spool.mark_sent(path, CHANNEL)
        moved += 1
    return moved


def audit(
    home: Home,
    spool: Spool,
    expected: dict[str, Expected],
    ledger: Ledger,
    kill_times: list[float],
) -> dict[str, Any]:
    out_names = {p.stem for p in spool.list_box(spool.outgoing(CHANNEL))}
    sent_names = {p.stem for p in spool.list_box(spool.sent(CHANNEL))}
    failed = spool.list_box(spool.failed)
    failed_ids = {p.stem for p in failed}
    without_reason = [p.name for p in failed if not p.with_name(p.name + ".reason").exists()]
    replies = Counter({i: (i in out_names) + (i in sent_names) for i in expected})
    lost = [i for i in expected if replies[i] == 0 and i not in failed_ids]
    doubled = sorted({i for i in expected if replies[i] > 1} | set(ledger.duplicates))
    depths = spool.depths()
    journal = list((home.state / "results").glob("*.json"))
    events = list(EventLog(home.logs / "events.jsonl").read())
    runs = Counter(e["id"] for e in events if e["event"] == "run.start")
    out_of_order = order_violations(events, expected)
    mtimes = sorted(ledger.delivered.values())
    starts = sorted(e["ts"] for e in events if e["event"] == "worker.start")
    recoveries, readies = [], []
    for killed in kill_times:
        first_reply = next((m for m in mtimes if m > killed), None)
        if first_reply is not None:
            recoveries.append(first_reply - killed)
        ready = next((t for t in starts if t > killed), None)
        if ready is not None:
            readies.append(ready - killed)
    stale_tmp = sum(1 for _ in spool.tmp.iterdir())
    return {
        "messages": len(expected),
        "replies": sum(1 for i in expected if replies[i] >= 1),
        "lost": len(lost),
        "duplicated": len(doubled),
        "failed_with_reason": len(failed) - len(without_reason),
        "failed_without_reason": len(without_reason),
        **run_figures(ledger, runs, out_of_order, depths),
        "left_in_journal": len(journal),
        "stale_tmp_files": stale_tmp,
        "max_recovery_s": round(max(recoveries), 3) if recoveries else None,
        "mean_recovery_s": round(sum(recoveries) / len(recoveries), 3) if recoveries else None,
        "max_restart_to_ready_s": round(max(readies), 3) if readies else None,
        "lost_ids": lost[:10],
        "duplicated_ids": doubled[:10],
        "error_samples": ledger.errors[:3],
    }


def order_violations(events: list[dict[str, Any]], expected: dict[str, Expected]) -> int:
    """First runs that started before an earlier message of the same actor (one
    worker's events: each actor runs on one worker)."""
    first_runs: dict[str, list[int]] = {}
    seen: set[str] = set()
    for e in events:
        if e.get("event") == "run.start" and e.get("id") in expected and e["id"] not in seen:
            seen.add(e["id"])
            want = expected[e["id"]]
            first_runs.setdefault(want.actor, []).append(want.order)
    return sum(1 for orders in first_runs.values() for a, b in itertools.pairwise(orders) if b < a)


def run_figures(
    ledger: Ledger, runs: Counter[str], out_of_order: int, depths: dict[str, int]
) -> dict[str, int]:
    """The figures both spools report alike: replies that were wrong or errors, CLI
    runs and reruns, order, and what is left in the queue."""
    return {
        "wrong_replies": len(ledger.wrong),
        "error_replies": len(ledger.errors),
        "cli_runs": sum(runs.values()),
        "cli_reruns": sum(n - 1 for n in runs.values() if n > 1),
        "out_of_order": out_of_order,
        "left_in_queue": depths["incoming"]
        + depths["inboxes"]
        + depths["processing"]
        + depths["outgoing"],
    }
