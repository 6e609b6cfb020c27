"""OutboxService: the worker service that turns outbox files into deliveries.

The worker watches every actor's ``<workspace>/outbox/`` and ticks this service when
a file arrives (and on its timed scan); each tick lists the ``*.json`` files there
(oldest first) and decides about each version of a file once, as soon as it can be
read:

* valid and allowed: a :class:`~tinyclaw.core.messages.Reply` of kind ``notice`` lands in
  ``queue/outgoing/<channel>/``;
* the same note (actor, target, text, files) as one written within
  ``worker.dedupe_window`` seconds: nothing is sent (:mod:`tinyclaw.drops.recent`);
* anything else: refused, with the reason in the log and the event log;
* not parseable yet and younger than ``settle`` seconds: left alone, because the CLI
  may still be writing it; the tick asks to be called again when it has settled;
* written straight into the ``outbox/`` of a shared workspace instead of the actor's
  own ``outbox/<actor>/``: left alone and reported (:mod:`tinyclaw.drops.shared`).

The file itself stays where the CLI wrote it while the CLI may still touch it (its
actor has a run in flight, or it changed less than ``settle`` seconds ago; see
:mod:`tinyclaw.drops.keeper`). Then a sent file is removed and a refused one moves
to ``queue/failed/`` (renamed ``outbox-<actor>-<unique>-<name>`` so two actors'
``msg.json`` never collide) with the reason beside it.

Only names ending in ``.json`` are looked at, so a writer that wants to be safe
writes ``msg.tmp`` and renames it. Crash safety follows the queue's rule (result
first, then release): the reply is written before the file is removed, and its id is
derived from the file (name, inode, mtime, content), so after a crash in between the
same reply is found in ``outgoing/`` or ``sent/`` and not sent twice.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from tinyclaw.config import Config
from tinyclaw.core import (
    EventLog,
    Home,
    InvalidFileError,
    InvalidMessageError,
    Reply,
    TinyclawError,
    UnsafePathError,
    read_regular,
    sanitize_name,
    unique_name,
)
from tinyclaw.drops import (
    SETTLE_SECONDS,
    Busy,
    DropKeeper,
    RecentRequests,
    Unclaimed,
    Unsettled,
    never_busy,
    parse_settled,
    unchanged,
    version_id,
)
from tinyclaw.outbox.request import (
    FOLDER,
    MAX_REQUEST_BYTES,
    check_target,
    resolve_files,
    validate_request,
)
from tinyclaw.schedule import JobStore, reachable_targets
from tinyclaw.spool import SUFFIX, Spool

log = logging.getLogger("tinyclaw.outbox")

__all__ = ["FOLDER", "SETTLE_SECONDS", "OutboxResult", "OutboxService"]

Status = Literal["sent", "repeat", "refused", "waiting", "gone"]
PRUNE_EVERY = 3600.0  # seconds between prunings of the repeat marks


@dataclass(frozen=True)
class OutboxResult:
    """What became of one file. ``reply_id`` is set when sent (for a repeat: the
    reply of the note it repeats), ``reason`` when refused, ``retry_at`` (epoch
    seconds) while waiting for a writer to finish or for the file to leave;
    ``left`` once the file is out of the outbox."""

    actor: str
    name: str
    status: Status
    reply_id: str | None = None
    target: str | None = None
    reason: str | None = None
    retry_at: float | None = None
    left: bool = False


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
        busy: Busy = never_busy,
        actors: frozenset[str] | None = None,
    ) -> None:
        """``actors``: whose outboxes this worker serves (a worker node's own actors,
        whose workspaces are on its machine); None: every actor's."""
        self.home = home
        self.config = config
        self.spool = spool
        self.store = store or JobStore.for_home(home)
        self.events = events
        self.settle = settle
        self.keeper: DropKeeper[OutboxResult] = DropKeeper(busy, settle)
        self.recent = RecentRequests(home.state / "recent", config.worker.dedupe_window)
        self._last_prune = float("-inf")
        self._folders = {
            name: folder
            for name, folder in config.actor_folders(home, FOLDER).items()
            if actors is None or name in actors
        }
        shared = {
            folder: names
            for folder, names in config.shared_folders(home, FOLDER).items()
            if actors is None or any(name in actors for name in names)
        }
        self.unclaimed = Unclaimed(shared, FOLDER, events)
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
        """Handle every waiting file; return when one has settled or may leave."""
        self.unclaimed.check()
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            self.recent.prune(now)
        present: set[str] = set()
        retry = []
        for actor in self._folders:
            listing = self._pending(self.folder(actor))
            present.update(path for path, _ in listing)
            for result in self._scan(actor, listing, now):
                if result.retry_at is not None:
                    retry.append(result.retry_at)
        self.keeper.keep_only(present)
        return min(retry, default=None)

    def scan(self, actor: str, now: float) -> list[OutboxResult]:
        """Handle the files in one actor's outbox, oldest first."""
        return self._scan(actor, self._pending(self.folder(actor)), now)

    def _scan(
        self, actor: str, listing: list[tuple[str, os.stat_result]], now: float
    ) -> list[OutboxResult]:
        """One file's trouble (whatever its content) is that file's: the others are
        handled all the same."""
        # The job store is read only if a file needs it, and once per scan.
        allowed = functools.cache(lambda: reachable_targets(self.config, actor, self.store.list()))
        results = []
        for path, info in listing:
            try:
                results.append(self.process(actor, path, now, allowed, info))
            except (TinyclawError, OSError) as exc:  # the edge of one file
                name = os.path.basename(path)
                log.warning("outbox of @%s: cannot handle %s now: %s", actor, name, exc)
                results.append(OutboxResult(actor, name, "waiting"))
        return results

    @staticmethod
    def _pending(folder: Path) -> list[tuple[str, os.stat_result]]:
        """The ``*.json`` entries (not followed) in the order they were written."""
        try:
            entries = [
                (entry.path, entry.stat(follow_symlinks=False))
                for entry in os.scandir(folder)
                if entry.name.endswith(SUFFIX) and not entry.name.startswith(".")
            ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        entries.sort(key=lambda item: (item[1].st_mtime_ns, item[0]))
        return entries

    # -- one file ----------------------------------------------------------------------

    def process(
        self,
        actor: str,
        path: str | Path,
        now: float,
        allowed: Callable[[], list[str]],
        info: os.stat_result | None = None,
    ) -> OutboxResult:
        """Decide about ``path`` once per version, then let it leave when no tool can
        still be at work on it (or leave it, if it may still be being written).
        ``info``: its ``lstat`` if the caller has it already."""
        if info is None:
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                return OutboxResult(actor, os.path.basename(path), "gone")
        verdict = self.keeper.verdict(path, info)
        if verdict is None:
            verdict = self._decide(actor, Path(path), info, now, allowed)
            if verdict.status in ("waiting", "gone"):
                return verdict
            self.keeper.mark(path, info, verdict)
        return self._leave(actor, path, info, now, verdict)

    def _decide(
        self,
        actor: str,
        path: Path,
        info: os.stat_result,
        now: float,
        allowed: Callable[[], list[str]],
    ) -> OutboxResult:
        if stat.S_ISLNK(info.st_mode):
            return self._refused(actor, path, "a symlink is not accepted; write the file itself")
        if not stat.S_ISREG(info.st_mode):
            return self._refused(actor, path, "not a regular file")
        try:
            data = read_regular(path, MAX_REQUEST_BYTES)
        except FileNotFoundError:
            return OutboxResult(actor, path.name, "gone")
        except UnsafePathError as exc:  # swapped for a symlink since the lstat
            return self._refused(actor, path, str(exc))
        except OSError as exc:
            return self._refused(actor, path, f"cannot read: {exc.strerror or exc}")
        if len(data) > MAX_REQUEST_BYTES:
            return self._refused(
                actor, path, f"file is over the limit of {MAX_REQUEST_BYTES} bytes"
            )
        try:
            raw = parse_settled(data, info.st_mtime, now, self.settle)
        except InvalidFileError as exc:
            return self._refused(actor, path, str(exc))
        if isinstance(raw, Unsettled):
            return OutboxResult(actor, path.name, "waiting", retry_at=raw.retry_at)
        workspace = self.config.workspace_for(self.home, actor)
        try:
            request = validate_request(raw)
            target = check_target(request, actor, allowed())
            files = resolve_files(request.files, workspace)
        except (InvalidMessageError, UnsafePathError) as exc:
            return self._refused(actor, path, str(exc))
        reply_id = _reply_id(actor, path.name, info, data)
        key = RecentRequests.key("note", actor, str(target), request.text, *_identify(files))
        earlier = self.recent.original(key, info.st_mtime)
        if earlier is not None and earlier != reply_id:
            log.info(
                "outbox of @%s: %s repeats %s (same chat and content): not sent again",
                actor,
                path.name,
                earlier,
            )
            self._emit("outbox.repeat", actor=actor, file=path.name, to=str(target), id=earlier)
            return OutboxResult(actor, path.name, "repeat", reply_id=earlier, target=str(target))
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
        self.recent.record(key, info.st_mtime, reply_id)
        log.info("outbox of @%s: %s queued for %s as %s", actor, path.name, target, reply_id)
        self._emit("outbox.sent", actor=actor, file=path.name, to=str(target), id=reply_id)
        return OutboxResult(actor, path.name, "sent", reply_id=reply_id, target=str(target))

    def _refused(self, actor: str, path: Path, reason: str) -> OutboxResult:
        """Say once that ``path`` is refused; it moves to ``failed/`` when it leaves."""
        log.warning("outbox of @%s: %s refused: %s", actor, path.name, reason)
        self._emit("outbox.refused", actor=actor, file=path.name, reason=reason)
        return OutboxResult(actor, path.name, "refused", reason=reason)

    def _leave(
        self,
        actor: str,
        path: str | Path,
        info: os.stat_result,
        now: float,
        verdict: OutboxResult,
    ) -> OutboxResult:
        """Take the file out of the outbox once no tool can still be at work on it."""
        if not self.keeper.may_leave(actor, path, info, now):
            # While the actor runs, the end of its run wakes the worker; else look
            # again once the file has been still for the settle time.
            later = None if self.keeper.busy(actor) else self.keeper.leave_at(info)
            if later is not None and later <= now:
                later = None  # it may not leave for another reason (it is stuck)
            if verdict.retry_at != later:  # kept, so a long wait costs no copy per pass
                verdict = replace(verdict, retry_at=later)
                self.keeper.mark(path, info, verdict)
            return verdict
        if not unchanged(path, info):
            return replace(verdict, retry_at=None)  # rewritten meanwhile: the next scan
        try:
            if verdict.status == "refused":
                self._move_to_failed(actor, Path(path), verdict.reason or "refused")
            else:
                Path(path).unlink(missing_ok=True)
        except OSError as exc:  # the id keeps a later pass from sending it again
            log.warning("outbox of @%s: cannot take %s out: %s", actor, verdict.name, exc)
            self.keeper.stuck(path, info)
            return replace(verdict, retry_at=None)
        self.keeper.forget(path)
        return replace(verdict, retry_at=None, left=True)

    def _move_to_failed(self, actor: str, path: Path, reason: str) -> None:
        """Keep ``path`` among the queue's failed with ``reason`` (``queue/failed/``
        on files, the failed stream on NATS); it is renamed in the outbox first, so
        its name is unique before it reaches the shared box."""
        name = f"{actor}-{unique_name()}-{sanitize_name(path.name, max_length=100)}"
        if not name.endswith(SUFFIX):
            name += SUFFIX
        staged = path.with_name(f"outbox-{name}")
        full = f"outbox of @{actor}: {path.name}: {reason}"
        try:
            os.rename(path, staged)
        except FileNotFoundError:
            return
        if not isinstance(self.spool, Spool):  # NATS: the handles are not files
            self._reject(staged, full)
            return
        # The file spool's handles are files: the file itself moves into failed/
        # (a symlink stays one, as evidence), unless the workspace is on another
        # filesystem.
        try:
            self.spool.fail(staged, full)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._reject(staged, full)

    def _reject(self, staged: Path, reason: str) -> None:
        """Hand the bytes (never a symlink's target) to the spool's ``reject``, then
        drop the file: for a spool whose handles are not files (NATS), or a workspace
        on another filesystem than the file spool."""
        data = b""
        if not staged.is_symlink():
            try:
                data = read_regular(staged, MAX_REQUEST_BYTES)[:MAX_REQUEST_BYTES]
            except (OSError, UnsafePathError) as exc:
                reason += f" (its content could not be copied: {exc})"
        self.spool.reject(staged.name, data, reason)
        staged.unlink(missing_ok=True)

    def _emit(self, kind: str, **fields: object) -> None:
        if self.events is not None:
            self.events.emit(kind, **fields)


def _reply_id(actor: str, name: str, info: os.stat_result, data: bytes) -> str:
    """Stable for one written file (a replay after a crash finds its reply), new for
    every rewrite (a second message under the same name is a new message). It starts
    with the time the file was written, so that the listener, which sends a folder in
    name order, keeps an actor's messages in the order it wrote them."""
    stamp, digest = version_id(actor, name, info, data).split("-", 1)
    return f"{stamp}-outbox-{actor}-{digest}"


def _identify(files: list[str]) -> list[str]:
    """The attachments as they are now (path, size, mtime): the same report attached
    twice is the same note; a report rewritten meanwhile is not."""
    marks = []
    for file in files:
        try:
            info = os.stat(file)
        except OSError:
            marks.append(file)
            continue
        marks.append(f"{file}:{info.st_size}:{info.st_mtime_ns}")
    return marks
