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

from tinyclaw.config import Config
from tinyclaw.errors import InvalidFileError
from tinyclaw.events import EventLog
from tinyclaw.failpoints import failpoint
from tinyclaw.home import Home
from tinyclaw.live_files import (
    SteerLine,
    note_conversation,
    pending_steers,
    read_steer,
    recent_conversations,
)
from tinyclaw.messages import Inbound, Sender
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


# What note_run wrote last per (home, actor), and when (monotonic): a run in the
# conversation already first in the list rewrites the file only this often.
NOTE_AGAIN_AFTER = 30.0
_noted: dict[tuple[str, str], tuple[tuple[str, ...], float]] = {}
_noted_lock = threading.Lock()


def note_run(home: Home, actor: str, message: Inbound) -> None:
    """Remember where ``actor`` works, for the window's "lines go to …" and for the
    lines it gets while idle (a failure to write it is logged, never fatal).

    A busy conversation's runs follow each other: the file is read and rewritten
    only when the conversation changes, or its entry is older than
    ``NOTE_AGAIN_AFTER`` seconds."""
    if message.kind not in ("chat", "operator", "command"):
        return
    entry = {
        "key": message.conversation_key,
        "channel": message.channel,
        "chat_id": message.chat_id,
        "sender": message.sender.name or message.sender.id,
    }
    where, what, now = (str(home.root), actor), tuple(entry.values()), time.monotonic()
    with _noted_lock:
        last = _noted.get(where)
        if last is not None and last[0] == what and now - last[1] < NOTE_AGAIN_AFTER:
            return
        _noted[where] = (what, now)
    try:
        note_conversation(home, actor, entry)
    except OSError as exc:
        with _noted_lock:
            _noted.pop(where, None)
        log.warning("cannot note @%s's conversation: %s", actor, exc)
