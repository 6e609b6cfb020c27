"""Lines for an actor's window: pure functions from records to text.

Three sources feed the window and each has its own shape: the actor's live progress
file (``task.start``, then the CLI's events), the event log (``routed``,
``run.start``, ``run.end`` with duration and cost) and the operator's replies. Keeping
the wording here, away from the polling loop, makes it testable as plain strings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tinyclaw.core.printable import printable

ICONS = {
    "start": "·",
    "sandbox": "▣",
    "text": "…",
    "tool": "⚙",
    "command": "$",
    "file_change": "✎",
    "result": "✔",
    "error": "✖",
}
COLORS = {
    "dim": "2",
    "bold": "1",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


@dataclass(frozen=True)
class Style:
    """Colours a piece of text; the text itself is made :func:`printable` first, so
    every styled fragment is safe whatever it came from."""

    color: bool = True

    def __call__(self, text: str, *names: str) -> str:
        text = printable(text)
        if not self.color or not names:
            return text
        codes = ";".join(COLORS[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"


def clock(ts: Any) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError, OverflowError):
        return "--:--:--"


def _indent(text: str, max_lines: int, prefix: str = "    ") -> list[str]:
    lines = printable(text.rstrip()).splitlines() or [""]
    shown = lines[:max_lines]
    out = [prefix + line for line in shown]
    if len(lines) > max_lines:
        out.append(f"{prefix}… ({len(lines) - max_lines} more lines)")
    return out


def money(value: Any) -> str:
    return f"${value:.4f}" if isinstance(value, (int, float)) else ""


def task_header(record: dict[str, Any], s: Style) -> list[str]:
    """``▶`` when the actor takes a message: who sent it and what it says."""
    origin = ""
    if record.get("from_actor"):
        origin = f" from @{record['from_actor']}"
    elif record.get("channel"):
        who = f" ({record['sender']})" if record.get("sender") else ""
        origin = f" from {record['channel']}:{record.get('chat_id', '?')}{who}"
    head = s(f"▶ {clock(record.get('ts'))}  took {record.get('id', '?')}{origin}", "bold", "cyan")
    lines = [head]
    if record.get("text"):
        lines += [s(line, "cyan") for line in _indent(str(record["text"]), 6)]
    return lines


def progress(record: dict[str, Any], s: Style, *, repeated: bool = False) -> list[str]:
    """One CLI event from the live file; ``repeated``: the answer's text was just shown
    as the CLI's last message, so only its header is printed."""
    kind = str(record.get("kind", "?"))
    text = str(record.get("text", ""))
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    assert isinstance(data, dict)
    icon = ICONS.get(kind, "?")
    stamp = clock(record.get("ts"))
    if kind == "start":
        session = data.get("session_id")
        resumed = f", resuming {session}" if data.get("resume") and session else ""
        return [s(f"  {icon} {stamp}  {text}{resumed}", "dim")]
    if kind == "sandbox":
        if data.get("confined"):
            return [s(f"  {icon} {stamp}  {text[:300]}", "dim")]
        return [s(f"  {icon} {stamp}  {text[:300]}", "red", "bold")]  # worth a glance
    if kind == "text":
        return [s(f"  {icon} {stamp}", "dim"), *_indent(text, 8)]
    if kind == "command":
        lines = [
            s(f"  {icon} {stamp}  ", "dim")
            + s(text.splitlines()[0][:300] if text else "", "yellow")
        ]
        if data.get("exit_code") is not None:
            lines.append(s(f"      exit {data['exit_code']}", "dim"))
        return lines
    if kind == "file_change":
        return [s(f"  {icon} {stamp}  ", "dim") + s(text[:300], "magenta")]
    if kind == "tool":
        return [s(f"  {icon} {stamp}  ", "dim") + s(text[:300], "blue")]
    if kind == "result":
        cost = money(data.get("cost_usd"))
        head = s(f"  {icon} {stamp}  answer" + (f" ({cost})" if cost else ""), "green", "bold")
        if repeated:
            return [head + s("  (the text above)", "dim")]
        return [head, *_indent(text, 30)]
    if kind == "error":
        return [s(f"  {icon} {stamp}  error: ", "red", "bold") + s(text[:500], "red")]
    return _outcome(kind, text, data, stamp, s)


