"""What the chaos run's audit asks of the queue, on files or on NATS: the failed
messages and how many replies still wait for a channel.

The platform sides and the final audit read these two figures; everything else they
check (answers at the fakes, the delivery ledger) does not depend on where the queue
lives. On NATS a call may fail while the cluster elects a leader (a server was just
killed): the view then answers "not settled yet" rather than raise, and the run's
settle loop asks again.
"""

from __future__ import annotations

from typing import Protocol

from tinyclaw.core.errors import SpoolError
from tinyclaw.spool import Spool
from tinyclaw.spool.jetstream import JetStreamSpool


class QueueView(Protocol):
    def failed_messages(self) -> list[bytes]:
        """The bytes of every message the worker gave up on (each has a reason)."""

    def waiting(self, channel: str) -> int:
        """Replies for ``channel`` not delivered yet."""


class FileQueue:
    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def failed_messages(self) -> list[bytes]:
        found = []
        for path in self.spool.list_box(self.spool.failed):
            try:
                found.append(path.read_bytes())
            except OSError:
                continue
        return found

    def waiting(self, channel: str) -> int:
        return len(self.spool.list_box(self.spool.outgoing(channel)))


class NatsQueue:
    """The same figures from the JetStream spool (``failures`` and ``replies``)."""

    UNKNOWN = 1 << 30  # what ``waiting`` says while the servers cannot answer

    def __init__(self, spool: JetStreamSpool) -> None:
        self.spool = spool

    def failed_messages(self) -> list[bytes]:
        try:
            return [data for _key, _reason, data in self.spool.failures()]
        except SpoolError:
            return []

    def waiting(self, channel: str) -> int:
        try:
            return len(self.spool.replies(channel))
        except SpoolError:
            return self.UNKNOWN
