"""The JetStream backend: the spool on NATS, shared by worker nodes on several machines.

The streams and buckets are named in :mod:`~tinyclaw.spool.jetstream.layout`. How
each promise of :class:`~tinyclaw.spool.backend.SpoolBackend` is kept:

* **FIFO per actor.** An actor's inbox is one subject of the queue stream; ``pending``
  walks it in stream order (the server's next-by-subject lookup), lazily.
* **One winner per claim.** A claim is the message's record in the claims bucket,
  written with compare-and-set (create, or update over the revision ``pending`` saw);
  the loser's write is refused and it gets None. The message itself stays in place,
  so a released or retried claim keeps its place at the head of the inbox.
* **Redelivery.** A claim is a lease: the process holding it renews it every third of
  ``claim_ttl``. A holder that dies stops renewing; once the lease has run out the
  message is pending again, and the next claim takes it over with one delivery and
  one attempt counted. After ``max_deliveries`` claims that never ended (complete,
  release, retry, fail) the message goes to the failed stream with that reason.
* **The seen filter** is JetStream's publish dedupe: a put with a platform key carries
  ``Nats-Msg-Id: seen:<channel>:<key>`` and the server answers a second one within the
  stream's dedupe window (``dedupe_hours``) as a duplicate.
* **Replies** live on one subject per message id in a stream keeping one message per
  subject, so a replay replaces the earlier reply instead of adding one. A reply is
  written before its claim is completed; ``reply_exists`` looks at the waiting subject
  and the delivery ledger, so after a crash between the two the redelivered message
  is seen to be answered and the CLI does not run again.
* **Nothing is dropped silently.** ``fail`` publishes the message to the failed stream
  with ``Tinyclaw-Reason`` before it deletes the original.
* **Attachments** go into the object store; a locator is ``nats-object:<id>/<name>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyclaw.core import Inbound, InvalidMessageError, SpoolError, dump, load_inbound
from tinyclaw.spool.backend import Recovered, check_actor, check_channel, retry_delay
from tinyclaw.spool.jetstream.connection import NatsConnection
from tinyclaw.spool.jetstream.files import Attachments
from tinyclaw.spool.jetstream.heads import HeadCache, OwnPublishes
from tinyclaw.spool.jetstream.kv import JetStreamKeyValue
from tinyclaw.spool.jetstream.layout import Layout
from tinyclaw.spool.jetstream.replies import Replies
from tinyclaw.spool.jetstream.streams import (
    ClaimState,
    Handle,
    message_key,
)
from tinyclaw.spool.jetstream.whereabouts import Whereabouts

if TYPE_CHECKING:
    from tinyclaw.spool.backend import SpoolBackend

log = logging.getLogger("tinyclaw.spool.nats")


class JetStreamSpool(Replies, Attachments, Whereabouts):
    """All queue operations of one home on NATS JetStream. Thread-safe: every call
    goes through one connection's loop thread; no state is kept between calls but the
    claims this process holds (to renew their leases)."""

    def __init__(
        self,
        conn: NatsConnection,
        *,
        prefix: str = "tinyclaw",
        replicas: int = 1,
        clock: Callable[[], float] = time.time,
        redact: Callable[[str], str] | None = None,
        claim_ttl: float = 60.0,
        max_deliveries: int = 5,
        dedupe_hours: float = 48.0,
        sent_days: float = 14.0,
        actors: frozenset[str] | None = None,
        setup_timeout: float = 30.0,
        owns_connection: bool = False,
    ) -> None:
        """``actors`` is the set a worker node owns: ``recover`` returns only their
        claims (None: every actor, as on one machine). ``clock`` stamps backoffs and
        reasons; leases always use the real time, as other machines read them."""
        self.conn = conn
        self.layout = Layout(prefix)
        self.replicas = replicas
        self.clock = clock
        self.redact = redact
        self.claim_ttl = claim_ttl
        self.max_deliveries = max_deliveries
        self.actors = actors
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: dict[int, int] = {}  # seq → claim revision, renewed by the keeper
        self._floors: dict[str, int] = {}  # inbox subject → where its head was last seen
        self._missed_below: dict[str, int] = {}  # the floors forget_listings dropped
        self.heads = HeadCache()  # what the watched subjects' last looks found
        self._routing = OwnPublishes()  # routes this process made, not to wake it for
        self._closed = False
        self._owns_connection = owns_connection
        self._setup(dedupe_hours, sent_days, setup_timeout)
        self.claims = JetStreamKeyValue(conn, self.layout.claims, replicas=replicas)
        self._objects: Any = conn.call(self._open_objects(), "open the attachment store")
        conn.submit(self._keep_leases)

    # -- setup -------------------------------------------------------------------

    def _setup(self, dedupe_hours: float, sent_days: float, timeout: float) -> None:
        """Create the streams if they are missing. A cluster that has just started
        may not have elected its leaders yet: retry until ``timeout``."""
        L = self.layout
        streams: list[dict[str, Any]] = [
            {
                "name": L.queue,
                "subjects": [L.incoming_subject, L.inbox_subject("*")],
                "duplicate_window": dedupe_hours * 3600,
            },
            {"name": L.replies, "subjects": [L.outgoing_subject("*")], "max_msgs_per_subject": 1},
            {
                "name": L.sent,
                "subjects": [f"{L.prefix}.sent.*.*"],
                "max_msgs_per_subject": 1,
                "max_age": sent_days * 86400,
            },
            {"name": L.failed, "subjects": [L.failed_subject()]},
        ]
        deadline = time.monotonic() + timeout
        for config in streams:
            while True:
                try:
                    self.conn.call(self._ensure_stream(config), f"create stream {config['name']}")
                    break
                except SpoolError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.25)

    async def _ensure_stream(self, config: dict[str, Any]) -> None:
        import nats.js.errors

        try:
            await self.conn.js.stream_info(config["name"])
        except nats.js.errors.NotFoundError:
            await self.conn.js.add_stream(num_replicas=self.replicas, **config)

    async def _open_objects(self) -> Any:
        import nats.js.errors

        try:
            return await self.conn.js.object_store(self.layout.files)
        except nats.js.errors.BucketNotFoundError:
            return await self.conn.js.create_object_store(self.layout.files, replicas=self.replicas)

    def kv(self, name: str) -> JetStreamKeyValue:
        """The key-value bucket ``name`` of this home (sessions, pairing, schedules)."""
        return JetStreamKeyValue(self.conn, self.layout.bucket(name), replicas=self.replicas)

    def close(self) -> None:
        """Stop renewing leases (a claim still held then runs out and is redelivered);
        close the connection too if this spool opened it."""
        self._closed = True
        self._held.clear()
        if self._owns_connection:
            self.conn.close()

    # -- messages ----------------------------------------------------------------

    def put(self, message: Inbound, *, dedupe_key: str | None = None) -> Handle | None:
        """Queue ``message`` into incoming; a second put with the same channel and
        ``dedupe_key`` within the dedupe window returns None."""
        check_channel(message.channel)
        if dedupe_key is None:
            return self._put(self.layout.incoming_subject, message, f"put:{message.id}", "incoming")
        digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:40]
        ack = self._publish(
            self.layout.incoming_subject,
            dump(message),
            {"Nats-Msg-Id": f"seen:{message.channel}:{digest}", "Tinyclaw-Id": message.id},
        )
        if ack.duplicate:
            return None
        return Handle("incoming", self.layout.queue, int(ack.seq), self.layout.incoming_subject)

    def _put(
        self, subject: str, message: Inbound, msg_id: str, box: str, actor: str | None = None
    ) -> Handle:
        ack = self._publish(
            subject, dump(message), {"Nats-Msg-Id": msg_id, "Tinyclaw-Id": message.id}
        )
        self.heads.published(subject)
        return Handle(box, self.layout.queue, int(ack.seq), subject, actor=actor)

    def put_for(self, actor: str, message: Inbound) -> Handle:
        subject = self.layout.inbox_subject(check_actor(actor))
        return self._put(subject, message, f"put:{message.id}", "inbox", actor)

    def route(self, handle: Handle, actor: str) -> Handle | None:
        """Publish the incoming message onto ``actor``'s inbox, then delete it from
        incoming. The publish carries ``route:<seq>``, so two routers (or a retry
        after a crash between the two steps) land one copy."""
        subject = self.layout.inbox_subject(check_actor(actor))
        data, stored = handle.data, handle.headers
        if data is None:  # a handle made without the message: read it
            found = self._get(handle.stream, handle.seq)
            if found is None:
                return None
            data, stored = found.data or b"", found.headers
        headers = {"Nats-Msg-Id": f"route:{handle.seq}"}
        self._routing.mine(headers["Nats-Msg-Id"])
        if stored and "Tinyclaw-Id" in stored:
            headers["Tinyclaw-Id"] = stored["Tinyclaw-Id"]
        # Into an inbox this node saw empty, the publish asks the server to confirm
        # it still is: then the message is the inbox's head, and the dispatch that
        # follows needs to ask nothing about it.
        ack = self._publish_first(subject, data, headers) if self.heads.empty(subject) else None
        first = ack is not None and not ack.duplicate
        if ack is None:
            ack = self._publish(subject, data, headers)
        self.heads.published(subject)
        self.heads.gone(handle.subject, handle.seq)
        routed = Handle("inbox", self.layout.queue, int(ack.seq), subject, actor=actor, data=data)
        if not self._delete(handle.stream, handle.seq):
            if ack.duplicate:
                # Gone before our delete, and another router's copy came first: it
                # routed the message; the loser moves on.
                return None
            # Gone before our delete, and our copy came first: another router's publish
            # was deduplicated onto ours and it deleted the original, so ours is the
            # only copy. Only a message failed meanwhile makes ours one too many.
            key = message_key(data, stored, f"seq-{handle.seq}")
            if self._get(self.layout.failed, subject=self.layout.failed_subject(key)) is not None:
                self._delete(self.layout.queue, int(ack.seq))
                self.heads.gone(subject, int(ack.seq))
                return None
        if first:
            self.heads.head(subject, routed)
        return routed

    def incoming(self, start: int = 1) -> Iterator[Handle]:
        """What listeners and senders queued and nobody routed yet, oldest first,
        lazily (the file spool's ``queue/incoming/``); from sequence ``start`` on."""
        return self._walk(self.layout.incoming_subject, None, start)

    def pending(self, actor: str) -> Iterator[Handle]:
        """``actor``'s inbox, oldest first, lazily: unclaimed messages and those
        whose claim's lease ran out."""
        subject = self.layout.inbox_subject(check_actor(actor))
        return self._walk(subject, actor)

    def _walk(self, subject: str, actor: str | None, start: int = 1) -> Iterator[Handle]:
        """The subject from its head (an actor's inbox, or incoming for None), or
        from ``start`` if that is later.

        Where the last walk found the head is remembered: sequence numbers only grow,
        so nothing can appear on the subject below a message that was found there,
        and the server skips no deleted history. On a watched subject the head itself
        (or that there was none) is remembered too, until the subject changes (see
        :class:`~tinyclaw.spool.jetstream.heads.HeadCache`): an idle actor's empty
        inbox costs no request."""
        look = self.heads.known(subject)
        ticket = None
        cached = look.head_from(start) if look is not None else None
        if look is not None and look.empty_from(start):
            return
        if cached is not None:
            yield cached
            seq = cached.seq + 1
        else:
            ticket = self.heads.ticket(subject)
            seq = max(self._floors.get(subject, 1), start)
        first = cached is None
        tail = ticket  # the tail, nothing after the last message, is worth knowing too
        while True:
            found = self._get(self.layout.queue, seq, subject, after=True)
            if found is None:
                if first or actor is None:  # an inbox keeps its remembered head
                    self.heads.saw(subject, tail, None, start if first else seq)
                return
            seq = int(found.seq) + 1
            if first:
                if start <= self._floors.get(subject, 1):
                    self._floors[subject] = int(found.seq)
                below = self._missed_below.pop(subject, 0)
                if int(found.seq) < below:
                    log.warning(
                        "%s: a listing had missed #%d and perhaps more below #%d (a read "
                        "answered from an outdated copy); found again",
                        subject,
                        int(found.seq),
                        below,
                    )
                first = False
            if actor is None:
                handle = Handle(
                    "incoming",
                    self.layout.queue,
                    int(found.seq),
                    subject,
                    data=found.data or b"",
                    headers=dict(found.headers) if found.headers else None,
                )
            else:
                state, revision = self._state(int(found.seq))
                if state is not None and state.held and state.until > time.time():
                    continue
                handle = Handle(
                    "inbox",
                    self.layout.queue,
                    int(found.seq),
                    subject,
                    actor=actor,
                    revision=revision,
                    state=state,
                    data=found.data or b"",
                )
            if ticket is not None:
                self.heads.saw(subject, ticket, handle, start)
                ticket = None
            yield handle

    def _state(self, seq: int) -> tuple[ClaimState | None, int]:
        found = self.claims.entry(self.layout.claim_key(seq))
        if found is None:
            return None, 0
        try:
            return ClaimState.parse(found[0]), found[1]
        except (ValueError, TypeError):
            return None, found[1]

    def load(self, handle: Handle) -> Inbound:
        """The message, with the attempts and backoff its claim record carries; the
        rewritten message instead of the stream's copy once it was rewritten."""
        data = handle.data
        if handle.state is not None and handle.state.body is not None:
            data = handle.state.body.encode("utf-8")
        elif data is None:
            found = self._get(handle.stream, handle.seq)
            if found is None:
                raise FileNotFoundError(f"{handle.stream}#{handle.seq} is gone")
            data = found.data or b""
        message = load_inbound(data, default_id=f"seq-{handle.seq}")
        state = handle.state
        if state is not None and (state.attempts is not None or state.not_before is not None):
            update: dict[str, Any] = {}
            if state.attempts is not None:
                update["attempts"] = state.attempts
            if state.not_before is not None:
                update["not_before"] = state.not_before
            message = message.model_copy(update=update)
        return message

    def claim(self, handle: Handle, actor: str) -> Handle | None:
        """Take the message: write its claim record over the revision the handle
        saw; None if another claimer's write came first or the message is gone."""
        key = self.layout.claim_key(handle.seq)
        self.heads.stir(handle.subject)  # claimed or refused: the head is not this one now
        old = handle.state
        taken_over = old is not None and old.held  # its lease ran out: a lost delivery
        state = ClaimState(
            actor=actor,
            held=True,
            holder=self.holder,
            until=time.time() + self.claim_ttl,
            deliveries=(old.deliveries if old else 0) + 1,
            attempts=((old.attempts or 0) + 1)
            if (old and taken_over)
            else (old.attempts if old else None),
            not_before=old.not_before if old else None,
            body=old.body if old else None,
        )
        if handle.revision == 0:
            revision = self.claims.create(key, state.dump())
        else:
            revision = self.claims.update(key, state.dump(), handle.revision)
        if revision is None:
            return None
        claimed = replace(handle, box="processing", actor=actor, revision=revision, state=state)
        if self._get(handle.stream, handle.seq) is None:
            self.claims.delete(key)
            return None
        if taken_over and state.deliveries > self.max_deliveries:
            self.fail(
                claimed,
                f"claimed {state.deliveries} times by workers that stopped answering "
                f"(no answer within {self.claim_ttl:g}s each time); gave up",
            )
            return None
        self._held[handle.seq] = revision
        return claimed

    def _set_state(self, handle: Handle, state: ClaimState) -> int | None:
        """End this process's claim with ``state``; None if another claimer took the
        message over. The lease keeper may have renewed the claim since the handle
        was made: a claim that is still ours is written over its newest revision."""
        key = self.layout.claim_key(handle.seq)
        self.heads.stir(handle.subject)
        revision = self._held.pop(handle.seq, handle.revision)
        written = self.claims.update(key, state.dump(), revision)
        if written is None:
            current, now = self._state(handle.seq)
            if current is not None and current.held and current.holder == self.holder:
                written = self.claims.update(key, state.dump(), now)
        return written

    def rewrite(self, handle: Handle, message: Inbound) -> Handle:
        """Replace the body of a message this process holds a claim on, keeping the
        claim (the stream's copy is never changed: a stream message is immutable). The
        new body lives in the claim record, with the attempts and backoff it carries,
        so it survives a release, a retry or a crash and is what ``load`` returns from
        then on; it goes with the claim record when the message completes or fails.
        SpoolError if the claim is no longer this process's."""
        state = replace(
            handle.state or ClaimState(actor=handle.actor or message.actor or ""),
            held=True,
            holder=self.holder,
            until=time.time() + self.claim_ttl,
            attempts=message.attempts,
            not_before=message.not_before,
            body=dump(message).decode("utf-8"),
        )
        revision = self._set_state(handle, state)
        if revision is None:
            raise SpoolError(f"{handle.name}: cannot rewrite it, its claim was taken over")
        self._held[handle.seq] = revision
        return replace(handle, revision=revision, state=state, data=None)

    def release(self, handle: Handle, actor: str) -> Handle | None:
        """Return the claim as it was: no attempt and no delivery counted."""
        state = _released(handle.state or ClaimState(actor=actor), actor)
        revision = self._set_state(handle, state)
        if revision is None:
            return None
        return replace(handle, box="inbox", revision=revision, state=state)

    def complete(self, handle: Handle) -> None:
        self.heads.gone(handle.subject, handle.seq)
        self._held.pop(handle.seq, None)
        self._delete(handle.stream, handle.seq)
        self.claims.delete(self.layout.claim_key(handle.seq))

    def retry(
        self, handle: Handle, actor: str, max_attempts: int, backoff: float, why: str
    ) -> bool:
        try:
            message = self.load(handle)
        except FileNotFoundError:
            return True
        except InvalidMessageError as exc:
            self.fail(handle, f"unreadable after {why}: {exc}")
            return False
        attempts = message.attempts + 1
        if attempts >= max_attempts:
            self.fail(handle, f"{why}; gave up after {attempts} attempts")
            return False
        state = replace(
            _released(handle.state or ClaimState(actor=actor), actor),
            attempts=attempts,
            not_before=self.clock() + retry_delay(backoff, attempts),
        )
        if self._set_state(handle, state) is None:
            return True  # another process took it over meanwhile: it is not lost
        log.info(
            "requeued %s#%d for %s (attempt %d, %s)",
            handle.stream,
            handle.seq,
            actor,
            attempts + 1,
            why,
        )
        return True

    # -- failed ------------------------------------------------------------------

    def fail(self, handle: Handle, reason: str) -> Handle | None:
        """Publish the message to the failed stream with its reason, then delete it
        where it was. None if it was already gone."""
        self.heads.gone(handle.subject, handle.seq)
        found = (
            self._get(handle.stream, handle.seq)
            if handle.box != "outgoing"
            else (self._get(handle.stream, subject=handle.subject))
        )
        if found is None:
            return None
        data = found.data or b""
        if handle.stream == self.layout.queue:
            state, _ = self._state(int(found.seq))
            if state is not None and state.body is not None:
                data = state.body.encode("utf-8")  # as it was rewritten, like on files
        key = message_key(data, found.headers, f"seq-{found.seq}")
        failed = self._reject(
            key,
            data,
            reason,
            f"fail:{handle.stream}:{found.seq}",
            handle.actor or handle.channel or handle.box,
        )
        self._held.pop(handle.seq, None)
        self._delete(handle.stream, int(found.seq))
        if handle.stream == self.layout.queue:
            self.claims.delete(self.layout.claim_key(int(found.seq)))
        log.warning("moved %s#%d to %s: %s", handle.stream, found.seq, self.layout.failed, reason)
        return failed

    # -- upkeep ------------------------------------------------------------------

    def recover(
        self,
        max_attempts: int,
        backoff: float,
        ran: Callable[[str], bool] = lambda message_id: False,
    ) -> Recovered:
        """Return every claim of this node's actors to its inbox, as a starting
        worker does: with an attempt counted, or as it was when ``ran`` says its
        result is saved. Claims of other nodes' actors are left to their leases."""
        requeued = failed = 0
        for key in self.claims.keys():  # noqa: SIM118
            if not key.startswith("m."):
                continue
            seq = int(key[2:])
            state, revision = self._state(seq)
            if state is None or not state.held or seq in self._held:
                continue
            if self.actors is not None and state.actor not in self.actors:
                continue
            subject = self.layout.inbox_subject(state.actor)
            handle = Handle(
                "processing",
                self.layout.queue,
                seq,
                subject,
                actor=state.actor,
                revision=revision,
                state=state,
            )
            found = self._get(self.layout.queue, seq)
            if found is None:
                self.claims.delete(key)
                continue
            handle = replace(handle, data=found.data or b"")
            message_id = message_key(found.data or b"", found.headers, f"seq-{seq}")
            if ran(message_id):
                self.release(handle, state.actor)
                requeued += 1
            elif self.retry(
                handle,
                state.actor,
                max_attempts,
                backoff,
                "interrupted (process stopped during the run)",
            ):
                requeued += 1
            else:
                failed += 1
        return Recovered(requeued=requeued, failed=failed, rolled=0)

    def watch_queue(self, actors: list[str], wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` whenever a message is queued into incoming or into one of
        ``actors``' inboxes (a worker node's wake-up, as a file watcher is on the
        Maildir); returns the function that stops watching. A hint only: what was
        published while the connection was down is found by the worker's timed scan."""
        subjects = [self.layout.incoming_subject]
        subjects += [self.layout.inbox_subject(check_actor(a)) for a in actors]
        self.heads.watch(subjects)

        def heard(subject: str, msg_id: str | None) -> None:
            self.heads.published(subject)
            if msg_id is not None and self._routing.discard_if_mine(msg_id):
                return  # this node's own route: the pass that routed it dispatches next
            wake()

        stop = self._watch(subjects, wake, heard)

        def unwatch() -> None:
            self.heads.unwatch(subjects)
            stop()

        return unwatch

    # -- speed hooks of the file spool: nothing to do here --------------------------

    def flush(self) -> None:
        """Every publish and delete is acknowledged by the server before it returns:
        nothing waits for a shared commit."""

    def arrived(self, path: Path) -> bool:
        """No file watcher feeds this backend: the streams are the listing."""
        return True

    def forget_listings(self) -> None:
        """Look every subject up afresh from its start on the next walk: where each
        head was last seen, and what the last look at a watched subject found.

        What is remembered is true as long as every answer was: a server that has
        just become a stream's leader can answer one read from a copy that lacks
        recent messages, and a message below a remembered head would never be walked
        again. A worker node calls this on its timed rescan of the whole queue, so
        such a message waits at most until then."""
        self._missed_below = dict(self._floors)
        self._floors.clear()
        self.heads.forget()

    def depths(self) -> dict[str, int]:
        L = self.layout

        async def counts() -> dict[str, int]:
            info = await self.conn.js.stream_info(L.queue, subjects_filter=f"{L.prefix}.>")
            subjects: dict[str, int] = info.state.subjects or {}
            replies = await self.conn.js.stream_info(L.replies)
            failed = await self.conn.js.stream_info(L.failed)
            return {
                "incoming": subjects.get(L.incoming_subject, 0),
                "queued": sum(n for s, n in subjects.items() if s.startswith(f"{L.prefix}.inbox.")),
                "outgoing": int(replies.state.messages),
                "failed": int(failed.state.messages),
            }

        result = self.conn.call(counts(), "count the queue")
        processing = 0
        for key in self.claims.keys():  # noqa: SIM118
            state, _ = self._state(int(key[2:])) if key.startswith("m.") else (None, 0)
            processing += bool(state and state.held)
        queued = result.pop("queued")
        result["processing"] = processing
        result["inboxes"] = max(0, queued - processing)
        return result

    # -- leases ------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        """Renew this process's claims every third of ``claim_ttl`` until closed. A
        claim another process took over (its write wins) is forgotten here."""
        import nats.js.errors

        kv = self.claims._kv
        while not self._closed:
            await asyncio.sleep(self.claim_ttl / 3)
            for seq, revision in list(self._held.items()):
                key = self.layout.claim_key(seq)
                try:
                    entry = await kv.get(key)
                    state = replace(
                        ClaimState.parse(entry.value), until=time.time() + self.claim_ttl
                    )
                    if entry.revision != revision:
                        raise nats.js.errors.KeyWrongLastSequenceError()
                    new = await kv.update(key, state.dump(), last=revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    self._held.pop(seq, None)
                    continue
                except Exception as exc:
                    log.debug("could not renew the claim on %s: %s", key, exc)
                    continue
                if seq in self._held:
                    self._held[seq] = int(new)


if TYPE_CHECKING:

    def _implements(spool: JetStreamSpool) -> SpoolBackend[Handle]:
        return spool  # mypy checks here that JetStreamSpool is a SpoolBackend


def _released(old: ClaimState, actor: str) -> ClaimState:
    """``old`` given back to ``actor``'s inbox: held by nobody, and the delivery its
    claim counted taken back (a release or a retry is not a lost claim)."""
    return replace(
        old, actor=actor, held=False, holder="", until=0.0, deliveries=max(0, old.deliveries - 1)
    )
