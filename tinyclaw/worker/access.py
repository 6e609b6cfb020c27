"""The worker's second look at who sent a message (defence in depth).

The listener's gate already kept strangers out of the queue, but the worker cannot
rely on that alone: a sender may have been revoked between queueing and running, a
file may have been dropped into ``queue/incoming`` by hand or by a buggy listener,
and a paired user may address an actor their profile does not include. So before a
message from a chat platform is routed, the worker asks pairing again:

* a sender who is not allowed (unknown, pending, revoked, locked out, or anyone when
  the store is unreadable) gets *nothing*: no CLI run and no reply; the file goes to
  ``failed/`` with the reason ``sender not paired ...`` so the owner can see it;
* an allowed sender addressing an actor their profile may not use gets one short
  error reply and no run.

A profile's actor limit covers the whole conversation: an actor's handoff to one the
person who started the conversation may not use is refused (the actor is told, as for
a stranger), and so is ``/reset`` of such an actor. A profile that names a team may
use every member of that team, so its handoffs inside the team go through.

Only what a person typed on a platform is checked: ``kind`` ``chat`` or ``command``
on ``telegram``/``discord``/``whatsapp``. Messages the home makes itself (the
terminal's ``cli`` channel, schedules, heartbeats, operator lines, hand-offs between
actors) come from whoever owns the home and pass. The store is read for every
message (one small read, parsed only when it changed), so a revocation counts for the
very next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tinyclaw.config import Config
from tinyclaw.core import Home, Inbound, PairingError, parse_address
from tinyclaw.pairing import PLATFORM_CHANNELS
from tinyclaw.spool import Spool
from tinyclaw.teams import teams_of
from tinyclaw.worker.commands import CommandContext, WorkerView, overview

if TYPE_CHECKING:
    from tinyclaw.pairing import Clock, Identity, PairingService
    from tinyclaw.teams import Conversation

log = logging.getLogger("tinyclaw.pairing")

# What a listener writes on a person's behalf; every other kind is made by the home.
FROM_PEOPLE = frozenset({"chat", "command", "approval"})
NOT_PAIRED = "sender not paired"


class WorkerAccess:
    """Answers the worker's two questions; see the module docstring."""

    def __init__(
        self, pairing: PairingService | Callable[[], PairingService], config: Config
    ) -> None:
        """``pairing``: the service, or how to build it at its first use."""
        self._pairing: PairingService | None = None
        self._build: Callable[[], PairingService] | None = None
        self._building = threading.Lock()
        if callable(pairing):
            self._build = pairing
        else:
            self._pairing = pairing
        self.config = config

    @property
    def pairing(self) -> PairingService:
        """The home's pairing service. Built on first use: only a message from a chat
        platform (or an owner's command) needs it, and the pairing package is a fair
        part of a worker's start."""
        with self._building:  # the loop and a run thread may both ask first
            if self._pairing is None:
                assert self._build is not None
                self._pairing = self._build()
            return self._pairing

    @classmethod
    def for_home(
        cls, home: Home, config: Config, spool: Spool | None = None, *, now: Clock | None = None
    ) -> WorkerAccess:
        """The check of ``home``: its pairing store (in ``spool``'s buckets when the
        queue is on NATS) and ``tinyclaw.toml``, with approvals from chat announced
        through the outgoing queue. ``now`` is the clock that decides
        expiry and lockouts (tests pass one they move; the worker takes the default)."""

        def build() -> PairingService:
            from tinyclaw.pairing import pairing_service, queue_notifier, utc_now

            notify = queue_notifier(home, spool)
            return pairing_service(home, config, notify=notify, now=now or utc_now, spool=spool)

        return cls(build, config)

    @staticmethod
    def applies_to(message: Inbound) -> bool:
        return message.channel in PLATFORM_CHANNELS and message.kind in FROM_PEOPLE

    def refuse_sender(self, message: Inbound) -> str | None:
        """None if the message may go on; otherwise the reason for ``failed/``."""
        if not self.applies_to(message):
            return None
        from tinyclaw.pairing import sender_identity

        try:
            ident = sender_identity(message)
        except PairingError as exc:
            return f"{NOT_PAIRED}: {exc}"
        assert ident is not None  # applies_to() admits platform channels only
        decision = self.pairing.check(ident)
        if decision.allowed:
            return None
        log.warning("worker: refused %s from %s (%s)", message.id, ident, decision.reason)
        return f"{NOT_PAIRED}: {ident} is {decision.state.value} ({decision.reason})"

    def refuse_actor(self, message: Inbound, actor: str) -> str | None:
        """None if the sender may use ``actor``; otherwise a short reply for them.

        A profile's actor list may name the actor or the team it was reached through
        (``@devs`` runs the team's leader), so either name lets the message through.
        """
        if not self.applies_to(message):
            return None
        from tinyclaw.pairing import sender_identity

        ident = sender_identity(message)
        assert ident is not None
        addressed = message.actor or parse_address(message.text)[0] or self.config.default_actor
        if self.pairing.may_use(ident, actor) or self.pairing.may_use(ident, addressed):
            return None
        log.warning("worker: %s may not use @%s (%s)", ident, addressed, message.id)
        decision = self.pairing.check(ident)
        allowed = decision.profile.actors if decision.profile is not None else ()
        choice = ", ".join("@" + name for name in allowed)
        return f"Sorry, you may not use @{addressed}." + (
            f" You may talk to: {choice}." if choice else ""
        )

    def _may_reach(self, ident: Identity, actor: str, via: str | None = None) -> bool:
        """Whether ``ident``'s profile names ``actor``, the name ``via`` it was reached
        by, or a team ``actor`` is a member of."""
        names = [actor, *([via] if via else []), *teams_of(self.config, actor)]
        return any(self.pairing.may_use(ident, name) for name in names)

    def refuse_handoff(self, conversation: Conversation, actor: str) -> str | None:
        """None if the person who started ``conversation`` may have ``actor`` run;
        else why not, for the actor that handed off. Conversations the home started
        (the terminal, a schedule) have no such limit."""
        if conversation.channel not in PLATFORM_CHANNELS or conversation.sender_id is None:
            return None
        from tinyclaw.pairing import Identity

        try:
            ident = Identity(conversation.channel, conversation.sender_id)
        except PairingError as exc:
            return f"the person who asked cannot be checked ({exc})"
        if self._may_reach(ident, actor):
            return None
        log.warning("worker: %s may not use @%s (handoff in %s)", ident, actor, conversation.id)
        return f"the person who asked may not use @{actor}"

    def refuse_reset(self, message: Inbound, actor: str, name: str | None) -> str | None:
        """``/reset @name`` (resolved to ``actor``): None if the sender may use it."""
        if not self.applies_to(message):
            return None
        from tinyclaw.pairing import sender_identity

        ident = sender_identity(message)
        assert ident is not None
        if self._may_reach(ident, actor, name):
            return None
        return f"Sorry, you may not use @{name or actor}."

    def equip(self, context: CommandContext, worker: WorkerView) -> CommandContext:
        """The command context with what owner commands need: the pairing service
        (``/approve``, ``/deny``, ``/pending``) and the whole worker (``/status``),
        and the profile check ``/reset`` makes."""
        return replace(
            context,
            pairing=self.pairing,
            overview=lambda asking: overview(worker, asking),
            refuse_reset=self.refuse_reset,
        )
