"""A team conversation as a Markdown transcript anyone can read.

Rendered from the state alone after every change and written beside it
(``state/conversations/<id>.md``), so it is always as current as the state and a
replay rewrites it identically. On a home whose queue is on NATS the state is shared
by the worker nodes and each node writes the transcript into its own home whenever
it changes the state: the node that made the last step (the lead's, for the final
answer) holds the whole story.
"""

from __future__ import annotations

import time
from pathlib import Path

from tinyclaw.core import atomic_write
from tinyclaw.teams.conversations import Conversation, Entry, check_id


def stamp(at: float, *, date: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return time.strftime(fmt, time.localtime(at))


def _heading(entry: Entry) -> str:
    who = "user" if entry.actor == "user" else f"@{entry.actor}"
    if entry.kind == "request":
        return f"{who} → @{entry.to}"
    if entry.kind == "handoff":
        return f"{who} → @{entry.to} (task {entry.branch}, hop {entry.hop})"
    if entry.kind == "refused":
        return f"{who} ✗ @{entry.to} (task {entry.branch} not delivered)"
    if entry.kind == "answer":
        return f"{who} → @{entry.to} (answer to {entry.branch})"
    if entry.kind == "fanin":
        return f"all answers → @{entry.to}"
    if entry.kind == "final":
        return f"{who} → user (final answer)"
    if entry.kind == "limit":
        return "stopped by a limit"
    if entry.kind == "cancelled":
        return "cancelled"
    return f"{who}: after the end"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines()) or "> (empty)"


def render_transcript(conversation: Conversation) -> str:
    c = conversation
    status = c.status + (f" ({c.end_reason})" if c.end_reason else "")
    took = f", {c.ended_at - c.started_at:.1f}s" if c.ended_at is not None else ""
    lines = [
        f"# Team conversation {c.id}",
        "",
        f"- chat: {c.channel}:{c.chat_id}" + (f" · team: {c.team}" if c.team else ""),
        f"- started: {stamp(c.started_at, date=True)} by a message to @{c.root_actor}",
        f"- status: {status} · {c.runs} CLI run(s){took}",
        "",
    ]
    for entry in c.log:
        lines.append(f"## {stamp(entry.at)} · {_heading(entry)}")
        lines.append("")
        if entry.kind in ("handoff", "request", "answer", "final", "refused"):
            lines.append(_quote(entry.text))
        else:
            lines.append(entry.text)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


class TranscriptFiles:
    """Writes a conversation's transcript as ``<folder>/<id>.md`` each time its state
    is saved (a store's ``saved`` hook: under the conversation's lock, so in order)."""

    def __init__(self, folder: Path, *, durable: bool = True) -> None:
        self.folder = folder
        self.durable = durable

    def __call__(self, conversation: Conversation) -> None:
        text = render_transcript(conversation).encode("utf-8")
        atomic_write(self.folder / f"{check_id(conversation.id)}.md", text, durable=self.durable)
