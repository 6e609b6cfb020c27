"""Steering lines for an actor that is not running: the next turn of a conversation.

A line typed into an actor's window while the actor is idle (or that arrived just as
its run ended, too late for the CLI) is not lost: it becomes an ``operator`` message
in the actor's inbox, in the conversation the line names, else the one the actor
last worked on (``state/live/<actor>.json``), else the window's own ``operator``
conversation. The answer goes to that conversation's chat, as any answer would.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyclaw.config import Config
from tinyclaw.core import (
    EventLog,
    Home,
    Inbound,
    InvalidFileError,
    Sender,
    SteerLine,
    failpoint,
    note_conversations,
    pending_steers,
    read_steer,
    recent_conversations,
)
from tinyclaw.spool import Spool
from tinyclaw.worker.admission import OPERATOR_SENDER

log = logging.getLogger("tinyclaw.worker")
OPERATOR = "operator"


class IdleSteering:
    def __init__(self, home: Home, config: Config, spool: Spool, events: EventLog) -> None:
        self.home = home
        self.config = config
        self.spool = spool
        self.events = events

    def pass_on(self, idle: list[str]) -> None:
        """Queue the waiting lines of each idle actor as messages (loop thread only:
        the same thread starts runs, so no run takes a line in between). An actor with
        messages in its inbox is not idle: its next run takes the lines."""
        for actor in idle:
            lines = pending_steers(self.home, actor)
            if not lines or next(self.spool.pending(actor), None) is not None:
                continue  # nothing to pass on, or a run is about to start and take it
            for path in lines:
                try:
                    line = read_steer(path)
                except FileNotFoundError:
                    continue
                except (OSError, InvalidFileError) as exc:
                    log.warning("@%s: dropping a bad steering file %s: %s", actor, path.name, exc)
                    path.unlink(missing_ok=True)
                    continue
                self._queue(actor, line)

    def _queue(self, actor: str, line: SteerLine) -> None:
        channel, chat_id, key = OPERATOR, actor, None
        recent = recent_conversations(self.home, actor)
        chosen = next((e for e in recent if e["key"] == line.conversation), None)
        if chosen is None and line.conversation is None and recent:
            chosen = recent[0]
        if chosen is not None:
            channel, chat_id = str(chosen.get("channel")), str(chosen.get("chat_id"))
            key = chosen["key"] if chosen["key"] != f"{channel}:{chat_id}" else None
        message = Inbound(
            id=line.id,
            channel=channel,
            chat_id=chat_id,
            sender=Sender(id=OPERATOR_SENDER, name=line.by),  # admission lets it pass
            text=line.text,
            kind="operator",
            actor=actor,
            conversation=key,
        )
        # Routed like any message (the event log says where it went); keyed by the
        # line's id, so a crash between put and unlink cannot queue it twice.
        self.spool.put(message, dedupe_key=f"steer:{line.id}")
        failpoint("steer.queued")
        os.unlink(line.path)
        self.events.emit(
            "steer.queued", actor=actor, steer=line.id, conversation=message.conversation_key
        )


# The recent-conversations file is rewritten at most this often per actor (seconds);
# what runs note in between is written by the next note after that, or by
# flush_notes when the worker idles.
NOTE_EVERY = 1.0


@dataclass
class _Notes:
    written: float = float("-inf")  # monotonic time of the last write
    pending: list[dict[str, Any]] = field(default_factory=list)


_notes: dict[tuple[Path, str], _Notes] = {}
_notes_lock = threading.Lock()


def note_run(home: Home, actor: str, message: Inbound) -> None:
    """Remember where ``actor`` works, for the window's "lines go to …" and for the
    lines it gets while idle (a failure to write it is logged, never fatal).

    Runs that follow each other fast share one rewrite of the file (at most one per
    ``NOTE_EVERY`` seconds, and one when the worker idles)."""
    if message.kind not in ("chat", "operator", "command"):
        return
    entry = {
        "key": message.conversation_key,
        "channel": message.channel,
        "chat_id": message.chat_id,
        "sender": message.sender.name or message.sender.id,
    }
    now = time.monotonic()
    with _notes_lock:
        notes = _notes.setdefault((home.root, actor), _Notes())
        notes.pending.append(entry)
        if now - notes.written < NOTE_EVERY:
            return
        entries, notes.pending, notes.written = notes.pending, [], now
    _write_notes(home, actor, entries)


def flush_notes(home: Home) -> None:
    """Write what :func:`note_run` is holding for ``home``'s actors."""
    with _notes_lock:
        due = [
            (actor, notes.pending)
            for (root, actor), notes in _notes.items()
            if root == home.root and notes.pending
        ]
        for actor, _ in due:
            _notes[(home.root, actor)] = _Notes(time.monotonic())
    for actor, entries in due:
        _write_notes(home, actor, entries)


def _write_notes(home: Home, actor: str, entries: list[dict[str, Any]]) -> None:
    try:
        note_conversations(home, actor, entries)
    except OSError as exc:
        log.warning("cannot note @%s's conversation: %s", actor, exc)
