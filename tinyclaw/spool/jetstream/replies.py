"""Replies on JetStream: one subject per message id, in a stream that keeps one
message per subject, so a replay replaces the earlier reply instead of adding one;
the delivery ledger is a second such stream. ``reply_exists`` asks both, which is
how a worker restarted between writing a reply and completing its claim finds the
work done."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

from tinyclaw.core import Reply, SpoolError, dump, load_reply
from tinyclaw.spool.backend import check_channel
from tinyclaw.spool.jetstream.layout import untoken
from tinyclaw.spool.jetstream.streams import Handle, Streams


class Replies(Streams):
    """The reply half of the spool."""

    redact: Callable[[str], str] | None

    # -- replies -----------------------------------------------------------------

    def put_reply(self, reply: Reply) -> Handle:
        """Publish ``reply`` on its own subject, replacing an earlier one. The dedupe
        id names its content, so a publish retried after a lost answer lands once."""
        check_channel(reply.channel)
        if self.redact is not None:
            reply = reply.model_copy(update={"text": self.redact(reply.text)})
        data = dump(reply)
        subject = self.layout.outgoing_subject(reply.channel, reply.id)
        digest = hashlib.sha256(data).hexdigest()[:16]
        ack = self._publish(subject, data, {"Nats-Msg-Id": f"reply:{subject}:{digest}"})
        return Handle(
            "outgoing",
            self.layout.replies,
            int(ack.seq),
            subject,
            channel=reply.channel,
            reply_id=reply.id,
        )

    def replies(self, channel: str) -> list[Handle]:
        subject = self.layout.outgoing_subject(check_channel(channel))
        result: list[Handle] = []
        seq = 1
        while (found := self._get(self.layout.replies, seq, subject, after=True)) is not None:
            seq = int(found.seq) + 1
            reply_id = untoken(str(found.subject).rsplit(".", 1)[1])
            result.append(
                Handle(
                    "outgoing",
                    self.layout.replies,
                    int(found.seq),
                    str(found.subject),
                    channel=channel,
                    reply_id=reply_id,
                )
            )
        return result

    def load_reply(self, handle: Handle) -> Reply:
        found = self._get(handle.stream, subject=handle.subject)
        if found is None:
            raise FileNotFoundError(f"no reply waits on {handle.subject}")
        return load_reply(found.data or b"", default_id=handle.reply_id)

    def update_reply(self, handle: Handle, reply: Reply) -> bool:
        found = self._get(handle.stream, subject=handle.subject)
        if found is None:
            return False
        return self._publish_if_last(handle.subject, dump(reply), int(found.seq))

    def mark_sent(self, handle: Handle, channel: str) -> Handle | None:
        """Copy the reply into the delivery ledger, then remove it from waiting."""
        found = self._get(handle.stream, subject=handle.subject)
        if found is None or handle.reply_id is None:
            return None
        subject = self.layout.sent_subject(check_channel(channel), handle.reply_id)
        ack = self._publish(subject, found.data or b"", {"Nats-Msg-Id": f"sent:{found.seq}"})
        self._delete(handle.stream, int(found.seq))
        return Handle(
            "sent",
            self.layout.sent,
            int(ack.seq),
            subject,
            channel=channel,
            reply_id=handle.reply_id,
        )

    def reply_exists(self, channel: str, reply_id: str) -> bool:
        check_channel(channel)
        if self._get(self.layout.replies, subject=self.layout.outgoing_subject(channel, reply_id)):
            return True
        return (
            self._get(self.layout.sent, subject=self.layout.sent_subject(channel, reply_id))
            is not None
        )

    def watch_replies(self, channel: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` (on the connection's thread) whenever something is published
        on ``channel``'s reply subjects; returns the function that stops watching.

        A plain NATS subscription: it sees every publish (a new reply, a progress
        update) as it happens, and the client renews it after a reconnect. It is a
        hint, as a file watcher is: what was published while the connection was down
        is found by the delivery's regular scan."""
        return self._watch([self.layout.outgoing_subject(check_channel(channel))], wake)

    def _watch(
        self,
        subjects: list[str],
        wake: Callable[[], None],
        heard: Callable[[str, str | None], None] | None = None,
    ) -> Callable[[], None]:
        """One plain subscription per subject, each calling ``wake`` (or ``heard``
        with the subject published onto and the publish's ``Nats-Msg-Id``, when
        given); returns the function that ends them all."""

        async def notify(msg: Any) -> None:
            if heard is None:
                wake()
            else:
                heard(str(msg.subject), (msg.headers or {}).get("Nats-Msg-Id"))

        subscriptions: list[Any] = [
            self.conn.call(self.conn.nc.subscribe(subject, cb=notify), f"watch {subject}")
            for subject in subjects
        ]

        def stop() -> None:
            for subscription in subscriptions:
                with contextlib.suppress(SpoolError):
                    self.conn.call(subscription.unsubscribe(), "stop watching")

        return stop
