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
Approving tells the sender through the outgoing queue (``notices.queue_notifier``),
in the chat they asked from; owners may approve from chat (``chat_admin``)::

    service = pairing_service(home, config, notify=queue_notifier(home))
    who = Identity(message.channel, message.sender.id)
    if not service.check(who).allowed or not service.may_use(who, actor):
        ...  # drop it (log it), do not run

Modules: ``gate`` (check, handle_unknown, redeem), ``service`` (the owner's side),
``chat_admin`` (owner commands in chat), ``notices`` (telling a sender),
``factory`` (from tinyclaw.toml), ``codes`` (codes and the key), ``store`` /
``models`` (the file), ``limits`` (lockouts), ``texts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports
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

if TYPE_CHECKING:
    from tinyclaw.pairing import texts
    from tinyclaw.pairing.chat_admin import (
        ONLY_OWNER,
        OWNER_COMMANDS,
        OWNER_HELP,
        PLATFORM_CHANNELS,
        is_owner,
        owner_command,
        sender_identity,
    )
    from tinyclaw.pairing.gate import Clock, utc_now
    from tinyclaw.pairing.notices import DM_IS_USER, queue_notifier
    from tinyclaw.pairing.store import LOCK_FILE
    from tinyclaw.pairing.texts import ago, in_words
else:
    # Imported on first use, so that a process loads only the modules it needs.
    __getattr__ = lazy_exports(
        __name__,
        {
            "chat_admin": (
                "ONLY_OWNER",
                "OWNER_COMMANDS",
                "OWNER_HELP",
                "PLATFORM_CHANNELS",
                "is_owner",
                "owner_command",
                "sender_identity",
            ),
            "gate": (
                "Clock",
                "utc_now",
            ),
            "notices": (
                "DM_IS_USER",
                "queue_notifier",
            ),
            "store": ("LOCK_FILE",),
            "texts": (
                "ago",
                "in_words",
            ),
        },
        submodules=("texts",),
    )

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
    "ago",
    "in_words",
    "is_owner",
    "owner_command",
    "pairing_service",
    "queue_notifier",
    "sender_identity",
    "texts",
    "utc_now",
]
