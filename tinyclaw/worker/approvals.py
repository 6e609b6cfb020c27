"""Answers to the permission questions of live runs, as they come back from chat.

A chat (or the terminal) answers in one of two ways, both checked here, at routing:

* an ``approval`` message (``kind="approval"``, ``meta.approval`` = ``{"actor",
  "key", "decision"}``), which a listener writes for a pressed button;
* a typed ``yes`` / ``always`` / ``no`` in a chat the question was sent to (the
  chat whose run asks, and the actor's ``owner_chat``); the oldest question there is
  answered. A ``yes`` with nothing waiting is an ordinary message.

Only an owner (pairing) or a profile the actor's ``approvers`` names may answer; the
answer becomes ``queue/approvals/<actor>/<key>.answer.json``, which the run reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinyclaw.config import Config
from tinyclaw.core import ANSWER_WORDS, Home, Inbound, answer_approval, pending_approvals

if TYPE_CHECKING:
    from tinyclaw.pairing import PairingService

DONE = {
    "allow": "Allowed once.",
    "allow_session": "Allowed {tool} for this conversation.",
    "deny": "Denied.",
}


class ApprovalDesk:
    def __init__(
        self, home: Home, config: Config, pairing: Callable[[], PairingService | None]
    ) -> None:
        """``pairing`` gives the pairing service when an answer comes (building it
        only then)."""
        self.home = home
        self.config = config
        self.pairing = pairing

    def answer(self, message: Inbound) -> str | None:
        """The note for the sender if ``message`` answered a question, else None."""
        settled = self.settle(message)
        return None if settled is None else settled[0]

    def settle(self, message: Inbound) -> tuple[str, dict[str, str] | None] | None:
        """Like :meth:`answer`, with what was decided (``actor``, ``key``,
        ``decision``, ``by``) when the answer counted: a listener with buttons shows it
        on the question it sent."""
        if message.kind == "approval":
            return self._explicit(message)
        if message.kind != "chat":
            return None
        decision = ANSWER_WORDS.get(message.text.strip().lower().rstrip("!."))
        if decision is None:
            return None
        here = f"{message.channel}:{message.chat_id}"
        waiting = [
            request
            for actor in self.config.actors
            for request in pending_approvals(self.home, actor)
            if here in (request.get("ask_chats") or [])
        ]
        if not waiting:
            return None
        return self._decide(message, waiting[0], decision)

    def _explicit(self, message: Inbound) -> tuple[str, dict[str, str] | None]:
        raw = message.meta.get("approval")
        if not isinstance(raw, dict):
            return "That answer names no question.", None
        actor, key, decision = raw.get("actor"), raw.get("key"), raw.get("decision")
        if actor not in self.config.actors or not isinstance(key, str):
            return "That question is not asked any more.", None
        if decision not in ("allow", "allow_session", "deny"):
            return "Answer allow, allow_session or deny.", None
        found = [r for r in pending_approvals(self.home, str(actor)) if r.get("key") == key]
        if not found:
            return "That question is not asked any more.", None
        return self._decide(message, found[0], str(decision))

    def may_answer(self, message: Inbound, actor: str) -> bool:
        from tinyclaw.pairing import is_owner

        if is_owner(self.pairing(), message):
            return True
        return f"{message.channel}:{message.sender.id}" in self.config.actors[actor].approvers

    def _decide(
        self, message: Inbound, request: dict[str, Any], decision: str
    ) -> tuple[str, dict[str, str] | None]:
        actor = str(request.get("actor"))
        if actor not in self.config.actors or not self.may_answer(message, actor):
            return "Only the owner may answer what the assistant asks permission for.", None
        by = f"{message.channel}:{message.sender.name or message.sender.id}"
        key = str(request.get("key"))
        if not answer_approval(self.home, actor, key, decision, by=by):
            return "That question was answered already or is not asked any more.", None
        note = DONE[decision].format(tool=request.get("tool", "the tool"))
        return note, {"actor": actor, "key": key, "decision": decision, "by": by}
