"""Live runs in a chat that can edit its messages: permission questions with buttons,
and one status message per run, edited in place.

The worker writes the same files for every platform (an ``approval`` reply per
question, a ``progress`` reply per step, the final reply); a platform that offers
:class:`EditingPlatform` gets them through :class:`LiveChat` instead of as plain text:

* a question is sent with three buttons (allow once, allow for this conversation,
  deny). A button carries ``a<choice>:<token>``, where the token is random, known only
  to this listener and bound to the chat and message it was sent in: a forged or
  replayed press names no question or the wrong message and is refused. A press
  becomes the ``approval`` message the worker checks (owner or approver); the
  worker's answer (``meta.approval_decided``) closes the question: its text gains the
  decision and who made it, and the buttons go. A press on a question that expired or
  was answered elsewhere says so, and its buttons go too;
* the steps of a run (``progress = "edit"``) edit one status message, at most one
  edit every ``THROTTLE`` seconds per chat; when the final reply goes out, the status
  message is deleted first.

What must survive a restart (the question tokens, the status message of each run) is
kept in ``state/channels/<channel>-live.json``, written atomically after each change,
so a restarted listener edits or deletes the same message instead of sending another.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tinyclaw.core.errors import DeliveryError, PermanentDeliveryError
from tinyclaw.core.fsutil import atomic_write
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import ANSWER_SUFFIX, approvals_box, safe_key
from tinyclaw.core.messages import Reply
from tinyclaw.core.printable import printable

THROTTLE = 2.0
CHOICES = {"o": "allow", "s": "allow_session", "d": "deny"}
LABELS = {"allow": "Allow once", "allow_session": "Allow for this chat session", "deny": "Deny"}
SHOWN = {
    "allow": "✅ Allowed once",
    "allow_session": "✅ Allowed for this conversation",
    "deny": "⛔ Denied",
}
GONE = "This question expired or was answered already."
INVALID = "This button is not valid any more."
MAX_QUESTIONS = 200
STALE_STATUS = 6 * 3600.0  # a status whose run never ended is forgotten after this


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str


@runtime_checkable
class EditingPlatform(Protocol):
    """What a platform offers to edit its own messages (Telegram, Discord)."""

    async def send_marked(
        self,
        chat_id: str,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        reply_to: str | None = None,
    ) -> str:
        """Send ``text`` (with one row of ``buttons``) and return the message's id."""
        ...

    async def edit_marked(
        self, chat_id: str, message_id: str, text: str, *, buttons: Sequence[Button] = ()
    ) -> None:
        """Replace the text of a message the bot sent (no ``buttons``: removes them)."""
        ...

    async def delete_marked(self, chat_id: str, message_id: str) -> None:
        """Delete a message the bot sent."""
        ...


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed, as the platform reported it."""

    data: str
    chat_id: str
    message_id: str
    sender_id: str
    sender_name: str
    press_id: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What a press becomes: the question it answers (``None``: refused, ``note``
    says why), to be queued as an ``approval`` message."""

    note: str
    actor: str | None = None
    key: str | None = None
    decision: str | None = None


class LiveState:
    """The durable part: ``{"questions": {token: {...}}, "status": {run: {...}}}``."""

    def __init__(self, path: Path, log: logging.Logger) -> None:
        self.path = path
        self.log = log
        self.questions: dict[str, dict[str, Any]] = {}
        self.status: dict[str, dict[str, Any]] = {}
        self.ended: list[str] = []  # runs whose answer went out, newest last
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.log.warning("ignoring unreadable %s: %s", self.path, exc)
            return
        if isinstance(raw, dict):
            questions, status = raw.get("questions"), raw.get("status")
            ended = raw.get("ended")
            self.questions = questions if isinstance(questions, dict) else {}
            self.status = status if isinstance(status, dict) else {}
            self.ended = [str(r) for r in ended] if isinstance(ended, list) else []

    def save(self) -> None:
        if len(self.questions) > MAX_QUESTIONS:  # oldest first out
            keep = sorted(self.questions.items(), key=lambda kv: float(kv[1].get("at", 0)))
            self.questions = dict(keep[-MAX_QUESTIONS:])
        self.ended = self.ended[-MAX_QUESTIONS:]
        data = {"v": 1, "questions": self.questions, "status": self.status, "ended": self.ended}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def state_path(home: Home, channel: str) -> Path:
    return home.state / "channels" / f"{channel}-live.json"


