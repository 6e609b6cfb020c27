"""Copying a home's queue from one backend to the other, so that a rerun after a
crash at any point neither loses nor doubles a message.

The queue is read as a list of :class:`Item` (incoming, each inbox in order, the
replies waiting, the failed with their reasons), the same way on both backends (a
:class:`QueueSide` each: :mod:`~tinyclaw.spool.transfer_files` on files,
:mod:`~tinyclaw.spool.jetstream.transfer` on NATS). The copy is idempotent: before
it writes anything it counts what the target already holds under each item's
identity (its kind, actor or channel, and id), and skips as many of each as are
there, so what a run cut short had copied is not copied again, and the order of an
inbox is kept. A message's attachments go with it, into the target's store.

What a move carries besides the queue (the session and pairing stores, once they
live in the NATS key-value store) is one more :class:`ThingToMove`: see
``things_to_move()`` in ``tinyclaw/cli/spool.py``, the one list of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from tinyclaw.core import (
    Home,
    Inbound,
    InvalidMessageError,
    SpoolError,
    UnsafePathError,
    dump,
    failpoint,
    load_inbound,
)

Kind = Literal["incoming", "inbox", "reply", "failed"]
KINDS: tuple[Kind, ...] = ("incoming", "inbox", "reply", "failed")


@dataclass(frozen=True)
class Item:
    """One queued thing as stored: a message (incoming, in an inbox, failed) or a
    waiting reply. ``key`` is its id (a message's, a reply's, a failed entry's
    name); ``handle`` is where the source keeps it, to remove it once it is copied."""

    kind: Kind
    key: str
    data: bytes
    actor: str | None = None
    channel: str | None = None
    reason: str = ""
    at: str = ""
    handle: Any = field(default=None, compare=False)

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.kind, self.actor or self.channel or "", self.key)


class QueueSide(Protocol):
    """One backend's queue, as the move reads, writes and empties it."""

    label: str

    def busy(self) -> str | None:
        """What still serves this queue from another machine (a worker's live claim,
        a listener's live lease), or None. This machine's locks are checked apart."""
        ...

    def items(self) -> list[Item]:
        """Everything queued, in order: incoming, each inbox (oldest first, a claim a
        stopped worker left at its head), the waiting replies, the failed."""
        ...

    def add(self, item: Item, tag: str) -> None:
        """Store ``item`` as it is (``tag`` is unique to this item in this move)."""
        ...

    def remove(self, item: Item) -> None:
        """Delete ``item`` (one of :meth:`items`); nothing if it is gone already."""
        ...

    def read_attachment(self, locator: str) -> bytes: ...

    def save_attachment(self, folder: str, name: str, data: bytes) -> str:
        """Store an attachment, or find it stored already; its locator."""
        ...

    def attachment_place(self, locator: str) -> tuple[str, str]:
        """The (folder, name) a locator of this side names; UnsafePathError if it is
        not one of this side's."""
        ...

    def discard_attachments(self, folder: str) -> None: ...


class AttachmentsOf:
    """The attachment calls of a :class:`QueueSide`, passed to its spool: a save an
    earlier run made already is found, not refused (``_locator`` names it)."""

    spool: Any

    def _locator(self, folder: str, name: str) -> str:
        raise NotImplementedError

    def read_attachment(self, locator: str) -> bytes:
        data: bytes = self.spool.read_attachment(locator)
        return data

    def save_attachment(self, folder: str, name: str, data: bytes) -> str:
        try:
            return str(self.spool.save_attachment(folder, name, data))
        except FileExistsError:
            return self._locator(folder, name)  # an earlier run saved it

    def discard_attachments(self, folder: str) -> None:
        self.spool.discard_attachments(folder)


def counts(items: list[Item]) -> dict[str, int]:
    found = Counter(item.kind for item in items)
    return {kind: found.get(kind, 0) for kind in KINDS}


def missing(source: list[Item], target: list[Item]) -> int:
    """How many of ``source`` the target does not hold (by identity, counted)."""
    want = Counter(item.ident for item in source)
    have = Counter(item.ident for item in target)
    return sum(max(0, n - have[ident]) for ident, n in want.items())


