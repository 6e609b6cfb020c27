"""``tinyclaw trace``: the path a message took, who got what, when, how long each run
took and what it cost.

Two sources, both already on disk: the conversation state (who handed what to whom,
the answers, the end) and the event log's ``run.start``/``run.end`` lines (timing and
cost per message id). A message outside any team conversation is traced from the
event log alone. Below the timeline come the steps each run took (its sandbox, its
commands), from the actors' live files.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tinyclaw.core import ConversationError, EventLog, Home
from tinyclaw.teams.conversations import Conversation, Conversations, ConversationStore, Entry
from tinyclaw.teams.texts import one_line
from tinyclaw.teams.trace_steps import run_steps


@dataclass(frozen=True)
class Line:
    at: float
    text: str


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def _money(cost: Any) -> str:
    return f"${cost:.4f}" if isinstance(cost, (int, float)) else "$?"


def _entry_line(entry: Entry) -> str:
    text = f'"{one_line(entry.text, 80)}"'
    if entry.kind == "request":
        return f"user → @{entry.to}: {text}"
    if entry.kind == "handoff":
        return f"@{entry.actor} → @{entry.to}  [{entry.branch}, hop {entry.hop}]: {text}"
    if entry.kind == "refused":
        return f"@{entry.actor} ✗ @{entry.to}  [{entry.branch}] not delivered"
    if entry.kind == "answer":
        return f"@{entry.actor} → @{entry.to}  answer to [{entry.branch}]: {text}"
    if entry.kind == "fanin":
        return f"fan-in → @{entry.to}: {entry.text}"
    if entry.kind == "final":
        return f"@{entry.actor} → user  final answer: {text}"
    return f"{entry.kind}: {one_line(entry.text, 100)}"


def _run_lines(events: Iterable[dict[str, Any]], ids: set[str]) -> tuple[list[Line], float]:
    lines, total = [], 0.0
    for event in events:
        if event.get("event") != "run.end" or event.get("id") not in ids:
            continue
        duration = event.get("duration")
        took = f"{duration:.2f}s" if isinstance(duration, (int, float)) else "?s"
        status = "ok" if event.get("ok") else f"failed ({event.get('error')})"
        cost = event.get("cost")
        total += cost if isinstance(cost, (int, float)) else 0.0
        at = float(event.get("ts", 0)) - (duration if isinstance(duration, (int, float)) else 0)
        text = f"  @{event.get('actor')} ran {took} · {_money(cost)} · {status}  ({event['id']})"
        lines.append(Line(at, text))
    return lines, total


def _live_lines(events: Iterable[dict[str, Any]], ids: set[str]) -> list[Line]:
    """What the owner did to a live run: steering lines, permission questions and
    every decision on them (who answered, or that nobody did in time)."""
    lines = []
    for event in events:
        if event.get("id") not in ids:
            continue
        kind, actor = event.get("event"), event.get("actor")
        if kind == "steer.delivered":
            text = f"  steered @{actor} (by {event.get('by')})"
        elif kind == "approval.asked":
            text = f"  @{actor} asked to use {event.get('tool')}: {one_line(str(event.get('detail')), 80)}"
        elif kind == "approval.decided":
            text = f"  approval {event.get('decision')} for {event.get('tool') or '?'} by {event.get('by')}"
        else:
            continue
        lines.append(Line(float(event.get("ts", 0)), text))
    return lines


def conversation_ids(conversation: Conversation) -> set[str]:
    """Every message id that belongs to the conversation."""
    ids = {conversation.id, *conversation.outcomes, *conversation.started}
    ids.update(b.message_id for b in conversation.branches.values() if b.message_id)
    ids.update(r.fanin_id for r in conversation.rounds.values())
    return ids


def trace_conversation(conversation: Conversation, events: list[dict[str, Any]]) -> list[str]:
    c = conversation
    runs, cost = _run_lines(events, conversation_ids(c))
    took = (c.ended_at or time.time()) - c.started_at
    head = (
        f"conversation {c.id} · {c.channel}:{c.chat_id}"
        + (f" · team {c.team}" if c.team else "")
        + f" · {c.status}"
        + (f" ({c.end_reason})" if c.end_reason else "")
        + f" · {c.runs} run(s) · {took:.1f}s · {_money(cost)}"
    )
    timeline = [Line(e.at, _entry_line(e)) for e in c.log] + runs
    timeline += _live_lines(events, conversation_ids(c))
    timeline.sort(key=lambda line: line.at)
    return [head, *(f"{_clock(line.at)}  {line.text}" for line in timeline)]


def trace_message(events: list[dict[str, Any]], message_id: str) -> list[str]:
    mine = [e for e in events if e.get("id") == message_id]
    if not mine:
        raise ConversationError(f"no conversation or message {message_id!r} in this home")
    lines = [f"message {message_id} (not part of a team conversation)"]
    for event in mine:
        at = float(event.get("ts", 0))
        if event.get("event") == "routed":
            where = f"{event.get('channel')}:{event.get('chat')}"
            lines.append(f"{_clock(at)}  routed to @{event.get('actor')} from {where}")
        elif event.get("event") == "run.start":
            lines.append(f"{_clock(at)}  @{event.get('actor')} started")
    runs, _ = _run_lines(mine, {message_id})
    later = sorted(runs + _live_lines(mine, {message_id}), key=lambda line: line.at)
    lines += [f"{_clock(line.at + 0)}  {line.text.strip()}" for line in later]
    return lines


def trace(home: Home, ident: str, store: Conversations | None = None) -> list[str]:
    """The lines ``tinyclaw trace <ident>`` prints; ConversationError if unknown.
    ``store``: where the conversations are (default: the home's files)."""
    events = list(EventLog(home.logs / "events.jsonl").read())
    conversation = (store or ConversationStore(home.state / "conversations")).find(ident)
    if conversation is None:
        lines, ids = trace_message(events, ident), {ident}
    else:
        lines, ids = trace_conversation(conversation, events), conversation_ids(conversation)
    return lines + run_steps(home, events, ids)


# -- the same, as data (``tinyclaw trace --json``) --------------------------------


def _run_records(events: Iterable[dict[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    records = []
    for event in events:
        if event.get("event") != "run.end" or event.get("id") not in ids:
            continue
        duration = event.get("duration")
        cost = event.get("cost")
        records.append(
            {
                "id": event["id"],
                "actor": event.get("actor"),
                "ended_at": event.get("ts"),
                "duration": duration if isinstance(duration, (int, float)) else None,
                "cost_usd": round(cost, 6) if isinstance(cost, (int, float)) else None,
                "ok": bool(event.get("ok")),
                "error": event.get("error"),
            }
        )
    return records


def _total_cost(runs: list[dict[str, Any]]) -> float:
    return round(sum(r["cost_usd"] or 0.0 for r in runs), 6)


def trace_data(home: Home, ident: str, store: Conversations | None = None) -> dict[str, Any]:
    """What ``tinyclaw trace --json`` prints; ConversationError if unknown (``store``
    as for :func:`trace`)."""
    events = list(EventLog(home.logs / "events.jsonl").read())
    c = (store or ConversationStore(home.state / "conversations")).find(ident)
    if c is None:
        mine = [e for e in events if e.get("id") == ident]
        if not mine:
            raise ConversationError(f"no conversation or message {ident!r} in this home")
        routed = next((e for e in mine if e.get("event") == "routed"), None)
        runs = _run_records(mine, {ident})
        return {
            "type": "message",
            "id": ident,
            "routed": None
            if routed is None
            else {
                "at": routed.get("ts"),
                "actor": routed.get("actor"),
                "channel": routed.get("channel"),
                "chat_id": routed.get("chat"),
            },
            "runs": runs,
            "cost_usd": _total_cost(runs),
        }
    runs = _run_records(events, conversation_ids(c))
    return {
        "type": "conversation",
        "id": c.id,
        "channel": c.channel,
        "chat_id": c.chat_id,
        "team": c.team,
        "status": c.status,
        "end_reason": c.end_reason,
        "started_at": c.started_at,
        "ended_at": c.ended_at,
        "run_count": c.runs,
        "entries": [
            {
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "to": e.to,
                "branch": e.branch,
                "hop": e.hop,
                "message_id": e.message_id,
                "text": e.text,
            }
            for e in c.log
        ],
        "runs": runs,
        "cost_usd": _total_cost(runs),
    }
