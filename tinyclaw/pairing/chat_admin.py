"""Owner commands in chat: ``/approve CODE [profile]``, ``/deny CODE``, ``/pending``.

An owner should not need a terminal on the host to let a friend in: the friend sends
the code to the owner, the owner forwards ``/approve CODE`` to the assistant from any
paired chat. Only owners may (a profile with role ``owner``, or an owner listed in
``tinyclaw.toml``); everyone else gets one line saying so, and the request is left
alone. A message on a local channel (the terminal's ``tinyclaw send``) comes from
whoever can run tinyclaw on the host, who owns the home anyway.

The answers are plain text and name the sender by identity and display name only;
request codes are never listed (the owner approves the code the sender handed over,
which is what ties the request to that person).
"""

from __future__ import annotations

import logging
from datetime import datetime

from tinyclaw.core.errors import PairingError
from tinyclaw.core.messages import Inbound
from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.service import PairingService
from tinyclaw.pairing.texts import ago, in_words

log = logging.getLogger("tinyclaw.pairing")

# Channels whose senders are people on a chat platform, checked by pairing.
PLATFORM_CHANNELS = frozenset({"telegram", "discord", "whatsapp"})
OWNER_COMMANDS = frozenset({"/approve", "/deny", "/pending"})
ONLY_OWNER = "Sorry, only the owner can do that."
OWNER_HELP = """\
Owner commands:
/pending - requests waiting for your approval
/approve CODE [profile] - let in the sender who was given CODE
/deny CODE - refuse that request
/status - also shows everything the worker is doing
/cost all - everyone's spend, per person and per actor, with the limits"""


def sender_identity(message: Inbound) -> Identity | None:
    """The platform identity of the sender; None for a local channel (the host).

    Raises PairingError when a platform message carries a sender id that is not a
    valid identity (only a hand-made file can).
    """
    if message.channel not in PLATFORM_CHANNELS:
        return None
    return Identity(message.channel, message.sender.id)


def is_owner(pairing: PairingService | None, message: Inbound) -> bool:
    """Whether the sender of ``message`` may run owner commands."""
    try:
        ident = sender_identity(message)
    except PairingError:
        return False
    if ident is None:
        return True  # the host's own terminal
    return pairing is not None and pairing.is_owner(ident)


def owner_command(pairing: PairingService | None, message: Inbound, command: str, args: str) -> str:
    """The answer to one of :data:`OWNER_COMMANDS` sent by ``message``'s sender."""
    if not is_owner(pairing, message):
        log.warning("pairing: %s tried %s without being an owner", message.sender.id, command)
        return ONLY_OWNER
    if pairing is None:
        return "Pairing is not available here; use tinyclaw pair on the host."
    by = sender_identity(message)
    words = args.split()
    try:
        if command == "/pending":
            return _pending(pairing, pairing.now())
        if not words:
            return f"Usage: {command} CODE (the code the sender was given, e.g. KQ7M-T4XA)"
        if command == "/approve":
            profile = words[1] if len(words) > 1 else None
            approval = pairing.approve(words[0], by=by, profile=profile)
            who = f"{approval.identity} as profile {approval.profile.name}"
            if approval.notified:
                return f"Approved {who}. They are being told in their chat."
            return f"Approved {who}. They were not told automatically; let them know."
        ident = pairing.deny(words[0], by=by)
        return f"Denied the request of {ident}. They get no new code for a day."
    except PairingError as exc:
        return f"That did not work: {exc}"


def _pending(pairing: PairingService, now: datetime) -> str:
    requests = pairing.pending()
    if not requests:
        return "No pending requests."
    lines = ["Pending requests (approve with the code the sender gives you):"]
    for request in requests:
        name = f" ({request.display_name})" if request.display_name else ""
        lines.append(
            f"{request.identity}{name}: asked {ago(now - request.created_at)}, "
            f"expires in {in_words(request.expires_at - now)}"
        )
    return "\n".join(lines)
