"""Which CLI session continues which conversation, per actor, on disk.

One small JSON file per actor, in the actor's own folder (``actors/<actor>/sessions.json``),
replaced atomically on every change (tmp → fsync → rename), so a crash leaves the old
mapping or the new one and a restart resumes every conversation. Two processes write
it (the worker after each run, ``tinyclaw reset`` from a terminal), so every change is a
read-modify-write under a file lock beside it.

A reset must win over a run that was already under way when it came: the run started
from the old session and would write it (or its continuation) back when it ends. So
each conversation carries a *generation*, raised by every reset; a run reads the
generation with the session id (:meth:`SessionStore.lease`) and its result is stored
only if no reset happened since (:meth:`SessionStore.set` with that lease).

A file that cannot be read counts as empty: losing a session id only means the next
message starts a new conversation, which is better than not answering at all.

That is :class:`SessionStore`, the files. When the queue is on NATS the same
documents live in the bucket ``PREFIX_sessions``, one key per actor
(:class:`~tinyclaw.runners.kv_sessions.KVSessionStore`), so an actor's sessions follow
it to whichever worker node runs it. Both keep the rules above through
:class:`SessionKeeping`; :func:`~tinyclaw.runners.kv_sessions.open_session_store`
picks the home's, and :func:`copy_sessions` copies every actor's from one to another.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from filelock import FileLock

from tinyclaw.config import NAME_RE
from tinyclaw.core import (
    Home,
    InvalidFileError,
    UnsafePathError,
    atomic_write,
    read_json_object,
    unique_name,
)

log = logging.getLogger("tinyclaw.runner")

_VERSION = 2
FILE_NAME = "sessions.json"
MAX_FILE_BYTES = 16 * 1024 * 1024  # some 100,000 conversations; more is not ours
_ALL = "*"  # the generation key a reset of every conversation raises


@dataclass(frozen=True)
class Lease:
    """A conversation's session id as a run found it, and the reset generation then."""

    session_id: str | None
    generation: tuple[int, int]


T = TypeVar("T")