def _outcome(kind: str, text: str, data: dict[str, Any], stamp: str, s: Style) -> list[str]:
    """How a tool call ended, a steering line, an approval: marked, never passed off
    as a step that simply ran."""
    reason = str(data.get("reason") or "")
    if kind == "tool_denied":
        return [
            s(f"  ✖ {stamp}  denied: ", "red", "bold") + s(f"{text[:200]}  {reason[:200]}", "red")
        ]
    if kind == "tool_failed":
        return [s(f"  ✖ {stamp}  failed: ", "red") + s(f"{text[:200]}  {reason[:200]}", "red")]
    if kind == "command_done":
        status, code = data.get("status"), data.get("exit_code")
        if status == "declined":
            return [s(f"  ✖ {stamp}  denied: ", "red", "bold") + s(text[:300], "red")]
        if status == "failed" or (isinstance(code, int) and code != 0):
            return [s(f"  ✖ {stamp}  failed (exit {code}): ", "red") + s(text[:300], "red")]
        return []
    if kind == "steer":
        return [s(f"  ➜ {stamp}  steered by {data.get('by', 'owner')}: ", "yellow") + s(text[:300])]
    if kind == "model":
        return [s(f"  ⇄ {stamp}  model switched to {text[:100]}", "yellow")]
    if kind == "approval":
        return [s(f"  ? {stamp}  asks permission: {text[:300]}", "yellow", "bold")]
    if kind == "approval.decided":
        color = "green" if str(data.get("decision", "")).startswith("allow") else "red"
        return [s(f"  ! {stamp}  permission {text[:300]}", color)]
    return [s(f"  ? {stamp}  {kind}: {text[:300]}", "dim")]


def logged(event: dict[str, Any], s: Style) -> list[str]:
    """An event-log record about this actor (routing and run boundaries)."""
    kind = event.get("event")
    stamp = clock(event.get("ts"))
    if kind == "routed":
        origin = f"{event.get('channel', '?')}:{event.get('chat', '?')}"
        return [s(f"✉ {stamp}  queued {event.get('id', '?')} from {origin}", "dim")]
    if kind == "run.end":
        seconds = event.get("duration")
        took = f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "?"
        cost = money(event.get("cost"))
        if event.get("ok"):
            tail = f"  {cost}" if cost else ""
            return [s(f"■ {stamp}  done in {took}{tail}", "green"), ""]
        return [s(f"■ {stamp}  failed after {took}: {event.get('error') or 'error'}", "red"), ""]
    if kind == "spend.limit":
        limit, spent = event.get("limit", "?"), money(event.get("spent"))
        return [
            s(f"✋ {stamp}  not run: {event.get('id', '?')}, limit {limit} reached", "yellow")
            + s(f" ({spent} spent)" if spent else "", "dim"),
            "",
        ]
    return []


def operator_sent(text: str, message_id: str, actor: str, s: Style) -> list[str]:
    return [
        s(f"▷ you → @{actor}: ", "bold", "yellow") + printable(text),
        s(f"  queued as {message_id}", "dim"),
    ]


def steer_sent(text: str, conversation: str, actor: str, s: Style) -> list[str]:
    return [
        s(f"▷ you → @{actor}: ", "bold", "yellow") + printable(text),
        s(f"  steering ({conversation})", "dim"),
    ]


def operator_reply(
    actor: str, text: str, kind: str, ts: float, s: Style, *, repeated: bool = False
) -> list[str]:
    """The answer to the operator; ``repeated``: it is the answer just shown."""
    color = "red" if kind == "error" else "green"
    label = "" if kind == "reply" else f" ({kind})"
    head = s(f"◀ {clock(ts)}  @{actor} → you{label}", "bold", color)
    if repeated:
        return [head + s(": the answer above", "dim"), ""]
    return [head, *_indent(text, 60), ""]
