"""The session store in a key-value bucket of the NATS spool, and the choice of store.

On a home whose queue is on NATS an actor may move to another worker node (its
workspace on shared storage); the CLI sessions it resumes must follow it, so they
live in the bucket ``PREFIX_sessions``, one key per actor (the actor's name) holding
the same document as ``actors/<actor>/sessions.json``: the session id of each
conversation (``channel:chat_id`` and the other conversation keys the worker uses)
and the reset generations.

A change reads the actor's document with its revision and writes it back only over
that revision (compare-and-set), running the change again on what another writer
saved (a ``tinyclaw reset`` on one machine while the node records a run's session),
so a reset is never lost and a run that started before it never brings its session
back. Servers that do not answer raise :class:`SpoolUnavailableError` (the run is
retried later, as any run whose queue is away); a document that cannot be parsed
counts as empty, as a damaged file does, and is replaced by the next change.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tinyclaw.config import NAME_RE, Config
from tinyclaw.core import Home, SpoolError, UnsafePathError
from tinyclaw.runners.sessions import (
    Change,
    SessionKeeping,
    Sessions,
    SessionState,
    home_sessions,
)
from tinyclaw.spool import ChangedMeanwhile, KeyValue, change_key, open_store_bucket

log = logging.getLogger("tinyclaw.runner")

BUCKET = "sessions"

T = TypeVar("T")


class KVSessionStore(SessionKeeping):
    """The sessions of every actor of a home, in ``kv`` (its ``sessions`` bucket)."""

    def __init__(self, kv: KeyValue, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.kv = kv
        self._sleep = sleep

    def load_state(self, actor: str) -> SessionState:
        found = self.kv.entry(_key(actor))
        return _parse(actor, None if found is None else found[0])

    def _change(self, actor: str, change: Change[T]) -> T:
        def edit(raw: bytes | None) -> tuple[bytes | None, T]:
            state = _parse(actor, raw)
            result, save = change(state)
            return (state.to_json() if save else None), result

        try:
            return change_key(self.kv, _key(actor), edit, sleep=self._sleep)
        except ChangedMeanwhile:
            raise SpoolError(
                f"the sessions of @{actor} kept changing while being written; try again"
            ) from None

    def actors(self) -> list[str]:
        stored = self.kv.keys()  # a KeyValue, not a dict: keys() is its listing
        return [key for key in stored if NAME_RE.fullmatch(key)]


def _key(actor: str) -> str:
    if not NAME_RE.fullmatch(actor):
        raise UnsafePathError(f"{actor!r} is not a valid actor name")
    return actor


def _parse(actor: str, raw: bytes | None) -> SessionState:
    if raw is None:
        return SessionState.from_json(None)
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        log.warning(
            "sessions of @%s on NATS are damaged (%s); conversations start fresh", actor, exc
        )
        data = None
    return SessionState.from_json(data if isinstance(data, dict) else None)


def open_session_store(home: Home, config: Config | None, spool: object = None) -> Sessions:
    """The home's session store, as ``[spool]`` says: each actor's
    ``sessions.json`` on files; on NATS the bucket ``PREFIX_sessions``, through
    ``spool``'s connection when it is a NATS spool, else a connection of its own."""
    kv = open_store_bucket(config, BUCKET, spool) if config is not None else None
    if kv is None:
        return home_sessions(home)
    return KVSessionStore(kv)
