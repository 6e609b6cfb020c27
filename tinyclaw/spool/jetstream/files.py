"""Attachments in the JetStream object store: one object per file, named
``<message id>/<name>``; the locator a message carries is ``nats-object:`` and that
name, so a worker on another machine reads the file a listener saved."""

from __future__ import annotations

from typing import Any

from tinyclaw.core import UnsafePathError
from tinyclaw.spool.jetstream.streams import Streams

LOCATOR_PREFIX = "nats-object:"
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024 * 1024


class Attachments(Streams):
    """The attachment half of the spool."""

    _objects: Any

    # -- attachments -------------------------------------------------------------

    def _object_name(self, message_id: str, name: str) -> str:
        for part in (message_id, name):
            if not part or "/" in part or part in (".", "..") or "\x00" in part:
                raise UnsafePathError(f"invalid attachment name {part!r}")
        return f"{message_id}/{name}"

    def save_attachment(self, message_id: str, name: str, data: bytes) -> str:
        import nats.js.errors

        object_name = self._object_name(message_id, name)

        async def save() -> None:
            try:
                await self._objects.get_info(object_name)
            except nats.js.errors.NotFoundError:
                await self._objects.put(object_name, data)
                return
            raise FileExistsError(f"attachment {object_name} exists")

        self.conn.call(save(), f"store attachment {object_name}", self.conn.timeout * 4)
        return LOCATOR_PREFIX + object_name

    def read_attachment(self, locator: str, limit: int = MAX_ATTACHMENT_BYTES) -> bytes:
        import nats.js.errors

        if not locator.startswith(LOCATOR_PREFIX):
            raise UnsafePathError(f"{locator!r} is not an attachment of this spool")
        object_name = locator[len(LOCATOR_PREFIX) :]
        self._object_name(*object_name.split("/", 1)) if "/" in object_name else None

        async def read() -> bytes:
            try:
                result = await self._objects.get(object_name)
            except nats.js.errors.NotFoundError:
                raise FileNotFoundError(f"attachment {object_name} is gone") from None
            return bytes(result.data or b"")[: limit + 1]

        return self.conn.call(read(), f"read attachment {object_name}", self.conn.timeout * 4)

    def discard_attachments(self, message_id: str) -> None:
        import nats.js.errors

        async def discard() -> None:
            try:
                entries = await self._objects.list(ignore_deletes=True)
            except nats.js.errors.NotFoundError:
                return
            for info in entries:
                if str(info.name).startswith(message_id + "/"):
                    await self._objects.delete(info.name)

        self.conn.call(discard(), f"discard attachments of {message_id}", self.conn.timeout * 4)