@dataclass
class SessionState:
    """One actor's document: session id per conversation, reset generations."""

    sessions: dict[str, str]
    generations: dict[str, int]

    def generation(self, conversation: str) -> tuple[int, int]:
        return self.generations.get(_ALL, 0), self.generations.get(conversation, 0)

    def to_json(self) -> bytes:
        payload = {
            "version": _VERSION,
            "sessions": dict(sorted(self.sessions.items())),
            "generations": dict(sorted(self.generations.items())),
        }
        return json.dumps(payload, indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SessionState:
        """The state in a parsed document; what is not well-formed counts as absent."""
        data = data or {}
        sessions = data.get("sessions")
        generations = data.get("generations")
        return cls(
            {str(k): v for k, v in sessions.items() if isinstance(v, str)}
            if isinstance(sessions, dict)
            else {},
            {str(k): v for k, v in generations.items() if isinstance(v, int)}
            if isinstance(generations, dict)
            else {},
        )


# A change of one actor's state: its result, and whether the state must be saved.
Change = Callable[[SessionState], tuple[T, bool]]


class Sessions(Protocol):
    """What the worker and ``tinyclaw reset`` need of a session store, and what
    :func:`copy_sessions` needs to move one."""

    def lease(self, actor: str, conversation: str) -> Lease: ...

    def get(self, actor: str, conversation: str) -> str | None: ...

    def set(
        self, actor: str, conversation: str, session_id: str, lease: Lease | None = None
    ) -> bool: ...

    def reset(self, actor: str, conversation: str | None = None) -> None: ...

    def actors(self) -> list[str]: ...

    def load_state(self, actor: str) -> SessionState: ...

    def replace_state(self, actor: str, state: SessionState) -> None: ...


class SessionKeeping:
    """The rules of leases, generations and resets over one document per actor;
    a store provides ``load_state`` and ``_change`` (read, change, save if asked)."""

    def load_state(self, actor: str) -> SessionState:
        raise NotImplementedError

    def _change(self, actor: str, change: Change[T]) -> T:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------

    def lease(self, actor: str, conversation: str) -> Lease:
        """The session a run should resume, with the generation to store its result."""
        state = self.load_state(actor)
        return Lease(state.sessions.get(conversation), state.generation(conversation))

    def get(self, actor: str, conversation: str) -> str | None:
        return self.lease(actor, conversation).session_id

    # -- writing -------------------------------------------------------------------

    def set(
        self, actor: str, conversation: str, session_id: str, lease: Lease | None = None
    ) -> bool:
        """Remember ``session_id`` for the conversation, unless a reset came after
        ``lease`` was taken (then the run's session is dropped: returns False)."""

        def remember(state: SessionState) -> tuple[bool, bool]:
            if lease is not None and state.generation(conversation) != lease.generation:
                log.info(
                    "actor=%s %s: reset during the run; its session is not kept",
                    actor,
                    conversation,
                )
                return False, False
            if state.sessions.get(conversation) == session_id:
                return True, False
            state.sessions[conversation] = session_id
            return True, True

        return self._change(actor, remember)

    def reset(self, actor: str, conversation: str | None = None) -> None:
        """Forget one conversation's session, or (``None``) all of the actor's; a run
        under way for it will not bring its session back."""

        def forget(state: SessionState) -> tuple[None, bool]:
            if conversation is None:
                state.sessions.clear()
                key = _ALL
            else:
                state.sessions.pop(conversation, None)
                key = conversation
            state.generations[key] = state.generations.get(key, 0) + 1
            return None, True

        self._change(actor, forget)

    def replace_state(self, actor: str, state: SessionState) -> None:
        """Make ``state`` the actor's document (copying a store)."""

        def replace(current: SessionState) -> tuple[None, bool]:
            current.sessions = dict(state.sessions)
            current.generations = dict(state.generations)
            return None, True

        self._change(actor, replace)


class SessionStore(SessionKeeping):
    """``lease``/``set``/``reset`` of session ids keyed by (actor, conversation), in
    files.

    ``root`` is the folder holding one folder per actor (the home's ``actors/``);
    ``legacy`` is where version 1 kept ``<actor>.json`` (read once, then moved)."""

    def __init__(self, root: Path, *, legacy: Path | None = None) -> None:
        self.root = root
        self.legacy = legacy
        # One lock per actor, not one for the store: actors run in parallel and each
        # has its own file (and file lock), so they need not wait for one another.
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, actor: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(actor, threading.Lock())

    def _file(self, actor: str) -> Path:
        if not NAME_RE.fullmatch(actor):
            raise UnsafePathError(f"{actor!r} is not a valid actor name")
        return self.root / actor / FILE_NAME

    def _read(self, file: Path) -> dict[str, Any] | None:
        try:
            return read_json_object(file, MAX_FILE_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("%s: unreadable session file, starting fresh: %s", file, exc)
            return None
        except InvalidFileError as exc:
            self._set_aside(file, exc)
            return None

    @staticmethod
    def _set_aside(file: Path, why: InvalidFileError) -> None:
        """A corrupt store (not JSON, nested 5,000 deep, a symlink) is moved aside as
        ``sessions.json.corrupt-<time>``, where a person can look at it; every
        conversation starts fresh instead of every message failing on it."""
        aside = file.with_name(f"{file.name}.corrupt-{unique_name()}")
        try:
            os.rename(file, aside)
        except FileNotFoundError:
            return  # another process moved it first
        except OSError as exc:
            log.warning("%s: corrupt session store (%s), cannot move it aside: %s", file, why, exc)
            return
        log.warning(
            "%s: corrupt session store (%s); moved to %s, conversations start fresh",
            file,
            why,
            aside.name,
        )

    def _load(self, actor: str) -> SessionState:
        data = self._read(self._file(actor))
        if data is None and self.legacy is not None:
            data = self._read(self.legacy / f"{actor}.json")
        return SessionState.from_json(data)

    def _save(self, actor: str, state: SessionState) -> None:
        file = self._file(actor)
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(file, state.to_json())
        if self.legacy is not None:
            (self.legacy / f"{actor}.json").unlink(missing_ok=True)

    def _locked(self, actor: str) -> FileLock:
        file = self._file(actor)
        file.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(file.with_suffix(".lock")), timeout=30)

    def load_state(self, actor: str) -> SessionState:
        with self._lock(actor):
            return self._load(actor)

    def _change(self, actor: str, change: Change[T]) -> T:
        with self._lock(actor), self._locked(actor):
            state = self._load(actor)
            result, save = change(state)
            if save:
                self._save(actor, state)
            return result

    def actors(self) -> list[str]:
        """The actors that have a session file (or one kept by version 1)."""
        found = {p.parent.name for p in self.root.glob(f"*/{FILE_NAME}")}
        if self.legacy is not None:
            found |= {p.stem for p in self.legacy.glob("*.json")}
        return sorted(name for name in found if NAME_RE.fullmatch(name))


def copy_sessions(source: Sessions, target: Sessions) -> int:
    """Copy every actor's sessions (and reset generations) from ``source`` to
    ``target``, replacing what ``target`` held for those actors; returns how many
    actors were copied. Used to move a home between the files and NATS; stop the
    worker first, or a session a run writes meanwhile is not copied."""
    actors = source.actors()
    for actor in actors:
        target.replace_state(actor, source.load_state(actor))
    return len(actors)


def home_sessions(home: Home) -> SessionStore:
    """The sessions of a home: in each actor's folder (version 1 kept them in
    ``state/sessions/``, which is read once and moved)."""
    return SessionStore(home.actors, legacy=home.state / "sessions")
