"""What each run of a traced message did, from the actors' live files.

``tinyclaw trace`` reads timing and cost from the event log; the steps a CLI took
(its sandbox, each shell command, tool call and file edit) are in the actor's
``logs/live/<actor>.jsonl`` between the ``task.start`` marker of the message and its
``task.end``. Listing them under the trace is how an operator sees, after the fact,
that a run tried ``cat ../../.env`` and under which confinement it ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tinyclaw.core.home import Home
from tinyclaw.runners.live_log import live_path
from tinyclaw.teams.texts import one_line

STEP_KINDS = {"sandbox": "sandbox:", "command": "$", "tool": "tool", "file_change": "edit"}
MAX_STEPS = 50  # per run: a trace is a summary; the live file has the rest


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The rotated file first, then the current one; an unreadable line is skipped."""
    for candidate in (path.with_name(path.name + ".1"), path):
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def steps_of(records: Iterable[dict[str, Any]], message_id: str) -> list[str]:
    """The step lines of ``message_id``'s runs in one actor's live records."""
    steps: list[str] = []
    inside = False
    for record in records:
        kind = record.get("kind")
        if kind == "task.start":
            inside = record.get("id") == message_id
        elif kind == "task.end":
            inside = False
        elif inside and kind in STEP_KINDS and len(steps) < MAX_STEPS:
            steps.append(f"{STEP_KINDS[str(kind)]} {one_line(str(record.get('text', '')), 160)}")
    return steps


def run_steps(home: Home, events: Iterable[dict[str, Any]], ids: set[str]) -> list[str]:
    """Lines for every run of ``ids`` the event log knows of, indented under a head."""
    runs = []
    for event in events:
        if event.get("event") == "run.start" and event.get("id") in ids:
            run = (str(event.get("actor")), str(event.get("id")))
            if run not in runs:
                runs.append(run)
    lines = []
    for actor, message_id in runs:
        steps = steps_of(_records(live_path(home, actor)), message_id)
        if steps:
            lines.append(f"steps of @{actor} for {message_id}:")
            lines += [f"    {step}" for step in steps]
    return lines
