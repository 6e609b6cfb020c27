"""OutboxService: the worker service that turns outbox files into deliveries.

The worker watches every actor's ``<workspace>/outbox/`` and ticks this service when
a file arrives (and on its timed scan); each tick lists the ``*.json`` files there
(oldest first) and handles each file once:

* valid and allowed: a :class:`~tinyclaw.messages.Reply` of kind ``notice`` lands in
  ``queue/outgoing/<channel>/``, then the file is removed;
* anything else: the file moves to ``queue/failed/`` (renamed
  ``outbox-<actor>-<unique>-<name>`` so two actors' ``msg.json`` never collide) with
  the reason beside it;
* not parseable yet and younger than ``settle`` seconds: left alone, because the CLI
  may still be writing it; the tick asks to be called again when it has settled;
* written straight into the ``outbox/`` of a shared workspace instead of the actor's
  own ``outbox/<actor>/``: left alone and reported (:mod:`tinyclaw.actors.shared`).

Only names ending in ``.json`` are looked at, so a writer that wants to be safe
writes ``msg.tmp`` and renames it. Crash safety follows the queue's rule (result
first, then release): the reply is written before the file is removed, and its id is
derived from the file (name, inode, mtime, content), so after a crash in between the
same reply is found in ``outgoing/`` or ``sent/`` and not sent twice.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tinyclaw.actors.shared import SETTLE_SECONDS, Unclaimed, Unsettled, parse_settled
from tinyclaw.config import Config
from tinyclaw.errors import InvalidFileError, InvalidMessageError, UnsafePathError
from tinyclaw.events import EventLog
from tinyclaw.fsutil import read_regular, sanitize_name, unique_name, write_tmp
from tinyclaw.home import Home
from tinyclaw.messages import Reply
from tinyclaw.outbox.request import (
    MAX_REQUEST_BYTES,
    check_target,
    resolve_files,
    validate_request,
)
from tinyclaw.schedule.reach import reachable_targets
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import SUFFIX, Spool

log = logging.getLogger("tinyclaw.outbox")

FOLDER = "outbox"
__all__ = ["FOLDER", "SETTLE_SECONDS", "OutboxResult", "OutboxService"]

Status = Literal["sent", "refused", "waiting", "gone"]


@dataclass(frozen=True)
class OutboxResult:
    """What became of one file. ``reply_id`` is set when sent, ``reason`` when
    refused, ``retry_at`` (epoch seconds) while waiting for a writer to finish."""

    actor: str
    name: str
    status: Status
    reply_id: str | None = None
    target: str | None = None
    reason: str | None = None
    retry_at: float | None = None


class OutboxService:
    """Deliver what actors write into their outboxes (see the module docstring).

    ``store`` supplies the operator's jobs, whose targets an actor may also write to;
    ``events`` records each delivery and refusal in the structured event log.
    """

    name = "outbox"

    def __init__(
        self,
        home: Home,
        config: Config,
        spool: Spool,
        *,
        store: JobStore | None = None,
        events: EventLog | None = None,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.home = home
        self.config = config
        self.spool = spool
        self.store = store or JobStore.for_home(home)
        self.events = events
        self.settle = settle
        self._folders = config.actor_folders(home, FOLDER)
        self.unclaimed = Unclaimed(config.shared_folders(home, FOLDER), FOLDER, events)
        for actor, folder in self._folders.items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a workspace we cannot write: say so, serve the rest
                log.warning("cannot create the outbox of @%s: %s", actor, exc)

    def folder(self, actor: str) -> Path:
        return self._folders[actor]

    def folders(self) -> list[Path]:
        return [*self._folders.values(), *self.unclaimed.roots]

    # -- the worker's call -----------------------------------------------------------

    def tick(self, now: float) -> float | None:
        """Handle every waiting file; return when a half-written one has settled."""
        self.unclaimed.check()
        retry = [
            result.retry_at
            for actor in self.config.actors
            for result in self.scan(actor, now)
            if result.retry_at is not None
        ]
        return min(retry, default=None)

    def scan(self, actor: str, now: float) -> list[OutboxResult]:
        """Handle the files in one actor's outbox, oldest first."""
        pending = self._pending(self.folder(actor))
        if not pending:
            return []
        allowed = reachable_targets(self.config, actor, self.store.list())
        return [self.process(actor, path, now, allowed) for path in pending]

    @staticmethod
    def _pending(folder: Path) -> list[Path]:
        try:
            entries = [
                (entry.stat(follow_symlinks=False).st_mtime_ns, entry.name)
                for entry in os.scandir(folder)
                if entry.name.endswith(SUFFIX) and not entry.name.startswith(".")
            ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [folder / name for _, name in sorted(entries)]

    # -- one file ----------------------------------------------------------------------

    def process(self, actor: str, path: Path, now: float, allowed: list[str]) -> OutboxResult:
        """Deliver or refuse ``path`` (or leave it, if it may still be being written)."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return OutboxResult(actor, path.name, "gone")
        if stat.S_ISLNK(info.st_mode):
            return self._refuse(actor, path, "a symlink is not accepted; write the file itself")
        if not stat.S_ISREG(info.st_mode):
            return self._refuse(actor, path, "not a regular file")
        try:
            data = read_regular(path, MAX_REQUEST_BYTES)
        except FileNotFoundError:
            return OutboxResult(actor, path.name, "gone")
        except UnsafePathError as exc:  # swapped for a symlink since the lstat
            return self._refuse(actor, path, str(exc))
        except OSError as exc:
            return self._refuse(actor, path, f"cannot read: {exc.strerror or exc}")
        if len(data) > MAX_REQUEST_BYTES:
            return self._refuse(actor, path, f"file is over the limit of {MAX_REQUEST_BYTES} bytes")
        try:
            raw = parse_settled(data, info.st_mtime, now, self.settle)
        except InvalidFileError as exc:
            return self._refuse(actor, path, str(exc))
        if isinstance(raw, Unsettled):
            return OutboxResult(actor, path.name, "waiting", retry_at=raw.retry_at)
        workspace = self.config.workspace_for(self.home, actor)
        try:
            request = validate_request(raw)
            target = check_target(request, actor, allowed)
            files = resolve_files(request.files, workspace)
        except (InvalidMessageError, UnsafePathError) as exc:
            return self._refuse(actor, path, str(exc))
        reply_id = _reply_id(actor, path.name, info, data)
        if not self.spool.reply_exists(target.channel, reply_id):
            reply = Reply(
                id=reply_id,
                in_reply_to=reply_id,
                channel=target.channel,
                chat_id=target.chat_id,
                text=request.text,
                kind="notice",
                actor=actor,
                files=files,
                workspace=str(workspace),
                meta={"origin": "outbox", "file": path.name},
            )
            self.spool.put_reply(reply)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # the id keeps a second pass from sending it again
            log.warning("delivered %s but cannot remove it: %s", path, exc)
        log.info("outbox of @%s: %s queued for %s as %s", actor, path.name, target, reply_id)
        self._emit("outbox.sent", actor=actor, file=path.name, to=str(target), id=reply_id)
        return OutboxResult(actor, path.name, "sent", reply_id=reply_id, target=str(target))

    def _refuse(self, actor: str, path: Path, reason: str) -> OutboxResult:
        """Move ``path`` to ``queue/failed/`` with ``reason``; the rename happens in
        the outbox first, so the name is unique before it reaches the shared box."""
        name = f"{actor}-{unique_name()}-{sanitize_name(path.name, max_length=100)}"
        if not name.endswith(SUFFIX):
            name += SUFFIX
        staged = path.with_name(f"outbox-{name}")
        full = f"outbox of @{actor}: {path.name}: {reason}"
        try:
            os.rename(path, staged)
        except FileNotFoundError:
            return OutboxResult(actor, path.name, "gone")
        try:
            self.spool.fail(staged, full)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._fail_across_filesystems(staged, full)
        self._emit("outbox.refused", actor=actor, file=path.name, reason=reason)
        return OutboxResult(actor, path.name, "refused", reason=reason)

    def _fail_across_filesystems(self, staged: Path, reason: str) -> None:
        """A workspace on another filesystem cannot be renamed into the queue: copy the
        bytes (never a symlink's target) into the queue, fail the copy, drop the file."""
        data = b""
        if not staged.is_symlink():
            try:
                data = read_regular(staged, MAX_REQUEST_BYTES)[:MAX_REQUEST_BYTES]
            except (OSError, UnsafePathError) as exc:
                reason += f" (its content could not be copied: {exc})"
        tmp = write_tmp(self.spool.tmp, data, durable=self.spool.durable)
        copy = tmp.with_name(staged.name)
        os.rename(tmp, copy)
        self.spool.fail(copy, reason)
        staged.unlink(missing_ok=True)

    def _emit(self, kind: str, **fields: object) -> None:
        if self.events is not None:
            self.events.emit(kind, **fields)


def _reply_id(actor: str, name: str, info: os.stat_result, data: bytes) -> str:
    """Stable for one written file (a replay after a crash finds its reply), new for
    every rewrite (a second message under the same name is a new message). It starts
    with the time the file was written, as queue names do, so that the listener, which
    sends a folder in name order, keeps an actor's messages in the order it wrote them."""
    digest = hashlib.sha256()
    digest.update(f"{actor}\0{name}\0{info.st_ino}\0{info.st_mtime_ns}\0".encode())
    digest.update(data)
    seconds, nanos = divmod(info.st_mtime_ns, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"
    return f"{stamp}-outbox-{actor}-{digest.hexdigest()[:16]}"
