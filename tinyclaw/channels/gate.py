"""Who may talk to the assistant through a listener: the gate every inbound message
passes before anything of it is queued or downloaded.

The listener asks two questions and nothing else, so pairing (``tinyclaw.pairing``)
can replace :class:`AllowListGate` without the platforms noticing:

* ``check(channel, user_id, *, chat_id=None, display_name="")`` ->
  :class:`GateDecision`: may this sender be queued? A denial may carry a short reply
  for the sender (how to pair, their id). ``chat_id`` is the chat the message came
  from (on Discord a DM channel is not the user id) and ``display_name`` what the
  platform calls the sender: pairing keeps both with a request, so the approval can
  be announced in that chat and the owner sees who asked. Both are keyword-only with
  defaults, so a caller that does not know them keeps working.
* ``handle_pair(channel, user_id, code)`` -> str: a ``/pair CODE`` message. It is asked
  *before* ``check``, because a sender who is not allowed yet is exactly who pairs.

Everything here fails closed: ids compare as exact strings, an empty list denies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class GateDecision:
    """``allowed`` or not; ``reply`` is sent to the sender as is (never queued)."""

    allowed: bool
    reply: str | None = None


@runtime_checkable
class Gate(Protocol):
    """The listener's only view of pairing. Both calls must be cheap and never raise
    for a stranger's input: a store that cannot be read answers "not allowed"."""

    def check(
        self, channel: str, user_id: str, *, chat_id: str | None = None, display_name: str = ""
    ) -> GateDecision:
        """May ``user_id`` on ``channel`` have messages queued? (``chat_id`` and
        ``display_name`` describe where and as whom they wrote; see the module doc.)"""
        ...

    def handle_pair(self, channel: str, user_id: str, code: str) -> str:
        """Redeem ``code`` for this sender; the answer is sent back to them."""
        ...


class AllowListGate:
    """The gate until pairing exists: a fixed list of user ids from ``allow_from``.

    Exact string matches only (``"0123"`` is not ``"123"``); an empty list denies
    everyone. A denied sender is told their own id, so the owner can add it to
    ``tinyclaw.toml`` without digging through platform settings.
    """

    def __init__(self, allow_from: Iterable[str]) -> None:
        self._allowed = frozenset(str(item) for item in allow_from)

    def check(
        self, channel: str, user_id: str, *, chat_id: str | None = None, display_name: str = ""
    ) -> GateDecision:
        del chat_id, display_name  # a fixed list remembers nobody
        if user_id in self._allowed:
            return GateDecision(True)
        return GateDecision(
            False,
            f"Sorry, you are not allowed to use this assistant. "
            f"Your {channel} id is {user_id}; the owner can add it to allow_from.",
        )

    def handle_pair(self, channel: str, user_id: str, code: str) -> str:
        return "pairing is not enabled"
