"""A worker node's view of the NATS spool, in the shape the worker's loop was built on.

The worker was written against the file spool: besides the queue operations of
:class:`~tinyclaw.spool.SpoolBackend` it names boxes by folder (``spool.incoming``,
``spool.inbox(actor)``) for its watcher, its listings and its sweeps, passes
``sync=`` to moves, and points its disk guard at ``spool.tmp``. :class:`NodeSpool`
answers those calls for a JetStream spool, so the loop runs unchanged:

* a box is a folder name under ``state/nats-node/`` that is never written to; listing
  it lists the stream (``incoming`` or the actor's inbox subject), and the file
  sweeps that walk these folders (stale tmp files, strays, old ledger files) find
  nothing, which is right: the streams keep no such files;
* **only the node's actors are served**: ``pending`` and the inbox listings of any
  other actor are empty, and an incoming message for another node's actor is left in
  incoming for that node to route (``route`` answers None). So each message is routed
  by one node, the one that runs its actor, in the order it was queued: two nodes
  never race to publish it, and an actor's inbox keeps the order of incoming. What
  needs no actor (a command, a refusal, an unknown ``@name``) is answered by the
  first node to look, as before;
* **incoming is listed from where this node left off**: the messages it routed,
  answered, failed or left for another node are behind it, so a pass walks only what
  arrived since (and what the router put off after a passing error); every
  ``RELIST_EVERY`` seconds it walks incoming and its inboxes from their start again
  (see :meth:`~tinyclaw.spool.jetstream.JetStreamSpool.forget_listings`: a read that
  a cluster answered from an outdated copy hides a message until then, not for ever);
* attachments live in the object store; :meth:`NodeSpool.load` copies a message's
  into ``state/nats-node/files/<seq>/`` and points the message at the copies, for the
  CLI to open (gone once the message is completed or failed);
* ``sync`` does nothing (every publish is acknowledged by the server before it
  returns); ``rewrite`` keeps the new content with the message's claim (see
  :meth:`~tinyclaw.spool.jetstream.JetStreamSpool.rewrite`), and a rewrite "into the
  inbox" gives the claim back afterwards;
* **a short outage is served through**: while the servers do not answer (a cluster
  electing new leaders after one of its servers died takes several seconds), the
  listings each pass makes are empty and a claim is not taken, so the loop idles and
  its runs in flight go on, their reply and completion waiting for an answer; only
  after ``UNREACHABLE_GRACE`` seconds without one does the call's error stop the
  worker (its supervisor starts it again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tinyclaw.core import (
    Home,
    Inbound,
    InvalidMessageError,
    Reply,
    SpoolError,
    SpoolUnavailableError,
)

NATS_OBJECT = "nats-object:"  # the locator of a file in the object store
# Seconds a node serves on while the servers do not answer, before it stops.
UNREACHABLE_GRACE = 30.0

log = logging.getLogger("tinyclaw.worker")
T = TypeVar("T")
RELIST_EVERY = 15.0  # seconds between walks of the whole of incoming and the inboxes


class NodeSpool:
    """The JetStream spool ``inner``, serving the actors ``actors`` of one node."""

    def __init__(
        self, inner: Any, home: Home, actors: frozenset[str], node: str | None = None
    ) -> None:
        self.inner = inner
        self.actors = actors
        self.node = node  # None: the one node of a home without [nodes], every actor
        self._wake: Callable[[], None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self.clock: Callable[[], float] = inner.clock
        self.root = home.state / "nats-node"
        self.incoming = self.root / "incoming"
        self.tmp = self.root / "tmp"
        self.files_root = self.root / "files"
        self.sent_root = self.root / "sent"
        self.seen_root = self.root / "seen"
        self._inboxes = self.root / "inbox"
        for folder in (self.incoming, self.tmp, self.files_root, self._inboxes):
            folder.mkdir(parents=True, exist_ok=True)
        self._silent_since: float | None = None  # when the servers stopped answering
        # Incoming from ``_from`` on is what this node has still to look at; the
        # sequences it listed since, and which of those it settled (routed, answered,
        # failed, left for another node). A listed one not settled (put off) is next.
        self._from = 1
        self._listed: list[int] = []
        self._settled: set[int] = set()
        self._relist_at = time.monotonic() + RELIST_EVERY

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the queue operations themselves

    # -- boxes, by the names the worker gives them ----------------------------------

    def inbox(self, actor: str) -> Path:
        return self._inboxes / actor

    def ensure_box(self, box: Path) -> None:
        """Nothing to create: an inbox is a subject of the queue stream."""

    def actors_with_inbox(self) -> list[str]:
        return sorted(self.actors)

    def list_box(self, box: Path) -> list[Any]:
        if box == self.incoming:
            return self._incoming()
        if box.parent == self._inboxes:
            return list(self.pending(box.name))
        return []

    def _incoming(self) -> list[Any]:
        """Incoming from the first message this node has not settled yet."""
        unsettled = [seq for seq in self._listed if seq not in self._settled]
        if unsettled:
            self._from = min(unsettled)
        elif self._listed:
            self._from = max(self._listed) + 1
        now = time.monotonic()
        if now >= self._relist_at:
            self._from, self._relist_at = 1, now + RELIST_EVERY
            self.inner.forget_listings()  # the inboxes too, from their start
        handles: list[Any] = list(self._patiently(self.inner.incoming(self._from)))
        self._listed = [handle.seq for handle in handles]
        self._settled.clear()
        return handles

    def _settle(self, handle: Any) -> None:
        if getattr(handle, "box", None) == "incoming":
            self._settled.add(handle.seq)

    def box_names(self, box: Path) -> list[str]:
        return [handle.name for handle in self.list_box(box)]

    def pending(self, actor: str) -> Iterator[Any]:
        """The actor's inbox if this node runs it; nothing for another node's actor."""
        if actor not in self.actors:
            return iter(())
        return self._patiently(self.inner.pending(actor))

    def _patiently(self, handles: Iterator[Any]) -> Iterator[Any]:
        """``handles``, ending early (as if nothing more waited) while the servers do
        not answer, within ``UNREACHABLE_GRACE``."""
        try:
            for handle in handles:
                self._silent_since = None
                yield handle
        except SpoolUnavailableError as exc:
            self._silent(exc)
            return
        self._silent_since = None

    def _silent(self, exc: SpoolUnavailableError) -> None:
        """Note that the servers did not answer; raise ``exc`` once they have been
        silent for longer than ``UNREACHABLE_GRACE``."""
        now = time.monotonic()
        if self._silent_since is None:
            self._silent_since = now
            log.warning(
                "the NATS spool does not answer (%s); serving on, for up to %gs",
                exc,
                UNREACHABLE_GRACE,
            )
        if now - self._silent_since > UNREACHABLE_GRACE:
            raise exc

    def watch_queue(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Wake the loop when something is queued into incoming or this node's inboxes
        (those of the actors it serves now: see :meth:`serve`)."""
        self._wake = wake
        self._unwatch = self.inner.watch_queue(sorted(self.actors), wake)
        return self._stop_watching

    def _stop_watching(self) -> None:
        unwatch, self._unwatch, self._wake = self._unwatch, None, None
        if unwatch is not None:
            unwatch()

    def serve(self, actors: frozenset[str]) -> None:
        """Serve ``actors`` from now on (a reload moved actors to or from this node):
        take only their messages, return only their claims, and be woken by their
        inboxes. A run of an actor no longer served finishes; a newly served actor's
        message claimed by another node is left to that claim's lease. Incoming is
        walked again from its start: what this node left there for the node that ran
        a newly served actor is now its own to route."""
        if actors == self.actors:
            return
        self.actors = actors
        self._from, self._listed = 1, []
        self._settled.clear()
        if self.inner.actors is not None:
            self.inner.actors = actors
        wake = self._wake
        if wake is not None:
            old = self._unwatch
            self._unwatch = self.inner.watch_queue(sorted(actors), wake)
            if old is not None:
                old()

    # -- messages and their files ---------------------------------------------------

    def load(self, handle: Any) -> Inbound:
        """The message, its attachments copied out of the object store for the CLI.
        An attachment the store no longer has makes the message unrunnable
        (InvalidMessageError: it is failed with that reason)."""
        message: Inbound = self.inner.load(handle)
        if not any(a.path.startswith(NATS_OBJECT) for a in message.attachments):
            return message
        folder = self.files_root / str(handle.seq)
        folder.mkdir(parents=True, exist_ok=True)
        copies = []
        for index, attachment in enumerate(message.attachments):
            if attachment.path.startswith(NATS_OBJECT):
                name = Path(attachment.name).name or f"file-{index}"
                target = folder / name
                if not target.exists():
                    try:
                        data = self.inner.read_attachment(attachment.path)
                    except FileNotFoundError as exc:
                        raise InvalidMessageError(f"attachment {name!r}: {exc}") from None
                    staged = folder / f".{name}.{os.getpid()}.tmp"
                    staged.write_bytes(data)
                    os.replace(staged, target)
                attachment = attachment.model_copy(update={"path": str(target)})
            copies.append(attachment)
        return message.model_copy(update={"attachments": copies})

    def _with_locators(self, handle: Any, message: Inbound) -> Inbound:
        """``message`` as it was loaded, its attachments pointing at the object store
        again instead of this machine's copies (which go with the run): the stored
        message stays readable wherever it runs next."""
        copies = self.files_root / str(handle.seq)
        stored = self.inner.load(handle).attachments
        if len(stored) != len(message.attachments):
            return message
        attachments = [
            mine.model_copy(update={"path": original.path})
            if Path(mine.path).parent == copies and original.path.startswith(NATS_OBJECT)
            else mine
            for mine, original in zip(message.attachments, stored, strict=True)
        ]
        return message.model_copy(update={"attachments": attachments})

    def _forget_files(self, handle: Any) -> None:
        with contextlib.suppress(AttributeError):
            shutil.rmtree(self.files_root / str(handle.seq), ignore_errors=True)

    def _until_answered(self, call: Callable[[], T]) -> T:
        """``call``, tried again while the servers do not answer (within
        ``UNREACHABLE_GRACE``): the writes that end a run are idempotent, and failing
        one half-way would leave the message claimed with nobody renewing it."""
        while True:
            try:
                result = call()
            except SpoolUnavailableError as exc:
                self._silent(exc)
                time.sleep(0.5)
                continue
            self._silent_since = None
            return result

    def put_reply(self, reply: Reply) -> Any:
        return self._until_answered(lambda: self.inner.put_reply(reply))

    def complete(self, handle: Any) -> None:
        self._until_answered(lambda: self.inner.complete(handle))
        self._settle(handle)
        self._forget_files(handle)

    def fail(self, handle: Any, reason: str) -> Any:
        failed = self.inner.fail(handle, reason)
        self._settle(handle)
        self._forget_files(handle)
        return failed

    # -- moves: the server acknowledges each, so there is nothing to sync -------------

    def sync(self, box: object) -> None:
        """Every publish and delete is durable once the server answered it."""

    def claim(self, handle: Any, actor: str, *, sync: bool = True) -> Any:
        """The claim; None (not taken, as if another claimer came first) while the
        servers do not answer. A claim written whose answer was lost is not renewed
        and comes back once its lease runs out."""
        try:
            return self.inner.claim(handle, actor)
        except SpoolUnavailableError as exc:
            self._silent(exc)
            return None

    def release(self, handle: Any, actor: str, *, sync: bool = True) -> Any:
        return self.inner.release(handle, actor)

    def route(self, handle: Any, actor: str, *, sync: bool = True) -> Any:
        """Route the message into ``actor``'s inbox if this node runs the actor;
        None (and the message left in incoming) if another node does: that node
        routes it, in its turn."""
        routed = self.inner.route(handle, actor) if actor in self.actors else None
        self._settle(handle)  # not when the route raised: the next pass tries again
        self._forget_files(handle)  # copied when the router read it; the run copies anew
        return routed

    def rewrite(self, handle: Any, message: Inbound, box: object = None) -> Any:
        """New content for a claimed message, kept with its claim (the spool's
        ``rewrite``). Given its actor's inbox as ``box`` (the file spool's "rewrite
        into the inbox": a retry with new content), the claim is then given back, so
        the message waits in the inbox, rewritten, for its next run."""
        rewritten = self.inner.rewrite(handle, self._with_locators(handle, message))
        actor = handle.actor
        if actor is not None and box == self.inbox(actor):
            released = self.inner.release(rewritten, actor)
            if released is None:
                raise SpoolError(
                    f"{handle.name}: its claim was taken over before it was given back"
                )
            return released
        return rewritten
