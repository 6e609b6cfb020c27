"""The spool's backend interface: every queue operation tinyclaw needs, in one place.

A backend stores messages for actors and replies for channels, and moves each one
through a fixed set of states::

    put ──► incoming ──route──► inbox(actor) ──claim──► processing(actor) (rewrite: new
                                   ▲                        │      content, still claimed)
                                   ├──release (as it was) ──┤
                                   └──retry (attempt+1) ────┤
                                                            ├──complete──► (gone)
                                                            └──fail──────► failed (+ reason)

    put_reply ──► outgoing(channel) ──mark_sent──► sent(channel)
                        │  └─update_reply (delivery progress, deferral)
                        └──fail──► failed (+ reason)

The rules every backend keeps, which the contract tests in ``tests/spool/contract.py``
check:

* **Handles are opaque.** ``claim`` and the listings hand out a ``Handle``; callers
  pass it back and never look inside. (The Maildir backend's handle is the file's
  path; a JetStream backend's is the delivered message with its ack token.)
* **FIFO per actor.** ``pending(actor)`` yields the oldest first.
* **One winner per claim.** Two claimers of one handle: one gets a handle, the other
  ``None`` and moves on. No lock is held between calls.
* **A reply is keyed by its message id.** ``put_reply`` twice with one id leaves
  one reply (the second replaces the first), and ``reply_exists`` stays true once it
  is sent: that is how a replay after a crash finds the work already done.
* **The seen filter.** ``put(..., dedupe_key=k)`` queues a message at most once per
  channel and key; the second call returns ``None``.
* **Nothing is dropped silently.** ``fail`` keeps the message with its reason; a
  message that cannot be read is failed, never retried for ever and never lost.
* **Recovery.** ``recover`` returns every claim a crashed process left to its
  actor's inbox with one attempt counted, failing it past ``max_attempts``.

The session and pairing stores have their own file implementations; on a shared
backend they live in its :class:`KeyValue` buckets (the JetStream backend's
``kv(name)``: ``sessions``, ``pairing``). Schedules keep their files today.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from tinyclaw.config import NAME_RE
from tinyclaw.core import CHANNEL_PATTERN, Inbound, Reply, UnsafePathError

Handle = TypeVar("Handle")
_CHANNEL_RE = re.compile(CHANNEL_PATTERN)


def check_actor(name: str) -> str:
    """``name`` if it is a valid actor name: every backend builds folder names or
    subjects from it, so anything else (``..``, a dot, a slash) is refused."""
    if not NAME_RE.fullmatch(name):
        raise UnsafePathError(f"invalid actor name {name!r}")
    return name


def check_channel(name: str) -> str:
    """``name`` if it is a valid channel name (see :func:`check_actor`)."""
    if not _CHANNEL_RE.fullmatch(name):
        raise UnsafePathError(f"invalid channel name {name!r}")
    return name


def retry_delay(backoff: float, attempts: int) -> float:
    """How long a message waits before its ``attempts``-th retry: doubling each time."""
    return float(backoff * 2.0 ** (attempts - 1))


Whereabouts = Literal["waiting", "running", "failed", "gone"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where one message addressed to an actor is (:meth:`SpoolBackend.locate`):

    * ``waiting``: in the actor's inbox (due or backing off, or its dead claim's lease
      ran out): a run will take it;
    * ``running``: claimed for a run that is still alive;
    * ``failed``: set aside among the failed, ``reason`` saying why;
    * ``gone``: none of these: completed, or never queued.

    A team conversation asks this of its handoffs: a task that is waiting or running
    will be answered by its run, a failed one never will."""

    state: Whereabouts
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Recovered:
    """What one recovery pass did: claims returned, messages failed, half-written
    puts finished."""

    requeued: int = 0
    failed: int = 0
    rolled: int = 0


