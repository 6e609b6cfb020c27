"""Who is talking: one account on one platform, written ``channel:user_id``.

An identity is the only thing the gate trusts about a sender, so it is validated where
it is made: the channel is a lowercase name (the queue's channel rule) and the user id
is what the platform reports (a Telegram or Discord number, a WhatsApp phone number),
without whitespace or control characters. Both are plain strings: ids are compared
exactly, never as numbers, so ``"0123"`` and ``"123"`` stay two people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinyclaw.core.errors import PairingError
from tinyclaw.core.messages import CHANNEL_PATTERN

_CHANNEL_RE = re.compile(CHANNEL_PATTERN)
# Printable, no whitespace, no separator that would make "channel:user" ambiguous
# to a shell user; ':' inside the user id is fine (we split at the first one).
_USER_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """``(channel, user_id)``; hashable, ordered, printed as ``channel:user_id``."""

    channel: str
    user_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str) or not _CHANNEL_RE.fullmatch(self.channel):
            raise PairingError(f"{self.channel!r} is not a channel name (e.g. telegram)")
        if not isinstance(self.user_id, str) or not _USER_RE.fullmatch(self.user_id):
            raise PairingError(f"{self.user_id!r} is not a user id (no spaces, 1-200 chars)")

    @classmethod
    def parse(cls, text: str) -> Identity:
        """``"telegram:12345"`` -> ``Identity("telegram", "12345")``."""
        channel, sep, user_id = text.strip().partition(":")
        if not sep:
            raise PairingError(f"{text!r} is not an identity: write channel:user_id")
        return cls(channel, user_id)

    @classmethod
    def looks_like(cls, text: str) -> bool:
        """True when ``text`` is meant as an identity rather than a name or a code."""
        return ":" in text

    def __str__(self) -> str:
        return f"{self.channel}:{self.user_id}"
