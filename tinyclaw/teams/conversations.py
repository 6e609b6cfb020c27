"""A team conversation's state, and where it is kept.

:class:`Conversations` is what the coordinator, the sweep and the worker ask of a
store. Its one write is :meth:`Conversations.change`, a read-modify-write of one
conversation as a single step, so two runs finishing at once (two members answering
together, on one machine or two) never lose each other's change. Two stores keep it:

* :class:`ConversationStore` (the home on files): ``state/conversations/<id>.json``
  (the id is the user's message id), rewritten by tmp → fsync → rename after every
  change, so a crash leaves the state before a step or after it, never half of one.
  Worker threads of one process share a conversation, so every change holds that
  conversation's lock. The worker is the only writer; ``tinyclaw trace`` only reads.
* ``SharedConversationStore`` (``shared_store.py``, a home on NATS): one key per
  conversation in a key-value bucket every worker node reads, changed by
  compare-and-set.

What the state holds, and why:

* ``rounds`` and ``branches``: every handoff an actor made (a branch), grouped by the
  message whose reply made them (a round). A round is complete when all its branches
  are answered; that is when the fan-in is written.
* ``outcomes``: what applying each message's result did, keyed by message id, with
  the exact files it must write. A replay finds the outcome and writes the same files
  again (same names, so nothing doubles) instead of deciding anew; ``delivered``
  marks that they are all written. This is also what records each answer once.
* ``started``: the messages allowed a CLI run, i.e. the run budget already spent.
* ``log``: the readable history the transcript is rendered from.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tinyclaw.core import ID_PATTERN, ConversationError, Inbound, Reply, atomic_write

log = logging.getLogger("tinyclaw.teams")

ID_RE = re.compile(ID_PATTERN)
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()

Status = Literal["open", "done", "limited", "cancelled"]
BranchStatus = Literal["open", "answered", "failed", "refused"]
OutcomeKind = Literal["opened", "answered", "gathered", "final", "limited", "cancelled", "late"]
EntryKind = Literal[
    "request", "handoff", "refused", "answer", "fanin", "final", "limit", "cancelled", "late"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Branch(_Model):
    """One task handed from one actor to another, and its answer once it came."""

    id: str
    round: str
    from_actor: str
    to_actor: str
    task: str
    hop: int
    opened_at: float
    message_id: str | None = None  # the handoff file; None for a refused branch
    status: BranchStatus = "open"
    answer: str | None = None
    answered_at: float | None = None


class Round(_Model):
    """The branches one reply opened. ``id`` is the message that reply answered."""

    id: str
    actor: str
    hop: int
    parent_branch: str | None  # what ``actor`` still owes an answer to; None: the user
    branches: list[str]
    fanin_id: str
    gathered: bool = False


class Outcome(_Model):
    """What applying one message's result did, and the files that says to write."""

    message_id: str
    actor: str
    kind: OutcomeKind
    at: float
    inbox: list[Inbound] = Field(default_factory=list)
    replies: list[Reply] = Field(default_factory=list)
    delivered: bool = False


class Entry(_Model):
    """One line of the conversation's history, for people (transcript, trace)."""

    at: float
    kind: EntryKind
    actor: str
    to: str | None = None
    branch: str | None = None
    hop: int | None = None
    message_id: str | None = None
    text: str = ""


class Conversation(_Model):
    v: Literal[1] = 1
    id: str
    team: str | None
    root_actor: str
    channel: str
    chat_id: str
    chat_key: str  # the user's conversation key: sessions are kept under it
    # The platform sender who started it (None: the home did, e.g. the terminal or a
    # schedule): their profile's actor limits hold for every handoff in it.
    sender_id: str | None = None
    message_id: str | None = None  # the platform's id of the user's message
    is_group: bool = False
    request: str = ""
    started_at: float
    status: Status = "open"
    ended_at: float | None = None
    end_reason: str = ""
    counters: dict[str, int] = Field(default_factory=dict)
    started: list[str] = Field(default_factory=list)
    rounds: dict[str, Round] = Field(default_factory=dict)
    branches: dict[str, Branch] = Field(default_factory=dict)
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    log: list[Entry] = Field(default_factory=list)

    def next(self, counter: str) -> int:
        """The next number of ``counter`` (handoffs, fan-ins, progress replies)."""
        value = self.counters.get(counter, 0) + 1
        self.counters[counter] = value
        return value

    @property
    def runs(self) -> int:
        return len(self.started)

    def answered(self) -> list[Branch]:
        """Branches with an answer (refusals included), in the order they opened."""
        return [b for b in self.branches.values() if b.answer is not None]


# A change of one conversation: given it as stored (None: there is none), return the
# conversation to store, or None to store nothing. It may be called more than once (a
# shared store retries it on a fresh copy when another machine wrote first), so it only
# edits its argument and records what it decided; side effects come after the change.
Edit = Callable[[Conversation | None], Conversation | None]
Saved = Callable[[Conversation], None]