class SpoolBackend(Protocol[Handle]):
    """The operations of one home's queue, whatever stores it."""

    # -- messages ------------------------------------------------------------------

    def put(self, message: Inbound, *, dedupe_key: str | None = None) -> Handle | None:
        """Queue a new message for routing. With ``dedupe_key`` (the platform's
        message key) a second put with the same channel and key returns None."""
        ...

    def put_for(self, actor: str, message: Inbound) -> Handle:
        """Queue a routed message straight into ``actor``'s inbox (a handoff, an
        operator line, a steering note)."""
        ...

    def route(self, handle: Handle, actor: str) -> Handle | None:
        """Move a message from incoming into ``actor``'s inbox, behind those already
        there; None if another process took it."""
        ...

    def pending(self, actor: str) -> Iterator[Handle]:
        """``actor``'s inbox, oldest first, lazily (the worker needs only the head)."""
        ...

    def load(self, handle: Handle) -> Inbound:
        """The message behind a handle; InvalidMessageError if it cannot be one,
        FileNotFoundError if another process took it meanwhile."""
        ...

    def claim(self, handle: Handle, actor: str) -> Handle | None:
        """Take a pending message for ``actor``'s run; None if someone else won."""
        ...

    def release(self, handle: Handle, actor: str) -> Handle | None:
        """Return a claim to ``actor``'s inbox unchanged, no attempt counted (the
        worker stops, or the disk is full): it runs again as if never taken."""
        ...

    def rewrite(self, handle: Handle, message: Inbound) -> Handle:
        """Replace the content of a claimed message, keeping the claim (a voice note's
        transcript is written in before the run, so a crash after it neither
        transcribes again nor tells the user twice). From then on ``load`` returns
        ``message``, after a release or a retry too; the handle to use from then on is
        returned."""
        ...

    def complete(self, handle: Handle) -> None:
        """Release a claim whose result (the reply) is already written."""
        ...

    def fail(self, handle: Handle, reason: str) -> Handle | None:
        """Keep the message aside with ``reason``; None if it was already gone."""
        ...

    def reject(self, name: str, data: bytes, reason: str) -> Handle | None:
        """Keep bytes that never were a queued message (a file dropped by an actor)
        among the failed, under ``name``, with ``reason``."""
        ...

    def retry(
        self, handle: Handle, actor: str, max_attempts: int, backoff: float, why: str
    ) -> bool:
        """Count an attempt and return the claim to ``actor``'s inbox, due after
        ``backoff * 2**(attempts-1)`` seconds; past ``max_attempts`` fail it with
        ``why``. False if it was failed."""
        ...

    def locate(self, actor: str, message_id: str) -> Location:
        """Where message ``message_id`` of ``actor`` is (see :class:`Location`). Looks
        at the actor's inbox and claims first, then among the failed (a message
        failed twice keeps its first reason), so a message moving between states is
        never reported ``gone``. UnsafePathError for an invalid actor name."""
        ...

    # -- replies -------------------------------------------------------------------

    def put_reply(self, reply: Reply) -> Handle:
        """Queue ``reply`` for its channel under its id, replacing an earlier one."""
        ...

    def replies(self, channel: str) -> list[Handle]:
        """The channel's waiting replies, oldest first."""
        ...

    def load_reply(self, handle: Handle) -> Reply:
        """The reply behind a handle (errors as for :meth:`load`)."""
        ...

    def update_reply(self, handle: Handle, reply: Reply) -> bool:
        """Store a waiting reply's new state (delivery progress, a deferral); False
        if it is no longer waiting (sent or failed meanwhile), and nothing is written."""
        ...

    def mark_sent(self, handle: Handle, channel: str) -> Handle | None:
        """The platform accepted the whole reply: move it to the delivery ledger."""
        ...

    def reply_exists(self, channel: str, reply_id: str) -> bool:
        """Whether a reply with this id is waiting or already sent (a replay that
        writes it again would replace progress or send it twice)."""
        ...

    # -- attachments ---------------------------------------------------------------

    def save_attachment(self, message_id: str, name: str, data: bytes) -> str:
        """Store one downloaded file of message ``message_id``; returns the locator
        that goes into ``Attachment.path``. ``name`` is unique within the message."""
        ...

    def read_attachment(self, locator: str, limit: int = ...) -> bytes:
        """The bytes of a saved attachment (at most ``limit + 1``, so a caller can
        say "too large"); FileNotFoundError once it is discarded."""
        ...

    def discard_attachments(self, message_id: str) -> None:
        """Forget every file of a message that was not queued after all."""
        ...

    # -- upkeep --------------------------------------------------------------------

    def recover(
        self,
        max_attempts: int,
        backoff: float,
        ran: Callable[[str], bool] = ...,
    ) -> Recovered:
        """Put right what a crashed process left: every claim goes back to its inbox
        with an attempt counted (or as it is when ``ran(message_id)`` says its result
        is saved), half-finished puts are finished or discarded."""
        ...

    def depths(self) -> dict[str, int]:
        """How many messages each state holds (incoming, inboxes, processing,
        outgoing, failed), for status and metrics."""
        ...

    # -- speed (each may do nothing) --------------------------------------------------

    def flush(self) -> None:
        """Make every change made so far durable. A backend may leave the last step
        of an operation that has no successor (``complete``) to share its commit with
        the next one; the worker calls this when it idles and before it stops."""
        ...

    def arrived(self, path: Path) -> bool:
        """A file watcher saw ``path`` arrive (a hint; the file may be gone again).
        A backend that keeps its inboxes' listings in memory learns the name; one
        without files ignores it. False when the arrival is the echo of this
        process's own routing: the watcher need not wake the worker for it."""
        ...

    def forget_listings(self) -> None:
        """Whatever the listings of inboxes and incoming keep in memory is looked up
        afresh next time: the watcher lost events, or a worker node's timed rescan
        (a read may have been answered from an outdated copy)."""
        ...


class KeyValue(Protocol):
    """A small durable map (sessions, the pairing store, schedule state, leases): what
    a backend shared by several machines must provide besides the queue. Values are
    bytes; ``put`` replaces atomically.

    ``create`` and ``update`` are compare-and-set: ``create`` writes only a key that
    is not set, ``update`` only over the revision the caller read (from ``entry``);
    each returns the new revision, or None when another writer got there first. A
    lease is a key created by its holder, renewed with ``update``, and taken over
    with ``update`` by whoever finds it expired."""

    def get(self, key: str) -> bytes | None: ...

    def entry(self, key: str) -> tuple[bytes, int] | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def create(self, key: str, value: bytes) -> int | None: ...

    def update(self, key: str, value: bytes, revision: int) -> int | None: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...
