"""The worker's side of a live run: steering lines in, permission questions out.

:class:`RunLink` is the :class:`~tinyclaw.runners.live.RunControls` of one run. It
reads the files of :mod:`tinyclaw.core.live_files` (so nothing of it lives only in memory)
and writes the event log, so every steer and every approval decision can be traced:

* a steering line for this run's conversation (or for none in particular) is taken,
  handed to the CLI and then removed; the chat user gets a short note that the owner
  stepped in (``steer_note``, on by default);
* a permission question goes where ``approvals`` says: the actor's window always
  reads ``queue/approvals/<actor>/``; with ``chat`` the asking chat gets an
  ``approval`` reply too. Nobody answering within ``approval_timeout`` is a deny;
  an empty ``approvals`` denies at once. "Allow for the session" is remembered per
  actor and conversation by :class:`SessionGrants` for as long as the worker runs;
* a model switch (``/model`` in this run's chat, for a live claude run) comes from
  the run's :class:`~tinyclaw.worker.model_switch.ModelBox`, in memory: the stored
  choice is what outlives a crash.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinyclaw.config import ActorConfig
from tinyclaw.core.errors import InvalidFileError
from tinyclaw.core.events import EventLog
from tinyclaw.core.failpoints import failpoint
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import (
    drop_approval,
    pending_steers,
    put_approval,
    read_answer,
    read_steer,
    safe_key,
    take_steer,
)
from tinyclaw.core.messages import Inbound
from tinyclaw.core.printable import printable
from tinyclaw.runners.live import ApprovalAsk, Decision, Steer
from tinyclaw.spool import Spool
from tinyclaw.worker.model_switch import ModelBox
from tinyclaw.worker.replies import reply_to

log = logging.getLogger("tinyclaw.worker")

STEER_NOTE = "The owner stepped in: @{actor} got a note from them while working on this."
LOCAL_CHANNELS = frozenset({"operator"})  # no chat user to tell, no chat to ask


def approval_text(actor: str, tool: str, detail: str, timeout: float) -> str:
    return (
        f"@{actor} asks to use {tool}: {printable(detail)}\n"
        f"Answer yes (allow once), always (allow {tool} for this conversation) or no. "
        f"No answer in {timeout:g} s means no."
    )


class SessionGrants:
    """Tools allowed "for the session", per (actor, conversation); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[tuple[str, str], set[str]] = {}

    def allows(self, actor: str, conversation: str, tool: str) -> bool:
        with self._lock:
            return tool in self._grants.get((actor, conversation), set())

    def grant(self, actor: str, conversation: str, tool: str) -> None:
        with self._lock:
            self._grants.setdefault((actor, conversation), set()).add(tool)

    def forget(self, actor: str, conversation: str) -> None:
        with self._lock:
            self._grants.pop((actor, conversation), None)


