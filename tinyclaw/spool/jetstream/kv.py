"""A JetStream key-value bucket as tinyclaw's :class:`~tinyclaw.spool.backend.KeyValue`.

Sessions, the pairing store, schedule state and leases live here when several
machines share a home. Besides get/put/delete it offers compare-and-set: ``create``
writes only a key that does not exist, ``update`` only over the revision the caller
read, and each returns None when another writer got there first. That is what a lease
is built on: create it, renew it with ``update`` over your own revision, and whoever
finds it expired takes it over with ``update`` over the revision it saw.

Keys may be any string: one that a NATS key cannot hold as it is (a space, a colon)
is stored hex-encoded behind ``=``, and ``keys()`` gives back the original.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tinyclaw.core import SpoolError
from tinyclaw.spool.jetstream.connection import NatsConnection

if TYPE_CHECKING:
    from tinyclaw.spool.backend import KeyValue

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_/-][A-Za-z0-9_/.-]*")
BUCKET_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encode_key(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key) and not key.endswith(".") and ".." not in key:
        return key
    return "=" + key.encode("utf-8").hex()


def decode_key(stored: str) -> str:
    if stored.startswith("="):
        return bytes.fromhex(stored[1:]).decode("utf-8")
    return stored


class JetStreamKeyValue:
    """One bucket, created on first use with ``replicas`` copies."""

    def __init__(self, conn: NatsConnection, bucket: str, *, replicas: int = 1) -> None:
        if not BUCKET_RE.fullmatch(bucket):
            raise SpoolError(f"invalid key-value bucket name {bucket!r}")
        self.conn = conn
        self.bucket = bucket
        self.stream = f"KV_{bucket}"  # the names every NATS client gives a bucket
        self.prefix = f"$KV.{bucket}."
        self._kv: Any = conn.call(self._open(replicas), f"open bucket {bucket}")
        self._errors: Any = __import__("nats.js.errors", fromlist=["errors"])

    async def _open(self, replicas: int) -> Any:
        import nats.js.errors

        try:
            return await self.conn.js.key_value(self.bucket)
        except nats.js.errors.BucketNotFoundError:
            return await self.conn.js.create_key_value(
                bucket=self.bucket, history=1, replicas=replicas
            )

    def entry(self, key: str) -> tuple[bytes, int] | None:
        """The value and its revision, or None if the key is not set."""

        async def get() -> tuple[bytes, int] | None:
            try:
                found = await self._kv.get(encode_key(key))
            except self._errors.KeyNotFoundError:
                return None
            return (found.value or b"", int(found.revision))

        return self.conn.call(get(), f"read {self.bucket}/{key}")

    def get(self, key: str) -> bytes | None:
        found = self.entry(key)
        return None if found is None else found[0]

    def put(self, key: str, value: bytes) -> None:
        self.conn.call(self._kv.put(encode_key(key), value), f"write {self.bucket}/{key}")

    def create(self, key: str, value: bytes) -> int | None:
        """Write ``key`` only if it is not set; its revision, or None if it was."""

        async def create() -> int | None:
            try:
                return int(await self._kv.create(encode_key(key), value))
            except self._errors.KeyWrongLastSequenceError:
                return None

        return self.conn.call(create(), f"create {self.bucket}/{key}")

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Write ``key`` only if its revision is still ``revision``; the new revision,
        or None if another writer changed it meanwhile."""

        async def update() -> int | None:
            try:
                return int(await self._kv.update(encode_key(key), value, last=revision))
            except self._errors.KeyWrongLastSequenceError:
                return None

        return self.conn.call(update(), f"update {self.bucket}/{key}")

    def delete(self, key: str) -> None:
        """Remove every message of ``key`` from the bucket's stream. Not the client's
        ``purge``, which leaves a marker message per key for ever: the claims bucket
        sees one key per message, so markers would pile up without end, and every
        listing would walk them."""
        self.conn.call(
            self.conn.js.purge_stream(self.stream, subject=self.prefix + encode_key(key)),
            f"delete {self.bucket}/{key}",
        )

    def keys(self) -> list[str]:
        """The keys set now, from the stream's own count of messages per subject.

        Not the client's ``keys()``: that watches the bucket through an ephemeral
        consumer, which nats-server 2.9 may place on a server that is down, and then
        every listing times out while one server of three is away. The stream's
        leader answers this one whenever the cluster has a majority. A key deleted by
        an older tinyclaw (which left a marker) is still listed, and reads as None."""

        async def subjects() -> dict[str, int]:
            info = await self.conn.js.stream_info(self.stream, subjects_filter=self.prefix + ">")
            return dict(info.state.subjects or {})

        found = self.conn.call(subjects(), f"list {self.bucket}")
        start = len(self.prefix)
        return sorted(decode_key(s[start:]) for s, n in found.items() if n)


if TYPE_CHECKING:

    def _implements(kv: JetStreamKeyValue) -> KeyValue:
        return kv  # mypy checks here that JetStreamKeyValue is a KeyValue
