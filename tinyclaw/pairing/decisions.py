"""What the pairing service answers: small immutable values, safe to log and pass on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tinyclaw.pairing.identity import Identity
from tinyclaw.pairing.models import Profile


class Access(StrEnum):
    """Where a sender stands.

    ``allowed``: queue their messages. ``pending``: they asked, the owner has not
    answered; drop their messages (``handle_unknown`` decides whether to remind them).
    ``unknown``: never seen; ``handle_unknown`` gives them a code. ``locked``: too many
    wrong codes, a denied request, or an unreadable store; drop quietly.
    """

    ALLOWED = "allowed"
    PENDING = "pending"
    UNKNOWN = "unknown"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer for one sender. ``reason`` is for logs, not for the sender."""

    identity: Identity
    state: Access
    profile: Profile | None = None
    owner: bool = False
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.state is Access.ALLOWED


class RedeemOutcome(StrEnum):
    LINKED = "linked"  # the invite was valid: the sender is in
    WRONG = "wrong"  # no live invite has that code; counted
    LOCKED = "locked"  # sender locked out; the code was not looked at
    BUSY = "busy"  # too many wrong codes on this channel; the code was not looked at
    ALREADY_PAIRED = "already_paired"  # valid invite, but this sender is paired; kept
    OWN_REQUEST = "own_request"  # they sent us their own request code; not counted
    NO_CODE = "no_code"  # "/pair" alone: usage, not counted as a guess
    UNAVAILABLE = "unavailable"  # the store is unreadable or busy


@dataclass(frozen=True, slots=True)
class RedeemResult:
    """The result of ``/pair CODE``; ``text`` is the reply to send to the sender."""

    identity: Identity
    outcome: RedeemOutcome
    text: str
    profile: Profile | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is RedeemOutcome.LINKED


@dataclass(frozen=True, slots=True)
class Approval:
    """An approved request: who is in now, and the notice they were (or should be) sent."""

    identity: Identity
    profile: Profile
    notice: str
    notified: bool
    chat_id: str | None = None  # where the request was made, so where the notice goes


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell a sender outside of any conversation (their approval).

    ``chat_id`` is the chat the sender wrote from when they asked, recorded by the
    listener: on Discord a DM channel is not the user id, so the identity alone cannot
    say where to write. None for a request recorded before chats were kept.
    """

    identity: Identity
    text: str
    chat_id: str | None = None
