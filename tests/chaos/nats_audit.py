"""The NATS chaos run's deliverer and audit: replies taken off the JetStream spool,
and what was lost, doubled, failed or left behind, with the recovery after each kind
of kill.

The deliverer plays a listener for the ``cli`` channel: it records each waiting reply
and marks it sent (the delivery ledger the worker consults before running a message
again). A reply seen again after it was marked sent is a duplicate, except one whose
``mark_sent`` failed half-way (a server killed between the ledger's publish and the
removal from waiting): that one is simply marked again, as a real listener would.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.chaos.ledger import CHANNEL, Expected, Ledger, order_violations, run_figures
from tinyclaw.core.errors import SpoolError
from tinyclaw.core.home import Home
from tinyclaw.spool.jetstream import JetStreamSpool

if TYPE_CHECKING:
    from tests.chaos.telegram import TelegramSide


@dataclass
class Answers:
    """(time, actor) of every first answer the deliverer saw; ``unsure``: reply ids
    whose ``mark_sent`` did not finish."""

    seen: list[tuple[float, str]] = field(default_factory=list)
    unsure: set[str] = field(default_factory=set)


def deliver_nats_once(
    spool: JetStreamSpool, expected: dict[str, Expected], ledger: Ledger, answers: Answers
) -> int:
    moved = 0
    for handle in spool.replies(CHANNEL):
        try:
            reply = spool.load_reply(handle)
        except FileNotFoundError:
            continue
        want = expected.get(reply.in_reply_to)
        with ledger.lock:
            if reply.id in ledger.delivered and reply.id not in answers.unsure:
                ledger.duplicates.append(reply.id)
            if reply.id not in ledger.delivered:
                answers.seen.append((time.time(), reply.actor or "?"))
            ledger.delivered.setdefault(reply.id, time.time())
            if reply.kind == "error":
                ledger.errors.append(f"{reply.id}: {reply.text[:200]}")
            elif want is None or reply.text != want.text or reply.actor != want.actor:
                ledger.wrong.append(reply.id)
        answers.unsure.add(reply.id)
        spool.mark_sent(handle, CHANNEL)
        answers.unsure.discard(reply.id)
        moved += 1
    return moved


def deliver_nats(
    spool: JetStreamSpool,
    expected: dict[str, Expected],
    ledger: Ledger,
    answers: Answers,
    stop: threading.Event | None,
) -> None:
    """Deliver until ``stop`` is set (None: one pass); a call the cluster cannot
    answer now is tried again on the next pass."""
    while True:
        try:
            moved = deliver_nats_once(spool, expected, ledger, answers)
        except SpoolError:
            moved = 0
        if stop is None:
            return
        if stop.is_set():
            return
        if not moved:
            stop.wait(0.05)


def events(home: Home) -> list[dict[str, Any]]:
    path = home.logs / "events.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a SIGKILL
    return found


def first_after(times: list[float], after: float) -> float | None:
    return next((t for t in times if t > after), None)


def spread(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(max(values), 3), round(sum(values) / len(values), 3)


def audit_nats(
    spool: JetStreamSpool,
    homes: dict[str, Home],
    expected: dict[str, Expected],
    ledger: Ledger,
    answers: Answers,
    side: TelegramSide,
    *,
    worker_kills: list[tuple[float, str]],
    server_kills: list[tuple[float, float | None, str]],
    actors_of: dict[str, list[str]],
) -> dict[str, Any]:
    failures = list(spool.failures())
    failed_keys = {key for key, _reason, _data in failures}
    without_reason = sum(1 for _key, reason, _data in failures if not reason)
    lost = [i for i in expected if i not in ledger.delivered and i not in failed_keys]
    doubled = sorted(set(ledger.duplicates))
    depths = spool.depths()
    runs: Counter[str] = Counter()
    out_of_order = 0
    starts: dict[str, list[float]] = {}
    journal = 0
    for node, home in homes.items():
        node_events = events(home)
        runs.update(e["id"] for e in node_events if e.get("event") == "run.start")
        out_of_order += order_violations(node_events, expected)
        starts[node] = sorted(e["ts"] for e in node_events if e.get("event") == "worker.start")
        journal += sum(1 for _ in (home.state / "results").glob("*.json"))
    # Every answer, either way it went: (time, actor).
    timeline = sorted(
        [*answers.seen] + [(at, side.actor_of.get(n, "?")) for n, at in side.answered_at.items()]
    )
    times = [t for t, _ in timeline]
    by_actor: dict[str, list[float]] = {}
    for t, actor in timeline:
        by_actor.setdefault(actor, []).append(t)

    kill_log: list[dict[str, Any]] = []  # each kill: what, when, how long until served

    def logged(
        kind: str, what: str, killed: float, answer: float | None, ready: float | None
    ) -> None:
        kill_log.append(
            {
                "kind": kind,
                "what": what,
                "at": round(killed, 3),
                "recovery_s": None if answer is None else round(answer - killed, 3),
                "ready_s": None if ready is None else round(ready - killed, 3),
            }
        )

    worker_recovery, worker_ready = [], []
    for killed, node in worker_kills:
        node_times = sorted(t for a in actors_of[node] for t in by_actor.get(a, []))
        answer = first_after(node_times, killed)
        if answer is not None:
            worker_recovery.append(answer - killed)
        ready = first_after(starts[node], killed)
        if ready is not None:
            worker_ready.append(ready - killed)
        logged("worker", node, killed, answer, ready)
    telegram_times = sorted(side.answered_at.values())
    listener_recovery, listener_ready = [], []
    readies = sorted(
        e["ts"]
        for e in events(side.home)
        if e.get("event") == "listener.ready" and e.get("channel") == "telegram"
    )
    for killed in side.kill_times:
        answer = first_after(telegram_times, killed)
        if answer is not None:
            listener_recovery.append(answer - killed)
        ready = first_after(readies, killed)
        if ready is not None:
            listener_ready.append(ready - killed)
        logged("listener", "telegram", killed, answer, ready)
    server_recovery, server_back, during = [], [], 0
    for killed, back, name in server_kills:
        answer = first_after(times, killed)
        if answer is not None:
            server_recovery.append(answer - killed)
        if back is not None:
            server_back.append(back - killed)
            during += sum(1 for t in times if killed < t < back)
        logged("server", name, killed, answer, back)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    figures: dict[str, Any] = {
        "cli_messages": len(expected),
        "replies": sum(1 for i in expected if i in ledger.delivered),
        "lost": len(lost),
        "duplicated": len(doubled),
        "failed_with_reason": len(failures) - without_reason,
        "failed_without_reason": without_reason,
        # A message that came back after it was answered: the worker refuses to run it
        # again and fails it with that reason (the answer is not sent twice).
        "failed_answered_already": sum(
            1 for _key, reason, _data in failures if "was answered already" in reason
        ),
        **run_figures(ledger, runs, out_of_order, depths),
        "left_in_journal": journal,
        "server_kills": len(server_kills),
        "servers_back": sum(1 for _k, back, _n in server_kills if back is not None),
        "answers_while_a_server_was_down": during,
        "max_answer_gap_s": round(max(gaps), 3) if gaps else None,
        "lost_ids": lost[:10],
        "duplicated_ids": doubled[:10],
        "error_samples": ledger.errors[:3],
    }
    for kind, recovery, ready, ready_name in (
        ("worker", worker_recovery, worker_ready, "restart_to_ready"),
        ("listener", listener_recovery, listener_ready, "restart_to_ready"),
        ("server", server_recovery, server_back, "back_healthy"),
    ):
        figures[f"{kind}_max_recovery_s"], figures[f"{kind}_mean_recovery_s"] = spread(recovery)
        figures[f"{kind}_max_{ready_name}_s"] = spread(ready)[0]
    recoveries = [*worker_recovery, *listener_recovery, *server_recovery]
    figures["max_recovery_s"] = spread(recoveries)[0]
    figures["kill_log"] = sorted(kill_log, key=lambda k: k["at"])
    return figures
