"""Pairing: who may talk to the assistant, and how a stranger becomes someone who may.

An unknown sender is never queued and none of their attachments is downloaded. There
are two ways in, both one-time codes: a *request* (the sender gets a code, hands it to
the owner, the owner runs ``tinyclaw pair approve CODE``) and an *invite* (the owner
runs ``tinyclaw pair invite``, hands the code over, the new user sends ``/pair CODE``).
Paired accounts belong to *profiles*: one person, possibly on several platforms, with
a role (owner or user) and the actors they may use.

A listener uses it through its gate (``tinyclaw.channels.pairing_gate``), and the
worker checks again before running anything, because a revocation may have happened
since the message was queued (``tinyclaw.worker.access``: an unpaired sender's
message goes to ``failed/``, an actor they may not use gets a short error).
Approving tells the sender through the outgoing queue (``queue_notifier``), in the
chat they asked from; owners may approve from chat (``owner_command``)::

    service = pairing_service(home, config, notify=queue_notifier(home))
    who = Identity(message.channel, message.sender.id)
    if not service.check(who).allowed or not service.may_use(who, actor):
        ...  # drop it (log it), do not run

Modules, by job:

* ``records``      what pairing knows, as values (identities, the store's contents,
                   answers) and the pure changes to them (profiles, lockouts);
* ``codes``        one-time codes and the per-home key that protects them;
* ``storage``      the store's interface, the store on disk (locked, written
                   atomically) and ``copy_pairing`` from one store to another;
* ``kv_store``     the store in a NATS key-value bucket (compare-and-set), for homes
                   whose listeners run on several machines;
* ``sender_side``  the gate every inbound message passes (check, handle_unknown, redeem);
* ``owner_side``   approving, inviting, revoking, profiles; the owner's chat commands;
* ``wording``      everything pairing says to a sender, in one voice;
* ``scope``        which messages pairing checks (the platforms, the owner commands);
* ``wiring``       the service built from ``tinyclaw.toml``; notices through the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.pairing.kv_store import KVPairingStore
    from tinyclaw.pairing.moving import PairingToMove
    from tinyclaw.pairing.owner_side import (
        ONLY_OWNER,
        OWNER_HELP,
        PairingService,
        is_owner,
        owner_command,
        sender_identity,
    )
    from tinyclaw.pairing.records import (
        Access,
        Approval,
        Decision,
        Identity,
        Invite,
        Notice,
        PairingLimits,
        PendingRequest,
        Profile,
        RedeemOutcome,
        RedeemResult,
        Role,
    )
    from tinyclaw.pairing.scope import DM_IS_USER, OWNER_COMMANDS, PLATFORM_CHANNELS
    from tinyclaw.pairing.sender_side import Clock, Notify, PairingGate, utc_now
    from tinyclaw.pairing.storage import LOCK_FILE, PairingStorage, PairingStore, copy_pairing
    from tinyclaw.pairing.wiring import open_pairing_store, pairing_service, queue_notifier
    from tinyclaw.pairing.wording import ago, in_words, unavailable
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "DM_IS_USER",
    "LOCK_FILE",
    "ONLY_OWNER",
    "OWNER_COMMANDS",
    "OWNER_HELP",
    "PLATFORM_CHANNELS",
    "Access",
    "Approval",
    "Clock",
    "Decision",
    "Identity",
    "Invite",
    "KVPairingStore",
    "Notice",
    "Notify",
    "PairingGate",
    "PairingLimits",
    "PairingService",
    "PairingStorage",
    "PairingStore",
    "PairingToMove",
    "PendingRequest",
    "Profile",
    "RedeemOutcome",
    "RedeemResult",
    "Role",
    "ago",
    "copy_pairing",
    "in_words",
    "is_owner",
    "open_pairing_store",
    "owner_command",
    "pairing_service",
    "queue_notifier",
    "sender_identity",
    "unavailable",
    "utc_now",
]
