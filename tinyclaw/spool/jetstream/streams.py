"""What every part of the JetStream spool stands on: the handle, name checks, and
the few stream requests (read, delete, publish, publish-if-unchanged) everything is
made of, plus the failed stream, which every part writes to."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tinyclaw.core import SpoolError, unique_name
from tinyclaw.spool.jetstream.connection import NatsConnection
from tinyclaw.spool.jetstream.layout import Layout

_NO_MESSAGE = 10037  # JetStream: no message found
# A delete of a message that is gone: "no message found" (10057, the store's own
# words) or, on a cluster racing another delete, "sequence N not found" (10043).
_DELETE_FAILED, _NO_SEQUENCE, _GONE = 10057, 10043, "no message found"
_WRONG_LAST = (10071, 10164)  # JetStream: wrong last sequence

@dataclass(frozen=True)
class ClaimState:
    """What the claims bucket records about one queued message."""

    actor: str
    held: bool = False
    holder: str = ""
    until: float = 0.0
    deliveries: int = 0
    attempts: int | None = None
    not_before: float | None = None
    body: str | None = None  # the message as rewritten while claimed (a transcript)

    def dump(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    @classmethod
    def parse(cls, data: bytes) -> ClaimState:
        return cls(**json.loads(data))


@dataclass(frozen=True)
class Handle:
    """The JetStream spool's opaque handle: where a message sits, and what was known
    of its claim when the handle was made. Callers pass it back and never look in."""

    box: str
    stream: str
    seq: int
    subject: str
    actor: str | None = None
    channel: str | None = None
    reply_id: str | None = None
    revision: int = 0
    state: ClaimState | None = None
    data: bytes | None = None
    headers: dict[str, str] | None = None  # as stored, when ``data`` was read with them

    # What the worker's log lines and journal read off a handle, as they read a
    # Maildir file's path: a name for the log, the message's id, where it sits.
    @property
    def name(self) -> str:
        return f"{self.stream}#{self.seq}"

    @property
    def stem(self) -> str:
        return message_key(self.data or b"", None, f"seq-{self.seq}")

    @property
    def parent(self) -> str:
        return self.subject


class Streams:
    """The stream requests of one home's spool; the parts below add the operations."""

    conn: NatsConnection
    layout: Layout
    clock: Callable[[], float]

    # -- low-level requests ------------------------------------------------------

    def _get(
        self,
        stream: str,
        seq: int | None = None,
        subject: str | None = None,
        *,
        after: bool = False,
    ) -> Any | None:
        """One stored message (by sequence, last on a subject, or the first on
        ``subject`` at or after ``seq``); None if there is none."""
        import nats.js.errors

        async def get() -> Any | None:
            try:
                return await self.conn.js.get_msg(stream, seq=seq, subject=subject, next=after)
            except nats.js.errors.NotFoundError:
                return None

        return self.conn.call(get(), f"read {stream}")

    def _delete(self, stream: str, seq: int) -> bool:
        """Remove one message; False if it was already gone."""

        async def delete() -> bool:
            body = json.dumps({"seq": seq, "no_erase": True}).encode()
            answer = await self.conn.nc.request(
                f"$JS.API.STREAM.MSG.DELETE.{stream}", body, timeout=self.conn.timeout
            )
            result = json.loads(answer.data)
            error = result.get("error")
            if error is None:
                return True
            code = error.get("err_code")
            if code in (_NO_MESSAGE, _NO_SEQUENCE) or error.get("code") == 404:
                return False
            if code == _DELETE_FAILED and error.get("description") == _GONE:
                return False
            raise SpoolError(f"NATS refused to delete {stream}#{seq}: {error.get('description')}")

        return self.conn.call(delete(), f"delete from {stream}")

    def _publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.conn.call(
            self.conn.js.publish(subject, data, headers=headers), f"publish to {subject}"
        )

    def _publish_first(self, subject: str, data: bytes, headers: dict[str, str]) -> Any | None:
        """Publish only if nothing is stored on ``subject`` (its last sequence is 0);
        the acknowledgement, or None if something is."""
        import nats.js.errors

        async def publish() -> Any | None:
            try:
                return await self.conn.js.publish(
                    subject,
                    data,
                    headers={**headers, "Nats-Expected-Last-Subject-Sequence": "0"},
                )
            except nats.js.errors.APIError as exc:
                if exc.err_code in _WRONG_LAST:
                    return None
                raise

        return self.conn.call(publish(), f"publish to {subject}")

    def _publish_if_last(self, subject: str, data: bytes, last: int) -> bool:
        """Publish only if ``last`` is still the subject's last sequence."""
        import nats.js.errors

        async def publish() -> bool:
            try:
                await self.conn.js.publish(
                    subject, data, headers={"Nats-Expected-Last-Subject-Sequence": str(last)}
                )
            except nats.js.errors.APIError as exc:
                if exc.err_code in _WRONG_LAST:
                    return False
                raise
            return True

        return self.conn.call(publish(), f"publish to {subject}")

    def reject(self, name: str, data: bytes, reason: str) -> Handle | None:
        key = PurePosixPath(name).stem or name
        return self._reject(key, data, reason, f"reject:{uuid.uuid4().hex}", "outside")

    def _reject(self, key: str, data: bytes, reason: str, msg_id: str, origin: str) -> Handle:
        """Publish to the failed stream under ``key``; a key already there keeps its
        message (evidence is never replaced) and this one gets a unique suffix."""
        if self._get(self.layout.failed, subject=self.layout.failed_subject(key)) is not None:
            key = f"{key}.{unique_name()}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))
        headers = {
            "Nats-Msg-Id": msg_id,
            "Tinyclaw-Key": key,
            "Tinyclaw-Reason": json.dumps(reason),
            "Tinyclaw-From": origin,
            "Tinyclaw-At": stamp,
        }
        subject = self.layout.failed_subject(key)
        ack = self._publish(subject, data, headers)
        return Handle("failed", self.layout.failed, int(ack.seq), subject)

    def failures(self) -> Iterator[tuple[str, str, bytes]]:
        """The failed messages, oldest first: (key, reason, the bytes)."""
        seq = 1
        while (
            found := self._get(self.layout.failed, seq, self.layout.failed_subject(), after=True)
        ) is not None:
            seq = int(found.seq) + 1
            headers = found.headers or {}
            reason = json.loads(headers.get("Tinyclaw-Reason", '""'))
            yield headers.get("Tinyclaw-Key", f"seq-{found.seq}"), reason, found.data or b""


def message_key(data: bytes, headers: dict[str, str] | None, default: str) -> str:
    """A stored message's id: from its JSON, else its header, else ``default``."""
    try:
        value = json.loads(data)
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return str(value["id"])
    except (ValueError, UnicodeDecodeError):
        pass
    if headers and headers.get("Tinyclaw-Id"):
        return str(headers["Tinyclaw-Id"])
    return default
