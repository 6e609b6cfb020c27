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
happened since the message was queued::

    service = pairing_service(home, config, notify=put_notice_in_outgoing_queue)
    who = Identity(message.channel, message.sender.id)
    if not service.check(who).allowed or not service.may_use(who, actor):
        ...  # drop it (log it), do not run

Modules: ``gate`` (check, handle_unknown, redeem), ``service`` (the owner's side),
``listener`` (the listener's Gate), ``factory`` (from tinyclaw.toml), ``codes`` (codes
and the key), ``store`` / ``models`` (the file), ``limits`` (lockouts), ``texts``.
"""

from tinyclaw.pairing.decisions import Access, Approval, Decision, RedeemOutcome, RedeemResult
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