class RunLink:
    """The controls of one run of ``actor`` for ``message``; see the module docstring."""

    def __init__(
        self,
        home: Home,
        spool: Spool,
        events: EventLog,
        grants: SessionGrants,
        actor: str,
        settings: ActorConfig,
        message: Inbound,
        clock: Callable[[], float],
        models: ModelBox | None = None,
    ) -> None:
        self.home = home
        self.spool = spool
        self.events = events
        self.grants = grants
        self.actor = actor
        self.settings = settings
        self.message = message
        self.conversation = message.conversation_key
        self.clock = clock
        self.models = models  # None: this run cannot switch models mid-run
        self._taken: dict[str, Path] = {}  # steer id -> its file in taken/
        self._asks: dict[str, tuple[ApprovalAsk, float]] = {}  # key -> (ask, expires at)
        self._auto: dict[str, Decision] = {}
        self._by: dict[str, str] = {}  # key -> who answered
        self._tools: dict[str, str] = {}  # key -> the tool asked about
        self.steers = 0

    # -- steering ----------------------------------------------------------------------

    def take_steers(self) -> list[Steer]:
        taken = []
        for path in pending_steers(self.home, self.actor):
            try:
                line = read_steer(path)
            except FileNotFoundError:
                continue
            except (OSError, InvalidFileError) as exc:
                log.warning("@%s: dropping a bad steering file %s: %s", self.actor, path.name, exc)
                self.events.emit("steer.invalid", actor=self.actor, file=path.name, error=str(exc))
                path.unlink(missing_ok=True)
                continue
            if line.id == self.message.id:
                path.unlink(missing_ok=True)  # queued as this very message before a crash
                continue
            if line.conversation not in (None, self.conversation):
                continue  # for another conversation: its next turn, once the actor is idle
            claimed = take_steer(path)
            if claimed is None:
                continue
            failpoint("steer.taken")
            self._taken[line.id] = claimed
            taken.append(Steer(line.id, line.text, line.by))
        return taken

    def delivered(self, steer: Steer) -> None:
        failpoint("steer.delivered")  # on the CLI's stdin, its file not yet removed
        path = self._taken.pop(steer.id, None)
        if path is not None:
            path.unlink(missing_ok=True)
        self.steers += 1
        self.events.emit(
            "steer.delivered",
            actor=self.actor,
            id=self.message.id,
            steer=steer.id,
            by=steer.by,
            conversation=self.conversation,
        )
        if self.settings.steer_note and self.message.channel not in LOCAL_CHANNELS:
            note = reply_to(
                self.message, STEER_NOTE.format(actor=self.actor), kind="notice", actor=self.actor
            )
            self.spool.put_reply(
                note.model_copy(update={"id": f"{self.message.id}.steer{self.steers}"})
            )

    # -- model switches ----------------------------------------------------------------

    def take_model(self) -> str | None:
        model = self.models.take() if self.models is not None else None
        if model is not None:
            self.events.emit(
                "model.switched",
                actor=self.actor,
                id=self.message.id,
                model=model,
                conversation=self.conversation,
            )
        return model

    def release(self) -> None:
        """After the run: lines taken but never written (the CLI was gone) go back to
        the box, to become the conversation's next turn; open questions are void."""
        for path in self._taken.values():
            try:
                os.rename(path, path.parent.parent / path.name)
            except FileNotFoundError:
                continue
        self._taken.clear()
        for key in list(self._asks):
            drop_approval(self.home, self.actor, key)
            self.events.emit(
                "approval.decided",
                actor=self.actor,
                id=self.message.id,
                key=key,
                tool=self._tools.pop(key, None),
                decision="deny",
                by="run ended",
                conversation=self.conversation,
            )
        self._asks.clear()

    # -- approvals ---------------------------------------------------------------------

    def ask(self, ask: ApprovalAsk) -> None:
        now = self.clock()
        self.events.emit(
            "approval.asked",
            actor=self.actor,
            id=self.message.id,
            key=ask.key,
            tool=ask.tool,
            detail=ask.detail,
            conversation=self.conversation,
        )
        self._tools[ask.key] = ask.tool
        if self.grants.allows(self.actor, self.conversation, ask.tool):
            self._auto[ask.key] = "allow"
            return
        if not self.settings.approvals:
            self._auto[ask.key] = "deny"
            return
        expires = now + self.settings.approval_timeout
        self._asks[ask.key] = (ask, expires)
        put_approval(
            self.home,
            self.actor,
            {
                "key": ask.key,
                "actor": self.actor,
                "tool": ask.tool,
                "detail": ask.detail,
                "asked_at": now,
                "expires_at": expires,
                "message_id": self.message.id,
                "channel": self.message.channel,
                "chat_id": self.message.chat_id,
                "conversation": self.conversation,
                "routes": list(self.settings.approvals),
                "ask_chats": [f"{c}:{i}" for c, i in self._question_chats()],
                "choices": ["allow", "allow_session", "deny"],
            },
        )
        failpoint("approval.asked")
        for channel, chat_id in self._question_chats():
            text = approval_text(self.actor, ask.tool, ask.detail, self.settings.approval_timeout)
            request = reply_to(self.message, text, kind="approval", actor=self.actor)
            meta = {
                "approval": {
                    "actor": self.actor,
                    "key": ask.key,
                    "tool": ask.tool,
                    "detail": ask.detail,
                    "choices": ["allow", "allow_session", "deny"],
                    "expires_at": expires,
                }
            }
            request_id = f"{self.message.id}.approval-{safe_key(ask.key)}"[:200]
            update: dict[str, Any] = {"id": request_id, "meta": meta}
            if (channel, chat_id) != (self.message.channel, self.message.chat_id):
                update.update(channel=channel, chat_id=chat_id, reply_to_message_id=None)
            self.spool.put_reply(request.model_copy(update=update))

    def _question_chats(self) -> list[tuple[str, str]]:
        """Where a question goes in chat: the chat that asked, and the actor's
        ``owner_chat`` (the owner answers there when someone else's run asks)."""
        if "chat" not in self.settings.approvals:
            return []
        chats = []
        if self.message.channel not in LOCAL_CHANNELS:
            chats.append((self.message.channel, self.message.chat_id))
        if self.settings.owner_chat:
            channel, _, chat_id = self.settings.owner_chat.partition(":")
            if (channel, chat_id) not in chats:
                chats.append((channel, chat_id))
        return chats

    def decision(self, key: str) -> Decision | None:
        if key in self._auto:
            return self._auto[key]
        answer = read_answer(self.home, self.actor, key)
        if answer is not None:
            decision = answer.get("decision")
            chosen: Decision = decision if decision in ("allow", "allow_session") else "deny"
            self._auto[key] = chosen
            self._by[key] = str(answer.get("by") or "?")
            return chosen
        asked = self._asks.get(key)
        if asked is not None and self.clock() >= asked[1]:
            return "timeout"
        return None

    def settled(self, key: str, decision: Decision) -> None:
        self._asks.pop(key, None)
        self._auto.pop(key, None)
        by = self._by.pop(key, "nobody in time" if decision == "timeout" else "policy")
        tool = self._tools.pop(key, None)
        drop_approval(self.home, self.actor, key)
        if decision == "allow_session" and tool is not None:
            self.grants.grant(self.actor, self.conversation, tool)
        self.events.emit(
            "approval.decided",
            actor=self.actor,
            id=self.message.id,
            key=key,
            tool=tool,
            decision=decision,
            by=by,
            conversation=self.conversation,
        )
