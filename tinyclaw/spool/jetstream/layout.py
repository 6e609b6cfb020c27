"""Where the JetStream spool keeps what: stream, bucket and subject names.

One home on NATS is a set of streams and buckets sharing a prefix (``tinyclaw`` by
default, so several homes can share one cluster under different prefixes)::

    <p>_queue    stream  <p>.incoming          new messages (listeners, send, schedules)
                         <p>.inbox.<actor>     one subject per actor: its FIFO
    <p>_replies  stream  <p>.outgoing.<ch>.<id>  one reply per message id (the last
                                                 write replaces the earlier one)
    <p>_sent     stream  <p>.sent.<ch>.<id>    the delivery ledger, kept ``sent_days``
    <p>_failed   stream  <p>.failed.<key>      anything that cannot go on (key: its
                                               id), the reason in Tinyclaw-Reason
    <p>_claims   KV      m.<seq>               the claim state of queued message <seq>
    <p>_files    object  <message id>/<name>   attachments
    <p>_<name>   KV      any key               kv(name): sessions, pairing, schedules

Actor and channel names are plain subject tokens already; a message id (which holds
dots) is stored hex-encoded behind ``=``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinyclaw.core import SpoolError

PREFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")


def token(value: str) -> str:
    """``value`` as one subject token."""
    if _TOKEN_RE.fullmatch(value):
        return value
    return "=" + value.encode("utf-8").hex()


def untoken(value: str) -> str:
    if value.startswith("="):
        return bytes.fromhex(value[1:]).decode("utf-8")
    return value


@dataclass(frozen=True)
class Layout:
    prefix: str

    def __post_init__(self) -> None:
        if not PREFIX_RE.fullmatch(self.prefix):
            raise SpoolError(
                f"invalid stream prefix {self.prefix!r}: letters, digits, '-' and '_' only"
            )

    # streams and buckets
    @property
    def queue(self) -> str:
        return f"{self.prefix}_queue"

    @property
    def replies(self) -> str:
        return f"{self.prefix}_replies"

    @property
    def sent(self) -> str:
        return f"{self.prefix}_sent"

    @property
    def failed(self) -> str:
        return f"{self.prefix}_failed"

    @property
    def claims(self) -> str:
        return f"{self.prefix}_claims"

    @property
    def files(self) -> str:
        return f"{self.prefix}_files"

    def bucket(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    # subjects
    @property
    def incoming_subject(self) -> str:
        return f"{self.prefix}.incoming"

    def inbox_subject(self, actor: str) -> str:
        return f"{self.prefix}.inbox.{actor}"

    def outgoing_subject(self, channel: str, reply_id: str | None = None) -> str:
        return f"{self.prefix}.outgoing.{channel}.{'*' if reply_id is None else token(reply_id)}"

    def sent_subject(self, channel: str, reply_id: str) -> str:
        return f"{self.prefix}.sent.{channel}.{token(reply_id)}"

    def failed_subject(self, key: str | None = None) -> str:
        return f"{self.prefix}.failed.{'*' if key is None else token(key)}"

    @staticmethod
    def claim_key(seq: int) -> str:
        return f"m.{seq}"