def copy_items(
    source: QueueSide, target: QueueSide, move_id: str, say: Callable[[str], None]
) -> int:
    """Copy every item of ``source`` the target does not hold yet; how many were."""
    present = Counter(item.ident for item in target.items())
    seen: Counter[tuple[str, str, str]] = Counter()
    copied = 0
    for item in source.items():
        seen[item.ident] += 1
        if seen[item.ident] <= present[item.ident]:
            continue  # copied by an earlier run that did not finish
        tag = f"{move_id}:{item.kind}:{item.actor or item.channel or ''}:{item.key}:{seen[item.ident]}"
        target.add(_with_attachments(item, source, target, say), tag)
        copied += 1
        failpoint("spool_move.copied")
    return copied


def _with_attachments(
    item: Item, source: QueueSide, target: QueueSide, say: Callable[[str], None]
) -> Item:
    """``item`` with its attachments copied into the target's store and its
    locators pointing there. An attachment the source no longer has keeps its old
    locator: the worker fails that message with the reason, as it would have."""
    if item.kind == "reply":
        return item
    try:
        message = load_inbound(item.data, default_id=item.key)
    except InvalidMessageError:
        return item  # copied as it is: it fails on the target as it would have here
    if not message.attachments:
        return item
    moved = []
    for attachment in message.attachments:
        try:
            folder, name = source.attachment_place(attachment.path)
            data = source.read_attachment(attachment.path)
        except (FileNotFoundError, UnsafePathError, OSError) as exc:
            say(f"  {message.id}: attachment {attachment.name!r} not copied ({exc})")
            moved.append(attachment)
            continue
        locator = target.save_attachment(folder, name, data)
        moved.append(attachment.model_copy(update={"path": locator}))
    return replace(item, data=dump(message.model_copy(update={"attachments": moved})))


def empty_items(source: QueueSide) -> int:
    """Remove everything queued in ``source``, and its messages' attachments."""
    removed = 0
    for item in source.items():
        source.remove(item)
        removed += 1
        failpoint("spool_move.emptied")
        if item.kind != "reply":
            for folder in _attachment_folders(item, source):
                source.discard_attachments(folder)
    return removed


def _attachment_folders(item: Item, side: QueueSide) -> set[str]:
    try:
        message: Inbound = load_inbound(item.data, default_id=item.key)
    except InvalidMessageError:
        return set()
    folders = set()
    for attachment in message.attachments:
        try:
            folders.add(side.attachment_place(attachment.path)[0])
        except UnsafePathError:
            continue
    return folders


@dataclass(frozen=True)
class End:
    """One end of a move: a backend of the home, opened."""

    backend: str  # "file" or "nats"
    label: str  # "the files", "NATS"
    spool: Any  # the opened SpoolBackend (on NATS it offers ``kv(name)`` too)
    queue: QueueSide
    home: Home  # where a store kept in files is found


class ThingToMove(Protocol):
    """One part of a home that lives on the spool's backend and moves with it. Each
    step must be safe to run again after a crash: ``copy`` copies only what the
    target lacks, ``empty`` removes what is left."""

    name: str
    # True for a store whose copy replaces what the target held (the pairing store,
    # the sessions): a target holding one is not refused, as a queue would be.
    replaces: bool

    def count(self, end: End) -> dict[str, int]:
        """What ``end`` holds of it, by kind (for the report and the emptiness check)."""
        ...

    def copy(self, source: End, target: End, move_id: str, say: Callable[[str], None]) -> int:
        """Copy what the target lacks; how many were copied."""
        ...

    def confirm(self, source: End, target: End) -> None:
        """SpoolError unless the target holds everything the source does."""
        ...

    def empty(self, source: End) -> int:
        """Remove it from ``source`` (after it was confirmed on the target)."""
        ...


class QueueToMove:
    """The queue: incoming, the inboxes, the waiting replies, the failed, attachments."""

    name = "queue"
    replaces = False

    def count(self, end: End) -> dict[str, int]:
        return counts(end.queue.items())

    def copy(self, source: End, target: End, move_id: str, say: Callable[[str], None]) -> int:
        return copy_items(source.queue, target.queue, move_id, say)

    def confirm(self, source: End, target: End) -> None:
        lacking = missing(source.queue.items(), target.queue.items())
        if lacking:
            raise SpoolError(
                f"the copy is not confirmed: {target.label} lack {lacking} of what "
                f"{source.label} hold; nothing was removed (run the move again)"
            )

    def empty(self, source: End) -> int:
        return empty_items(source.queue)
