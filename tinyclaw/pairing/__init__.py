"""Pairing: who may talk to the assistant, and how a stranger becomes someone who may.

An unknown sender is never queued and none of their attachments is downloaded. There
are two ways in, both one-time codes: a *request* (the sender gets a code, hands it to
the owner, the owner runs ``tinyclaw pair approve CODE``) and an *invite* (the owner
runs ``tinyclaw pair invite``, hands the code over, the new user sends ``/pair CODE``).
Paired accounts belong to *profiles*: one person, possibly on several platforms, with
a role (owner or user) and the actors they may use.

A listener uses it through the Gate protocol of ``tinyclaw.channels.gate``::

    from tinyclaw.pairing.listener import ListenerGate
    gate = ListenerGate(pairing_service(home, config))   # check() + handle_pair()

The worker checks again before running anything, because a revocation may have
happened since the message was queued (``worker_check.WorkerAccess``: an unpaired
sender's message goes to ``failed/``, an actor they may not use gets a short error).
Approving tells the sender through the outgoing queue (``notices.queue_notifier``),
in the chat they asked from; owners may approve from chat (``chat_admin``)::

    service = pairing_service(home, config, notify=queue_notifier(home))
    who = Identity(message.channel, message.sender.id)
    if not service.check(who).allowed or not service.may_use(who, actor):
        ...  # drop it (log it), do not run

Modules: ``gate`` (check, handle_unknown, redeem), ``service`` (the owner's side),
``listener`` (the listener's Gate), ``worker_check`` (the worker's second look),
``chat_admin`` (owner commands in chat), ``notices`` (telling a sender),
``factory`` (from tinyclaw.toml), ``codes`` (codes and the key), ``store`` /
``models`` (the file), ``limits`` (lockouts), ``texts``.
"""

from tinyclaw.pairing.decisions import (
    Access,
    Approval,
    Decision,
    Notice,
    RedeemOutcome,
    RedeemResult,
)
from tinyclaw.pairing.factory import pairing_service
from tinyclaw.pairing.gate import Notify, PairingGate
from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.limits import PairingLimits
from tinyclaw.pairing.models import Invite, PendingRequest, Profile, Role
from tinyclaw.pairing.service import PairingService

__all__ = [
    "Access",
    "Approval",
    "Decision",
    "Identity",
    "Invite",
    "Notice",
    "Notify",
    "PairingGate",
    "PairingLimits",
    "PairingService",
    "PendingRequest",
    "Profile",
    "RedeemOutcome",
    "RedeemResult",
    "Role",
    "pairing_service",
]