class Conversations(Protocol):
    """What the teams code asks of a conversation store, wherever it keeps them."""

    def exists(self, conversation_id: str) -> bool: ...

    def load(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None; ConversationError for unreadable state."""
        ...

    def change(self, conversation_id: str, edit: Edit) -> Conversation | None:
        """Apply ``edit`` as one step against every other writer; the conversation
        as it now stands (None: there is none and ``edit`` made none)."""
        ...

    def all_ids(self) -> list[str]: ...

    def find(self, ident: str) -> Conversation | None:
        """The conversation with this id, or the one a message id belongs to."""
        ...

    def clean_tmp(self) -> int:
        """Remove half-written files a crash left (before the first write)."""
        ...


class ConversationStore:
    """Load, save and lock conversations under one directory. ``saved`` is called
    with each conversation :meth:`change` wrote, still under its lock (the coordinator
    writes the transcript beside it there, so transcripts are written in order)."""

    def __init__(self, root: Path, *, durable: bool = True, saved: Saved | None = None) -> None:
        self.root = root
        self.durable = durable
        self.saved = saved

    def path(self, conversation_id: str, suffix: str = ".json") -> Path:
        return self.root / f"{check_id(conversation_id)}{suffix}"

    def exists(self, conversation_id: str) -> bool:
        return self.path(conversation_id).exists()

    def load(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None if there is none; unreadable state is an error
        (the message then retries and lands in ``failed/``, never acts on a guess)."""
        path = self.path(conversation_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConversationError(f"{path}: cannot read: {exc}") from None
        try:
            return Conversation.model_validate_json(data)
        except ValidationError as exc:
            raise ConversationError(f"{path}: not a valid conversation: {exc}") from None

    def save(self, conversation: Conversation) -> None:
        body = conversation.model_dump_json(indent=1).encode("utf-8")
        atomic_write(self.path(conversation.id), body, durable=self.durable)

    def change(self, conversation_id: str, edit: Edit) -> Conversation | None:
        """Load, edit and save under the conversation's lock (see :class:`Conversations`)."""
        with self.locked(conversation_id):
            current = self.load(conversation_id)
            edited = edit(current)
            if edited is None:
                return current
            self.save(edited)
            if self.saved is not None:
                self.saved(edited)
            return edited

    @contextmanager
    def locked(self, conversation_id: str) -> Iterator[None]:
        """Hold the lock of one conversation (threads of this process). The locks are
        shared by every store of the process on the same folder: the worker's runs and
        the sweep service each have a store, and must exclude each other."""
        key = (str(self.root.absolute()), conversation_id)
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, threading.Lock())
        with lock:
            yield

    def clean_tmp(self) -> int:
        """Remove half-written files a crash left (the worker, the only writer, calls
        this before it writes anything)."""
        removed = 0
        for stray in self.root.glob("*.tmp"):
            stray.unlink(missing_ok=True)
            removed += 1
        return removed

    def all_ids(self) -> list[str]:
        try:
            names = sorted(
                entry.name[: -len(".json")]
                for entry in os.scandir(self.root)
                if entry.name.endswith(".json") and not entry.name.startswith(".")
            )
        except FileNotFoundError:
            return []
        return [n for n in names if ID_RE.fullmatch(n)]

    def find(self, ident: str) -> Conversation | None:
        return find_conversation(self, ident)


def find_conversation(store: Conversations, ident: str) -> Conversation | None:
    """The conversation with this id, or the one a message id belongs to (the user's
    message, a handoff, a fan-in or a progress reply); unreadable ones are skipped."""
    if ID_RE.fullmatch(ident):
        direct = _quiet_load(store, ident)
        if direct is not None:
            return direct
    for conversation_id in store.all_ids():
        if not ident.startswith(conversation_id + "."):
            continue
        found = _quiet_load(store, conversation_id)
        if found is not None:
            return found
    for conversation_id in store.all_ids():
        found = _quiet_load(store, conversation_id)
        if found is not None and _mentions(found, ident):
            return found
    return None


def _quiet_load(store: Conversations, conversation_id: str) -> Conversation | None:
    try:
        return store.load(conversation_id)
    except ConversationError as exc:
        log.warning("%s", exc)
        return None


def check_id(conversation_id: str) -> str:
    if not ID_RE.fullmatch(conversation_id):
        raise ConversationError(f"invalid conversation id {conversation_id!r}")
    return conversation_id


def _mentions(conversation: Conversation, ident: str) -> bool:
    if ident in conversation.outcomes:
        return True
    for outcome in conversation.outcomes.values():
        if any(m.id == ident for m in outcome.inbox) or any(r.id == ident for r in outcome.replies):
            return True
    return False
