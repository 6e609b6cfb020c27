"""The files' side of a move between backends (:mod:`tinyclaw.spool.transfer`).

Every item is written the queue's way (tmp, fsync, rename) under the name the queue
gives it: ``<id>.json`` in its box, a failed entry's reason file first. A name that
is already there is replaced, never doubled, so writing an item twice is harmless."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tinyclaw.core import UnsafePathError, atomic_write
from tinyclaw.spool.maildir import REASON_SUFFIX, SUFFIX, Spool
from tinyclaw.spool.transfer import AttachmentsOf, Item


class FileQueue(AttachmentsOf):
    """The queue as files in the home."""

    label = "the files"
    spool: Spool

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def busy(self) -> str | None:
        """Only this machine serves files: its locks say it all."""
        return None

    # -- reading -------------------------------------------------------------------

    def items(self) -> list[Item]:
        s = self.spool
        found = [self._item("incoming", p) for p in s.list_box(s.incoming)]
        actors = set(s.actors_with_inbox())
        actors |= {p.name for p in _folders(s.processing_root)}
        for actor in sorted(actors):
            # A claim a stopped worker left runs first, as its recovery would do.
            for path in [*s.list_box(s.processing(actor)), *s.list_box(s.inbox(actor))]:
                found.append(self._item("inbox", path, actor=actor))
        for box in _folders(s.outgoing_root):
            found += [self._item("reply", p, channel=box.name) for p in s.list_box(box)]
        for path in s.list_box(s.failed):
            reason, at = _reason(path)
            found.append(self._item("failed", path, reason=reason, at=at))
        return [item for item in found if item is not None]

    def _item(self, kind: str, path: Path, **extra: str) -> Item | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return Item(kind, path.stem, data, handle=path, **extra)  # type: ignore[arg-type]

    # -- writing -------------------------------------------------------------------

    def _box(self, item: Item) -> Path:
        s = self.spool
        if item.kind == "incoming":
            return s.incoming
        if item.kind == "inbox":
            return s.inbox(item.actor or "")
        if item.kind == "reply":
            return s.outgoing(item.channel or "")
        return s.failed

    def add(self, item: Item, tag: str) -> None:
        del tag  # the name is the item's id: writing it again replaces it
        name = _file_name(item.key)
        box = self.spool.ensure_box(self._box(item))
        if item.kind == "failed":
            reason = {"reason": item.reason, "from": "moved from NATS", "at": item.at}
            atomic_write(
                box / (name + REASON_SUFFIX),
                json.dumps(reason, indent=1).encode(),
                tmp_dir=self.spool.tmp,
            )
        atomic_write(box / name, item.data, tmp_dir=self.spool.tmp)

    def remove(self, item: Item) -> None:
        path: Path = item.handle
        path.unlink(missing_ok=True)
        if item.kind == "failed":
            path.with_name(path.name + REASON_SUFFIX).unlink(missing_ok=True)

    # -- attachments ---------------------------------------------------------------

    def _locator(self, folder: str, name: str) -> str:
        return str(self.spool.files_dir(folder) / name)

    def attachment_place(self, locator: str) -> tuple[str, str]:
        path = Path(locator)
        if path.parent.parent != self.spool.files_root:
            raise UnsafePathError(f"{locator!r} is not an attachment of the files")
        return path.parent.name, path.name


def _folders(root: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return []


def _reason(path: Path) -> tuple[str, str]:
    """A failed file's reason and time (its ``.reason`` file: JSON, or older text)."""
    try:
        text = path.with_name(path.name + REASON_SUFFIX).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "", ""
    try:
        raw = json.loads(text)
        return str(raw.get("reason", "")), str(raw.get("at", ""))
    except (ValueError, AttributeError):
        return text.strip(), ""


def _file_name(key: str) -> str:
    """``<key>.json``, for a key that is a plain file name (an id always is); any
    other key (from another backend's bytes) is refused rather than let out."""
    if not key or "/" in key or key in (".", "..") or "\x00" in key:
        raise UnsafePathError(f"cannot name a queue file after {key!r}")
    return key + SUFFIX
