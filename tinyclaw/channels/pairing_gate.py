"""Pairing as the listener's gate (:class:`tinyclaw.channels.gate.Gate`).

A listener asks two questions: ``check(channel, user_id, chat_id=..., display_name=...)``
for every message (a stranger's chat and name are kept with their request) and
``handle_pair(channel, user_id, code)`` for ``/pair CODE``. This adapter answers them
from a :class:`~tinyclaw.pairing.sender_side.PairingGate`, so a listener built with
``gate=ListenerGate(pairing_service(home, config))`` needs no other change.

The Gate contract says: never raise for a stranger's input. So a user id that is not
a valid identity is simply "not allowed", and a store that is unreadable or locked
answers "not allowed" (and is logged) instead of raising into the platform loop.

One thing does raise: a store on NATS whose servers do not answer
(:class:`~tinyclaw.core.SpoolUnavailableError`, as the queue's ``put`` would). The
listener then treats the message as one it cannot queue yet: nothing of it is queued,
the sender is not answered, and the platform hands it over again, to be decided once
the servers answer. Fail-closed for strangers, and nothing lost for paired senders.
"""

from __future__ import annotations

import logging

from tinyclaw.channels.gate import GateDecision
from tinyclaw.core import PairingError
from tinyclaw.pairing import Access, Identity, PairingGate, unavailable

log = logging.getLogger("tinyclaw.pairing")


class ListenerGate:
    """Implements the listener's ``Gate`` protocol on top of pairing."""

    def __init__(self, pairing: PairingGate) -> None:
        self.pairing = pairing

    def check(
        self, channel: str, user_id: str, *, chat_id: str | None = None, display_name: str = ""
    ) -> GateDecision:
        try:
            ident = Identity(channel, user_id)
        except PairingError:
            log.warning("pairing: refused a sender with an invalid id on %s", channel)
            return GateDecision(False)
        decision = self.pairing.check(ident)
        if decision.allowed:
            return GateDecision(True)
        if decision.state is Access.LOCKED:
            return GateDecision(False)
        try:
            return GateDecision(False, self.pairing.handle_unknown(ident, display_name, chat_id))
        except PairingError as exc:  # the store went bad or stayed locked: stay closed
            log.error("pairing: cannot answer %s: %s", ident, exc)
            return GateDecision(False)

    def handle_pair(self, channel: str, user_id: str, code: str) -> str:
        try:
            return self.pairing.redeem(Identity(channel, user_id), code).text
        except PairingError as exc:
            log.error("pairing: /pair from %s:%s failed: %s", channel, user_id, exc)
            return unavailable()
