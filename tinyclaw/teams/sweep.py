"""TeamSweep: the worker service that ends team conversations nothing will finish.

The planner checks the limits when a message of a conversation is about to run. That
is not enough: when nothing runs any more, nothing checks. A branch whose task message
went to ``queue/failed/`` (it killed the worker ``worker.max_attempts`` times, or could
not be read) is never answered, its round never fans in, and the user waits for ever.
So every pass of this service looks at each open conversation and

* ends it, with the limit notice and what was done so far, once it has run longer
  than ``limits.budget_seconds``;
* fails each open branch whose task message lies in ``queue/failed/`` (and in no
  inbox or ``processing/``): the branch's answer says it failed, and the fan-in goes
  on without it, so the actor that asked hears about it and the conversation
  finishes;
* writes the files of an outcome it recorded before a crash but had not delivered.

It watches ``queue/failed/`` (a failed message wakes it at once) and otherwise wakes
for the earliest budget deadline, and at least every ``interval`` seconds. A
conversation once seen closed with everything delivered is not read again by this
process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core.errors import ConversationError, UnsafePathError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.spool import REASON_SUFFIX, SUFFIX, Spool
from tinyclaw.teams.coordinator import Coordinator
from tinyclaw.teams.state import Branch

log = logging.getLogger("tinyclaw.teams")

SWEEP_EVERY = 30.0


class TeamSweep:
    """End stalled team conversations (see the module docstring)."""

    name = "teams"

    def __init__(
        self,
        home: Home,
        config: Config,
        spool: Spool,
        *,
        events: EventLog,
        clock: Callable[[], float] = time.time,
        interval: float = SWEEP_EVERY,
        min_interval: float = 1.0,
    ) -> None:
        self.config = config
        self.spool = spool
        self.coordinator = Coordinator(
            home, config, spool, events=events, clock=clock, durable=spool.durable
        )
        self.interval = interval
        self.min_interval = min_interval
        self._last: float | None = None
        self._next: float | None = None
        self._closed: set[str] = set()

    def folders(self) -> list[Path]:
        return [self.spool.failed]

    def tick(self, now: float) -> float | None:
        """Sweep every open conversation; return when the next budget runs out."""
        if self._last is not None and now - self._last < self.min_interval:
            wanted = self._last + self.min_interval
            return wanted if self._next is None else min(wanted, self._next)
        self._last = now
        wakeup = now + self.interval
        budget = self.config.limits.budget_seconds
        for conversation_id in self.coordinator.store.all_ids():
            if conversation_id in self._closed:
                continue
            try:
                conversation = self.coordinator.sweep(conversation_id, now, self._gave_up)
            except ConversationError as exc:
                log.warning("sweep of conversation %s: %s", conversation_id, exc)
                self._closed.add(conversation_id)  # unreadable: the worker reports it
                continue
            if conversation is None:
                continue
            if conversation.status != "open":
                if all(o.delivered for o in conversation.outcomes.values()):
                    self._closed.add(conversation_id)
                continue
            wakeup = min(wakeup, conversation.started_at + budget + 0.01)
        self._next = wakeup
        return wakeup

    def _gave_up(self, branch: Branch) -> str | None:
        """Why ``branch``'s task message was set aside in ``queue/failed/``, or None
        while it may still run (it is in its actor's inbox or being run, or nowhere)."""
        assert branch.message_id is not None
        name = branch.message_id + SUFFIX
        try:
            boxes = (self.spool.inbox(branch.to_actor), self.spool.processing(branch.to_actor))
        except UnsafePathError:
            return None
        if any((box / name).exists() for box in boxes):
            return None
        # ``Spool.fail`` keeps the name, or adds ``.<unique>`` when it is taken.
        found = [self.spool.failed / name] if (self.spool.failed / name).exists() else []
        found += sorted(self.spool.failed.glob(f"{branch.message_id}.*{SUFFIX}"))
        if not found:
            return None
        return _reason(found[0])


def _reason(path: Path) -> str:
    try:
        raw = json.loads(path.with_name(path.name + REASON_SUFFIX).read_bytes())
        reason = raw.get("reason") if isinstance(raw, dict) else None
    except (OSError, ValueError, RecursionError):  # a reason file made by hand
        reason = None
    return str(reason) if reason else "it was moved to queue/failed/"