class LiveChat:
    """Questions with buttons and a status message per run for one listener."""

    def __init__(
        self,
        platform: EditingPlatform,
        home: Home,
        channel: str,
        *,
        progress: str,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | None = None,
    ) -> None:
        self.platform = platform
        self.home = home
        self.progress = progress
        self.clock = clock
        self.log = log or logging.getLogger("tinyclaw.channels")
        self.state = LiveState(state_path(home, channel), self.log)
        self._last_edit: dict[str, float] = {}  # chat -> when its status was last touched
        self.edits: list[tuple[str, float]] = []  # (chat, when): every status edit, for figures
        self.forget_stale()

    # -- outgoing --------------------------------------------------------------------

    async def before(self, reply: Reply) -> bool:
        """Deliver ``reply`` the live way if it is one of ours; True when it is done
        (the outbox then marks it sent without sending its text)."""
        if reply.kind == "approval" and isinstance(reply.meta.get("approval"), dict):
            await self._ask(reply)
            return True
        if reply.kind == "progress" and self.progress == "edit":
            await self._step(reply)
            return True
        if reply.kind == "notice" and isinstance(reply.meta.get("approval_decided"), dict):
            return await self._decided(reply.meta["approval_decided"])
        if reply.kind in ("reply", "error"):
            await self._close(reply.id)
        return False

    async def _ask(self, reply: Reply) -> None:
        """The question with its buttons. The token is saved before the send and
        reused if the same question is delivered again (after a crash between the send
        and the outbox's "sent"); the buttons then belong to the newest message, and a
        press under the older one is refused as stale."""
        ask = reply.meta["approval"]
        token = next(
            (t for t, q in self.state.questions.items() if q.get("reply") == reply.id), None
        ) or secrets.token_urlsafe(12)
        question = {
            "reply": reply.id,
            "actor": str(ask.get("actor")),
            "key": str(ask.get("key")),
            "chat_id": reply.chat_id,
            "text": reply.text,
            "at": self.clock(),
            "message_id": None,
        }
        self.state.questions[token] = question
        self.state.save()
        buttons = [Button(LABELS[c], f"a{letter}:{token}") for letter, c in CHOICES.items()]
        message_id = await self.platform.send_marked(
            reply.chat_id, reply.text, buttons=buttons, reply_to=reply.reply_to_message_id
        )
        question["message_id"] = message_id
        self.state.save()

    async def _decided(self, decided: dict[str, Any]) -> bool:
        """Close the question the worker says was answered; True when the notice need
        not be sent too (it answers a press, and the question now shows the answer)."""
        actor, key = decided.get("actor"), decided.get("key")
        shown = SHOWN.get(str(decided.get("decision")), "Answered")
        by = printable(str(decided.get("by") or "?"))[:100]
        closed = False
        for token, question in list(self.state.questions.items()):
            if question.get("actor") != actor or question.get("key") != key:
                continue
            if question.get("message_id"):
                text = f"{question.get('text', '')}\n\n{shown} by {by}"
                closed = await self._edit(question, text) or closed
            del self.state.questions[token]
        self.state.save()
        return closed and bool(decided.get("pressed"))

    async def _edit(self, question: dict[str, Any], text: str) -> bool:
        try:
            await self.platform.edit_marked(
                str(question["chat_id"]), str(question["message_id"]), text[:4000]
            )
        except PermanentDeliveryError as exc:  # deleted by the user, too old: nothing to do
            self.log.info("could not close a question: %s", exc)
            return False
        return True

    async def _step(self, reply: Reply) -> None:
        """Edit the run's status message (send it the first time), at most once every
        ``THROTTLE`` seconds per chat; a step inside the pause is skipped."""
        run = str(reply.meta.get("progress_of") or reply.id.split(".step")[0])
        chat = reply.chat_id
        now = self.clock()
        entry = self.state.status.get(run)
        text = reply.text[:4000]
        if run in self.state.ended:
            return  # a step that went out late: its run is answered, no new status
        if now - self._last_edit.get(chat, -THROTTLE) < THROTTLE:
            return
        if entry is not None and entry.get("text") == text:
            return  # already shown (a step delivered again after a restart)
        self._last_edit[chat] = now
        self.edits.append((chat, now))
        if entry is not None and entry.get("message_id"):
            try:
                await self.platform.edit_marked(chat, str(entry["message_id"]), text)
            except PermanentDeliveryError as exc:  # the user deleted it: start another
                self.log.info("status message of %s is gone (%s); sending a new one", run, exc)
            else:
                entry["text"] = text
                self.state.save()
                return
        message_id = await self.platform.send_marked(chat, text)
        self.state.status[run] = {
            "chat_id": chat,
            "message_id": message_id,
            "text": text,
            "at": now,
        }
        self.state.save()

    async def _close(self, run: str) -> None:
        """The answer is here: delete the run's status message (idempotent: a status
        message already gone counts as deleted)."""
        entry = self.state.status.get(run)
        if entry is None:
            if run not in self.state.ended:
                self.state.ended.append(run)
                self.state.save()
            return
        try:
            await self.platform.delete_marked(str(entry["chat_id"]), str(entry["message_id"]))
        except PermanentDeliveryError as exc:
            self.log.info("status message of %s was gone already: %s", run, exc)
        self.state.status.pop(run, None)
        self.state.ended.append(run)
        self._last_edit.pop(str(entry["chat_id"]), None)
        self.state.save()

    def forget_stale(self) -> None:
        """Status messages of runs that never ended (a reply lost to failed/) are not
        kept for ever."""
        cutoff = self.clock() - STALE_STATUS
        stale = [run for run, e in self.state.status.items() if float(e.get("at", 0)) < cutoff]
        for run in stale:
            del self.state.status[run]
        if stale:
            self.state.save()

    # -- incoming --------------------------------------------------------------------

    async def press(self, press: Press) -> Answer:
        """Check a pressed button against what this listener sent. The worker still
        checks who pressed it."""
        letter, _, token = press.data.partition(":")
        decision = CHOICES.get(letter[1:]) if letter.startswith("a") else None
        question = self.state.questions.get(token)
        if (
            decision is None
            or question is None
            or str(question.get("chat_id")) != press.chat_id
            or str(question.get("message_id")) != press.message_id
        ):
            return Answer(INVALID)
        actor, key = str(question["actor"]), str(question["key"])
        if not self._pending(actor, key):
            await self._edit(question, f"{question.get('text', '')}\n\n(no longer asked)")
            del self.state.questions[token]
            self.state.save()
            return Answer(GONE)
        return Answer(f"Sent: {LABELS[decision]}", actor=actor, key=key, decision=decision)

    def _pending(self, actor: str, key: str) -> bool:
        box = approvals_box(self.home, actor)
        name = safe_key(key)
        return (box / f"{name}.json").exists() and not (box / (name + ANSWER_SUFFIX)).exists()


async def safely(call: Callable[[], Any], log: logging.Logger, what: str) -> None:
    """Best effort for the acknowledgements a platform wants (answerCallbackQuery)."""
    try:
        await call()
    except DeliveryError as exc:
        log.warning("could not %s: %s", what, exc)
