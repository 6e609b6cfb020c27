"""Team conversations in a key-value bucket, for a home whose worker nodes share NATS.

On several machines a conversation's steps run on several nodes: the lead on one
hands a task to a member on another, whose answer must land in the same state, and
two members on two nodes may answer at the same moment. So the state cannot be a
file in one home: it is one key per conversation (its id) in the bucket ``teams``
(``PREFIX_teams`` on the servers), holding the same JSON the file store writes.

A change is a compare-and-set: read the value and its revision, apply the edit to
that copy, write it only over that revision. When another node wrote in between the
write is refused and the edit runs again on the fresh copy, so neither change is
lost and no lock is held across machines. Threads of one process working on one
spool (the worker's runs and its sweep) also take the conversation's lock first, so
they queue instead of racing each other's writes.

The Markdown transcript is written on the node that saved, into its own home's
``state/conversations/<id>.md`` (see :mod:`tinyclaw.teams.transcript`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tinyclaw.config import Config
from tinyclaw.core import ConversationError, Home
from tinyclaw.spool import ChangedMeanwhile, KeyValue, SpoolBackend, change_key
from tinyclaw.teams.conversations import (
    ID_RE,
    Conversation,
    Conversations,
    ConversationStore,
    Edit,
    Saved,
    check_id,
    find_conversation,
)
from tinyclaw.teams.transcript import TranscriptFiles

BUCKET = "teams"
# Compare-and-set attempts before a change gives up (ConversationError: the message
# that wanted it is retried). Writers of one conversation are its few actors' runs.
MAX_WRITES = 50

_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class SharedConversationStore:
    """Conversations as keys of one :class:`~tinyclaw.spool.KeyValue` bucket."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        saved: Saved | None = None,
        transcripts: Path | None = None,
        scope: object = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``transcripts`` is the folder ``saved`` writes into (cleaned of a crash's
        half-written files by :meth:`clean_tmp`). Stores with one ``scope`` (the
        spool they were opened on; default: ``kv``) share their in-process locks."""
        self.kv = kv
        self.scope = id(kv if scope is None else scope)
        self.saved = saved
        self.transcripts = transcripts
        self.sleep = sleep

    def exists(self, conversation_id: str) -> bool:
        return self.kv.get(check_id(conversation_id)) is not None

    def load(self, conversation_id: str) -> Conversation | None:
        found = self.kv.get(check_id(conversation_id))
        return None if found is None else _parse(conversation_id, found)

    def change(self, conversation_id: str, edit: Edit) -> Conversation | None:
        key = check_id(conversation_id)

        def apply(raw: bytes | None) -> tuple[bytes | None, tuple[Conversation | None, bool]]:
            current = None if raw is None else _parse(key, raw)
            edited = edit(current)
            if edited is None:
                return None, (current, False)
            return edited.model_dump_json().encode("utf-8"), (edited, True)

        with _lock(self.scope, key):
            try:
                result, saved = change_key(self.kv, key, apply, tries=MAX_WRITES, sleep=self.sleep)
            except ChangedMeanwhile:
                raise ConversationError(
                    f"conversation {conversation_id}: changed by others {MAX_WRITES} times in a row"
                ) from None
            if saved and result is not None and self.saved is not None:
                self.saved(result)
            return result

    def all_ids(self) -> list[str]:
        return sorted(k for k in self.kv.keys() if ID_RE.fullmatch(k))  # noqa: SIM118

    def find(self, ident: str) -> Conversation | None:
        return find_conversation(self, ident)

    def clean_tmp(self) -> int:
        if self.transcripts is None:
            return 0
        return ConversationStore(self.transcripts).clean_tmp()


def _lock(scope: int, key: str) -> threading.Lock:
    """The lock of one conversation in one scope (the worker's runs and its sweep
    each have a store on the same spool). Only a courtesy: the compare-and-set alone
    keeps every change."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((scope, key), threading.Lock())


def _parse(conversation_id: str, data: bytes) -> Conversation:
    """Unreadable state is an error, never a guess (as on files)."""
    try:
        return Conversation.model_validate_json(data)
    except ValidationError as exc:
        raise ConversationError(
            f"conversation {conversation_id} in the {BUCKET} bucket is not valid: {exc}"
        ) from None


def open_conversations(
    home: Home, config: Config, spool: SpoolBackend[Any], *, durable: bool = True
) -> Conversations:
    """The conversation store of this home: files in ``state/conversations/`` on the
    file spool, the ``teams`` bucket on NATS (every node shares it). Either way the
    transcript is written into this home's ``state/conversations/``."""
    folder = home.state / "conversations"
    transcripts = TranscriptFiles(folder, durable=durable)
    if config.spool.backend == "file":
        return ConversationStore(folder, durable=durable, saved=transcripts)
    shared: Callable[[str], KeyValue] | None = getattr(spool, "kv", None)
    if shared is None:
        raise ConversationError(
            f"[spool] backend = {config.spool.backend!r} keeps no key-value store"
        )
    return SharedConversationStore(
        shared(BUCKET), saved=transcripts, transcripts=folder, scope=spool
    )
