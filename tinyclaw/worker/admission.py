"""What a message must be to run at all: its ``kind`` fits the rest of it, and its
``not_before`` is a time a retry could have set. Checked before anything runs.

Listeners write ``chat`` and ``command``; the home writes the other kinds itself
(operator lines, hand-offs and fan-ins between actors, schedules, heartbeats). A file
made by hand may claim any kind, and two kinds change what the worker does with it:

* ``operator`` passes pairing's second look, because only the owner types in an
  actor's window; on any channel but that window's it would let a stranger's message
  through, so it is refused there, unless its sender is the window itself (a line
  the owner steered into that chat's conversation);
* ``handoff`` and ``fanin`` belong to a team conversation. Without hand-off data, or
  naming a conversation that is not an id or does not exist, the run's result would
  have nowhere to go (the CLI would run at a cost, and its answer be thrown away).

A ``not_before`` is only ever set by a retry's backoff; one far beyond the longest
backoff (``1e300``: the file was made by hand) would hold the actor's inbox, and every
message behind it, for good.

Such a file can never succeed: it goes to ``failed/`` with the reason, at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tinyclaw.config import WorkerConfig
from tinyclaw.core.messages import ID_PATTERN, Inbound

OPERATOR_CHANNEL = "operator"  # lines typed in an actor's tmux window (launcher/watch.py)
# The sender of a line the owner steered into a chat's conversation while its actor was
# idle (worker/steering.py): no platform has such a user id, so no listener writes it.
OPERATOR_SENDER = "operator"
TEAM_KINDS = frozenset({"handoff", "fanin"})
_ID_RE = re.compile(ID_PATTERN)
# How far past the longest retry wait a ``not_before`` may lie (clock changes, a slow
# disk) and still be a retry's.
NOT_BEFORE_SLACK = 3600.0


def kind_problem(message: Inbound, conversation_exists: Callable[[str], bool]) -> str | None:
    """Why ``message`` can never be run as its kind says, or None if it can."""
    if (
        message.kind == "operator"
        and message.channel != OPERATOR_CHANNEL
        and message.sender.id != OPERATOR_SENDER
    ):
        return (
            f"kind 'operator' on channel {message.channel!r}: operator lines come only from "
            f"an actor's window (channel {OPERATOR_CHANNEL!r})"
        )
    if message.kind in TEAM_KINDS and message.handoff is None:
        return (
            f"kind {message.kind!r} without handoff data: only actors of a team hand work "
            "to each other"
        )
    if message.handoff is not None:
        conversation = message.handoff.conversation
        if not _ID_RE.fullmatch(conversation):
            return f"handoff conversation {conversation!r} is not a conversation id"
        if not conversation_exists(conversation):
            return f"handoff names conversation {conversation!r}, which does not exist"
    return None


def far_not_before(message: Inbound, worker: WorkerConfig, now: float) -> str | None:
    """Why the message's ``not_before`` is no retry's, or None if it may be: it lies
    beyond the longest wait ``retry_backoff`` and ``max_attempts`` can set."""
    if message.not_before is None:
        return None
    longest = worker.retry_backoff * 2.0**worker.max_attempts + NOT_BEFORE_SLACK
    wait = message.not_before - now
    if wait <= longest:
        return None
    return (
        f"not_before is {wait:.3g} s away, beyond the longest retry wait "
        f"({longest:.0f} s); it would hold this actor's inbox for good"
    )
