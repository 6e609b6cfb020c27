"""NATS's side of a move between backends (:mod:`tinyclaw.spool.transfer`).

Items are read straight off the streams (every message of every inbox subject,
claimed or not, with the attempts its claim record counts) and written with a
``Nats-Msg-Id`` unique to the item in this move, so a publish retried after a lost
answer lands once. Removing an item deletes its stream message and its claim record."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from tinyclaw.core import InvalidMessageError, UnsafePathError, dump
from tinyclaw.spool.jetstream.files import LOCATOR_PREFIX
from tinyclaw.spool.jetstream.layout import untoken
from tinyclaw.spool.jetstream.spool import JetStreamSpool
from tinyclaw.spool.jetstream.streams import Handle, message_key
from tinyclaw.spool.transfer import AttachmentsOf, Item


class NatsQueue(AttachmentsOf):
    """The queue in one home's streams."""

    label = "NATS"
    spool: JetStreamSpool

    def __init__(self, spool: JetStreamSpool) -> None:
        self.spool = spool

    def busy(self) -> str | None:
        now = time.time()
        for key in self.spool.claims.keys():  # noqa: SIM118
            state, _ = self.spool._state(int(key[2:])) if key.startswith("m.") else (None, 0)
            if state is not None and state.held and state.until > now:
                return f"a worker ({state.holder}) is running a message of @{state.actor} on NATS"
        leases = self.spool.kv("leases")
        for key in leases.keys():  # noqa: SIM118
            try:
                raw = json.loads(leases.get(key) or b"{}")
                holder, until = str(raw["holder"]), float(raw["until"])
            except (ValueError, KeyError, TypeError):
                continue
            if until > now:
                who = "a worker" if key.startswith("node.") else "a listener"
                return f"{who} ({holder}) holds the lease {key} on NATS"
        return None

    # -- reading -------------------------------------------------------------------

    def _walk(self, stream: str, subject: str) -> list[Any]:
        found, seq = [], 1
        while (got := self.spool._get(stream, seq, subject, after=True)) is not None:
            seq = int(got.seq) + 1
            found.append(got)
        return found

    def items(self) -> list[Item]:
        L = self.spool.layout
        result = []
        for got in self._walk(L.queue, L.incoming_subject):
            key = message_key(got.data or b"", got.headers, f"seq-{got.seq}")
            result.append(Item("incoming", key, got.data or b"", handle=(L.queue, int(got.seq))))
        prefix = L.inbox_subject("")
        for subject in sorted(self._subjects(L.queue, L.inbox_subject("*"))):
            actor = subject[len(prefix) :]
            for got in self._walk(L.queue, subject):
                result.append(self._inbox_item(actor, got))
        for got in self._walk(L.replies, L.outgoing_subject("*")):
            _, _, channel, token = str(got.subject).rsplit(".", 3)
            result.append(
                Item(
                    "reply",
                    untoken(token),
                    got.data or b"",
                    channel=channel,
                    handle=(L.replies, int(got.seq)),
                )
            )
        for got in self._walk(L.failed, L.failed_subject()):
            headers = got.headers or {}
            try:
                reason = str(json.loads(headers.get("Tinyclaw-Reason", '""')))
            except ValueError:
                reason = headers.get("Tinyclaw-Reason", "")
            result.append(
                Item(
                    "failed",
                    headers.get("Tinyclaw-Key", f"seq-{got.seq}"),
                    got.data or b"",
                    reason=reason,
                    at=headers.get("Tinyclaw-At", ""),
                    handle=(L.failed, int(got.seq)),
                )
            )
        return result

    def _inbox_item(self, actor: str, got: Any) -> Item:
        """An inbox message with what its claim record adds (attempts, when due)."""
        seq, data = int(got.seq), got.data or b""
        state, _ = self.spool._state(seq)
        handle = Handle(
            "inbox", self.spool.layout.queue, seq, str(got.subject), state=state, data=data
        )
        # Unreadable: copied as it is; it fails on the other side as it would here.
        with contextlib.suppress(InvalidMessageError):
            data = dump(self.spool.load(handle))
        key = message_key(got.data or b"", got.headers, f"seq-{seq}")
        return Item("inbox", key, data, actor=actor, handle=(self.spool.layout.queue, seq))

    def _subjects(self, stream: str, pattern: str) -> list[str]:
        async def subjects() -> list[str]:
            info = await self.spool.conn.js.stream_info(stream, subjects_filter=pattern)
            return [s for s, n in (info.state.subjects or {}).items() if n]

        return self.spool.conn.call(subjects(), f"list the subjects of {stream}")

    # -- writing -------------------------------------------------------------------

    def add(self, item: Item, tag: str) -> None:
        L = self.spool.layout
        headers = {"Nats-Msg-Id": f"move:{tag}", "Tinyclaw-Id": item.key}
        if item.kind == "incoming":
            subject = L.incoming_subject
        elif item.kind == "inbox":
            subject = L.inbox_subject(item.actor or "")
        elif item.kind == "reply":
            subject = L.outgoing_subject(item.channel or "", item.key)
            headers = {"Nats-Msg-Id": f"move:{tag}"}
        else:
            subject = L.failed_subject(item.key)
            headers.update(
                {
                    "Tinyclaw-Key": item.key,
                    "Tinyclaw-Reason": json.dumps(item.reason),
                    "Tinyclaw-From": "moved from the files",
                    "Tinyclaw-At": item.at,
                }
            )
        self.spool._publish(subject, item.data, headers)

    def remove(self, item: Item) -> None:
        stream, seq = item.handle
        self.spool._delete(stream, seq)
        if stream == self.spool.layout.queue:
            self.spool.claims.delete(self.spool.layout.claim_key(seq))

    # -- attachments ---------------------------------------------------------------

    def _locator(self, folder: str, name: str) -> str:
        return f"{LOCATOR_PREFIX}{folder}/{name}"

    def attachment_place(self, locator: str) -> tuple[str, str]:
        if not locator.startswith(LOCATOR_PREFIX) or "/" not in locator:
            raise UnsafePathError(f"{locator!r} is not an attachment on NATS")
        folder, name = locator[len(LOCATOR_PREFIX) :].split("/", 1)
        return folder, name
