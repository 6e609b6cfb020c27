"""TeamSweep: the worker service that ends team conversations nothing will finish.

The planner checks the limits when a message of a conversation is about to run. That
is not enough: when nothing runs any more, nothing checks. A branch whose task message
was set aside among the failed (it killed the worker ``worker.max_attempts`` times,
or could not be read) is never answered, its round never fans in, and the user waits
for ever. So every pass of this service looks at each open conversation and

* ends it, with the limit notice and what was done so far, once it has run longer
  than ``limits.budget_seconds``;
* fails each open branch whose task message was failed (and waits in no inbox and
  is not running): the branch's answer says it failed, and the fan-in goes on
  without it, so the actor that asked hears about it and the conversation finishes;
* writes the files of an outcome it recorded before a crash but had not delivered.

It asks the spool where a task message is (``locate``), never its folders, so it
works on either backend. On files it watches ``queue/failed/`` (a failed message
wakes it at once); it otherwise wakes for the earliest budget deadline, and at least
every ``interval`` seconds (30; 5 on NATS, where no watcher wakes it). A conversation once seen closed with everything
delivered is not read again by this process.

**Several worker nodes (NATS).** Every node runs a sweep, and conversations are
shared (a key-value bucket), so each node sweeps only the conversations whose lead
(the actor the user wrote to) it runs. One node acts on a conversation, so its limit
notice or fan-in is written once; a conversation whose lead's node is down is not
swept meanwhile, and no step of it could run anyway (the lead answers the user).
The shared store's compare-and-set is the second guard: were two sweeps ever to
decide at once, only one decision is stored, and the other is made again on the
stored state, where there is nothing left to decide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core import ConversationError, EventLog, Home, UnsafePathError
from tinyclaw.spool import Spool
from tinyclaw.teams.conversations import Branch
from tinyclaw.teams.coordinator import Coordinator

log = logging.getLogger("tinyclaw.teams")

SWEEP_EVERY = 30.0
UNWATCHED_SWEEP_EVERY = 5.0  # no folder to watch (NATS): look this often instead


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
        interval: float | None = None,
        min_interval: float = 1.0,
        leads: frozenset[str] | None = None,
    ) -> None:
        """``leads``: sweep only conversations whose lead is one of these actors
        (default: the actors a worker node's spool serves; every one on files)."""
        self.config = config
        self.spool = spool
        self.leads = leads if leads is not None else _served(spool)
        durable = spool.durable if isinstance(spool, Spool) else True
        self.coordinator = Coordinator(
            home, config, spool, events=events, clock=clock, durable=durable
        )
        watched = isinstance(spool, Spool)
        self.interval = interval or (SWEEP_EVERY if watched else UNWATCHED_SWEEP_EVERY)
        self.min_interval = min_interval
        self._last: float | None = None
        self._next: float | None = None
        self._closed: set[str] = set()

    def folders(self) -> list[Path]:
        """``queue/failed/`` on files; nothing to watch on NATS (the timer does)."""
        return [self.spool.failed] if isinstance(self.spool, Spool) else []

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
            if self.leads is not None and not self._leads(conversation_id):
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

    def _leads(self, conversation_id: str) -> bool:
        """Whether this node runs the conversation's lead (see the module docstring).
        Another node's conversation is not looked at again by this process."""
        assert self.leads is not None
        try:
            conversation = self.coordinator.store.load(conversation_id)
        except ConversationError:
            return True  # the sweep reports it
        if conversation is None or conversation.root_actor in self.leads:
            return True
        self._closed.add(conversation_id)
        return False

    def _gave_up(self, branch: Branch) -> str | None:
        """Why ``branch``'s task message was set aside among the failed, or None
        while it may still run (it is in its actor's inbox or being run, or nowhere)."""
        assert branch.message_id is not None
        try:
            where = self.spool.locate(branch.to_actor, branch.message_id)
        except UnsafePathError:
            return None
        return where.reason if where.state == "failed" else None


def _served(spool: Spool) -> frozenset[str] | None:
    """The actors a worker node's spool serves (None: every actor, as on files)."""
    if isinstance(spool, Spool):
        return None
    actors = getattr(spool, "actors", None)
    return frozenset(actors) if actors is not None else None
