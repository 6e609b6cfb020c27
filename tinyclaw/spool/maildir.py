"""The Maildir backend: the spool as files in the home (docs/architecture.md, "The queue protocol").

Boxes and the one move each file makes between them::

    queue/tmp/            every writer starts here (O_EXCL, write, fsync)
    queue/incoming/       new messages from listeners, `tinyclaw send`, schedules
    actors/<a>/inbox/     routed messages, handoffs, operator lines; one actor's FIFO
    queue/processing/<a>/ claimed by the worker while <a>'s CLI runs
    queue/outgoing/<ch>/  replies waiting for the <ch> listener, named <message id>.json
    queue/sent/<ch>/      replies the platform accepted: the delivery ledger
    queue/failed/         anything that cannot go on, with <name>.reason beside it
    queue/seen/<ch>/      platform message keys already queued (redelivery filter)
    queue/files/<id>/     attachments downloaded for message <id>

Every state change is one ``rename(2)`` within the home's filesystem. A claim is a
rename; whoever loses the race gets ``None`` and moves on. A reply is written before
the claim is released, and named by message id, so a replay overwrites it rather than
doubling it, and a reply already in ``sent/`` tells recovery the work was done.

This is the embedded default implementation of :class:`tinyclaw.spool.backend.SpoolBackend`;
its handles are the files' paths.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tinyclaw.config import NAME_RE
from tinyclaw.core import (
    MAX_FILE_BYTES,
    Home,
    Inbound,
    InvalidMessageError,
    Reply,
    UnsafePathError,
    atomic_write,
    confine,
    dump,
    failpoint,
    fsync_dir,
    load_inbound,
    load_reply,
    read_regular,
    unique_name,
    write_tmp,
)
from tinyclaw.spool.backend import (
    Location,
    Recovered,
    check_actor,
    check_channel,
    retry_delay,
)
from tinyclaw.spool.speed import DirSync, InboxIndex

if TYPE_CHECKING:
    from tinyclaw.spool.backend import SpoolBackend

log = logging.getLogger("tinyclaw.spool")

SUFFIX = ".json"
REASON_SUFFIX = ".reason"
STALE_TMP_SECONDS = 600.0
BOX_PATHS_KEPT = 1024  # box paths remembered by name (actors and channels: a handful)
ROUTED_KEPT = 256  # routed messages kept in memory for the claim (a backlog reads the rest)
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024 * 1024


class Spool:
    """All queue operations of one home. Safe across threads and processes: it keeps no
    state but the filesystem, and every transition is an atomic rename."""

    def __init__(
        self,
        home: Home,
        *,
        clock: Callable[[], float] = time.time,
        durable: bool = True,
        redact: Callable[[str], str] | None = None,
        rescan: float = 5.0,
    ) -> None:
        """``redact`` is applied to every reply's text before it is written: the
        worker passes its secret redactor, so no path (a run, an actor's outbox, a
        command) can queue a secret for a chat. ``rescan``: how old (seconds) the
        in-memory listing of an inbox may grow before :meth:`pending` lists the folder
        again (the correction for a watcher that missed an arrival)."""
        self.home = home
        self.redact = redact
        self.root = home.queue
        self.clock = clock
        self.durable = durable
        self.tmp = self.root / "tmp"
        self.incoming = self.root / "incoming"
        self.processing_root = self.root / "processing"
        self.outgoing_root = self.root / "outgoing"
        self.sent_root = self.root / "sent"
        self.failed = self.root / "failed"
        self.seen_root = self.root / "seen"
        self.files_root = self.root / "files"
        self._boxes: set[Path] = set()
        self._boxes_lock = threading.Lock()
        # Directory fsyncs shared by every thread of this process (group commit), and
        # the inboxes' listings kept in memory (see tinyclaw.spool.speed).
        self._dirsync = DirSync(fsync_dir if durable else None)
        self._index = InboxIndex(rescan)
        # The message last read from incoming/, and those this process routed into an
        # inbox since (bounded), by path: reading a routed file back from its inbox
        # would only validate the same bytes again.
        self._last_read: tuple[Path, Inbound] | None = None
        self._routed: dict[Path, Inbound] = {}
        self._box_paths: dict[tuple[str, str], Path] = {}
        for path in (
            self.tmp,
            self.incoming,
            self.processing_root,
            self.outgoing_root,
            self.failed,
        ):
            self.ensure_box(path)

    def ensure_box(self, box: Path) -> Path:
        """Create ``box`` if needed, refusing a symlink anywhere below the home.

        A folder of the queue replaced by a link (``queue/outgoing/cli`` → somewhere
        else) would make every write land, and every read come from, outside the
        home. Each folder is checked once per process, then remembered."""
        if box in self._boxes:
            return box
        try:
            parts = box.relative_to(self.home.root).parts
        except ValueError:
            raise UnsafePathError(f"{box} is outside the home {self.home.root}") from None
        current = self.home.root
        for part in parts:
            current = current / part
            if current.is_symlink():
                raise UnsafePathError(
                    f"{current} is a symlink; tinyclaw only uses real folders inside its "
                    "home (remove the link, or point the whole home elsewhere)"
                )
            try:
                current.mkdir()
            except FileExistsError:
                if not current.is_dir():
                    raise UnsafePathError(f"{current} is a file, not a folder") from None
        with self._boxes_lock:
            self._boxes.add(box)
        return box

    # -- boxes ---------------------------------------------------------------------

    def inbox(self, actor: str) -> Path:
        return self._box("inbox", actor, lambda: self.home.actors / check_actor(actor) / "inbox")

    def processing(self, actor: str) -> Path:
        return self._box("processing", actor, lambda: self.processing_root / check_actor(actor))

    def outgoing(self, channel: str) -> Path:
        return self._box("outgoing", channel, lambda: self.outgoing_root / check_channel(channel))

    def _box(self, kind: str, name: str, make: Callable[[], Path]) -> Path:
        """A box's path, checked and joined once per name: a message asks for its
        actor's and channel's boxes several times on its way through the worker."""
        key = (kind, name)
        box = self._box_paths.get(key)
        if box is None:
            box = make()  # a bad name raises and is not kept
            if len(self._box_paths) < BOX_PATHS_KEPT:
                self._box_paths[key] = box
        return box

    def sent(self, channel: str) -> Path:
        return self.sent_root / check_channel(channel)

    def files_dir(self, message_id: str) -> Path:
        """Where a listener puts the attachments of one message."""
        return self.files_root / message_id

    @staticmethod
    def list_box(box: Path) -> list[Path]:
        """The box's message files in arrival order (a sorted listing is the FIFO)."""
        return [box / name for name in Spool.box_names(box)]

    @staticmethod
    def box_names(box: Path) -> Iterator[str]:
        """The box's file names in arrival order, lazily: the worker needs only an
        inbox's head, and an inbox may hold thousands. The listing is sorted in C and
        filtered name by name as it is consumed, so the head costs O(1) Python work."""
        try:
            names = os.listdir(box)
        except FileNotFoundError:
            return iter(())
        names.sort()
        return (n for n in names if n.endswith(SUFFIX) and not n.startswith("."))

    def actors_with_inbox(self) -> list[str]:
        try:
            return sorted(
                entry.name
                for entry in os.scandir(self.home.actors)
                if entry.is_dir()
                and NAME_RE.fullmatch(entry.name)
                and (Path(entry.path) / "inbox").is_dir()
            )
        except FileNotFoundError:
            return []

    @staticmethod
    def read(path: Path) -> bytes:
        """The bytes of one queue file, for ``load_inbound``/``load_reply``.

        ``path.read_bytes()`` follows a symlink planted in a box (reading a file outside
        the home), blocks forever on a FIFO and reads a 50 MB file whole. This refuses anything but a regular file and reads at
        most one byte past the size limit; both end as InvalidMessageError, which every
        reader already turns into a move to ``failed/``. FileNotFoundError passes
        through (another process took the file).
        """
        try:
            data = read_regular(path, MAX_FILE_BYTES)
        except UnsafePathError as exc:
            raise InvalidMessageError(str(exc)) from None
        if len(data) > MAX_FILE_BYTES:
            raise InvalidMessageError(f"file is over the limit of {MAX_FILE_BYTES} bytes")
        return data

    def load(self, path: Path) -> Inbound:
        """Read and validate one message file of a box.

        The file's name is the message's id (replies, the run journal and recovery
        all key on it), so a file whose JSON carries another id is refused: two such
        files with one id would otherwise share a reply, and the second would be taken
        for answered and dropped without a word."""
        routed = self._routed.pop(path, None)
        if routed is not None:
            return routed
        try:
            data = self.read(path)
        except FileNotFoundError:
            self._index.removed(path.parent, path.name)  # a stale arrival hint
            raise
        message = load_inbound(data, default_id=path.stem)
        if path.suffix == SUFFIX and message.id != path.stem:
            raise InvalidMessageError(
                f"the message id {message.id!r} differs from the file name {path.name!r} "
                "(a queue file is named <id>.json; leave out `id` to take the name)"
            )
        if path.parent == self.incoming:
            self._last_read = (path, message)
        return message

    # -- writing -------------------------------------------------------------------

    def _commit(self, tmp: Path, box: Path, name: str) -> Path:
        try:
            self.ensure_box(box)
        except UnsafePathError:
            tmp.unlink(missing_ok=True)
            raise
        target = box / name
        try:
            os.rename(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._index.added(box, name)
        self._dirsync.sync(box)
        return target

    def put(
        self, message: Inbound, box: Path | None = None, *, dedupe_key: str | None = None
    ) -> Path | None:
        """Queue ``message`` into ``box`` (default ``incoming/``).

        With ``dedupe_key`` (the platform's message id) a redelivered message is queued
        at most once: the tmp file is hard-linked into ``seen/`` first, which fails if
        the key is known. A crash between link and rename leaves a tmp file with two
        links, which ``recovery.recover_tmp`` rolls forward. Returns None for a duplicate.
        """
        box = box or self.incoming
        tmp = write_tmp(self.tmp, dump(message), durable=self.durable)
        failpoint("put.tmp_written")
        if dedupe_key is not None:
            seen_dir = self.seen_root / check_channel(message.channel)
            seen_dir.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:40]
            seen = seen_dir / digest
            try:
                os.link(tmp, seen)
            except FileExistsError:
                tmp.unlink(missing_ok=True)
                return None
            failpoint("put.linked")
            try:
                return self._commit(tmp, box, message.id + SUFFIX)
            except BaseException:
                # Not queued after all: forget the key, or the redelivery is dropped.
                seen.unlink(missing_ok=True)
                raise
        target = self._commit(tmp, box, message.id + SUFFIX)
        failpoint("put.committed")
        return target

    def put_reply(self, reply: Reply) -> Path:
        """Write a reply into ``outgoing/<channel>/<id>.json``, replacing any earlier one."""
        if self.redact is not None:
            reply = reply.model_copy(update={"text": self.redact(reply.text)})
        tmp = write_tmp(self.tmp, dump(reply), durable=self.durable)
        failpoint("put_reply.tmp_written")
        target = self._commit(tmp, self.outgoing(reply.channel), reply.id + SUFFIX)
        failpoint("put_reply.committed")
        return target

    def rewrite(self, path: Path, message: Inbound, box: Path | None = None) -> Path:
        """Give ``path`` new content, in place (a claimed message's transcript), or
        moved into ``box`` (e.g. a counted retry): the new file lands before the old
        one is removed, so a crash can only leave both, and both carry the same name,
        so the next rename replaces rather than doubles."""
        tmp = write_tmp(self.tmp, dump(message), durable=self.durable)
        target = self._commit(tmp, path.parent if box is None else box, path.name)
        failpoint("rewrite.committed")
        if target != path:
            path.unlink(missing_ok=True)
        return target

    # -- moving --------------------------------------------------------------------

    def move(
        self, path: Path, box: Path, name: str | None = None, *, sync: bool = True
    ) -> Path | None:
        """Rename ``path`` into ``box`` (as ``name``, default its own); None if another
        process took it first.

        ``sync=False`` leaves the directory fsync to the caller (:meth:`sync`), who
        must make it before anything depends on the move: a batch of moves into one
        box then costs one fsync (group commit), or the fsync leaves the loop thread."""
        self.ensure_box(box)
        target = box / (name or path.name)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            self._index.removed(path.parent, path.name)
            return None
        self._index.removed(path.parent, path.name)
        self._index.added(box, target.name)
        if sync:
            self.sync(box)
        else:
            self._dirsync.changed(box)
        return target

    def sync(self, box: Path) -> None:
        """Make the renames into (and out of) ``box`` durable. Threads syncing one
        folder at once share one fsync (group commit): a sync started after a rename
        covers it, so a caller waits for at most the one in progress and the next."""
        self._dirsync.sync(box)

    def flush(self) -> None:
        """Make every change so far durable: the folders whose fsync was left for
        later (a completion's unlink) are synced now. The worker calls it when idle
        and before it stops."""
        self._dirsync.flush()

    def arrived(self, path: Path) -> bool:
        """A watcher saw ``path`` arrive: an inbox listing kept in memory learns the
        name without listing the folder. A hint only: a name that is gone by the time
        it is loaded is forgotten, and the timed rescan corrects a missed one.

        False when the arrival is this process's own routing coming back (the worker
        dispatches right after routing, so waking it again would only rescan)."""
        return self._index.seen(path.parent, path.name)

    def forget_listings(self) -> None:
        """List every inbox afresh at its next :meth:`pending` (the watcher lost
        events)."""
        self._index.clear()

    def claim(self, path: Path, actor: str, *, sync: bool = True) -> Path | None:
        """Claim an inbox file for ``actor``'s run: the loser of a race gets None.
        With ``sync=False`` the caller syncs the processing box before the run starts
        (the worker does it on the run thread)."""
        return self.move(path, self.processing(actor), sync=sync)

    def complete(self, path: Path) -> None:
        """Release a claim whose result is already written.

        The unlink is not fsynced here: the next sync of the folder (the actor's next
        claim, or :meth:`flush` when the worker idles) covers it, so one fsync serves
        both. The result was made durable before this call; a power cut that brings
        the file back leaves it for recovery, which finds the reply."""
        path.unlink(missing_ok=True)
        self._index.removed(path.parent, path.name)
        failpoint("complete.unlinked")
        self._dirsync.changed(path.parent)

    def fail(self, path: Path, reason: str) -> Path | None:
        """Move ``path`` to ``failed/`` with a reason file written first beside it.

        A name already taken in ``failed/`` gets a unique suffix: the earlier file and
        its reason are evidence and are never replaced. A reason alone is not: it is
        what a process killed inside this method left, and is written again."""
        name = path.name
        if (self.failed / name).exists():
            name = f"{path.stem}.{unique_name()}{path.suffix}"
        reason_path = self.failed / (name + REASON_SUFFIX)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))
        body = json.dumps({"reason": reason, "from": str(path.parent), "at": stamp}, indent=1)
        atomic_write(reason_path, body.encode(), tmp_dir=self.tmp, durable=self.durable)
        failpoint("fail.reason_written")
        target = self.move(path, self.failed, name)
        log.warning("moved %s to failed/: %s", path.name, reason)
        return target

    def reject(self, name: str, data: bytes, reason: str) -> Path | None:
        """Keep bytes that came from outside the queue (a file an actor dropped on
        another filesystem) in ``failed/`` as ``name``, with ``reason``."""
        tmp = write_tmp(self.tmp, data, durable=self.durable)
        copy = tmp.with_name(Path(name).name)
        os.rename(tmp, copy)
        return self.fail(copy, reason)

    def mark_sent(self, path: Path, channel: str) -> Path | None:
        """A platform accepted this reply: keep it in ``sent/`` as the delivery ledger."""
        return self.move(path, self.sent(channel))

    def reply_exists(self, channel: str, reply_id: str) -> bool:
        """Whether a reply with this id is waiting or already delivered."""
        name = reply_id + SUFFIX
        return (self.outgoing(channel) / name).exists() or (self.sent(channel) / name).exists()

    def locate(self, actor: str, message_id: str) -> Location:
        """Where ``message_id`` is: its file in ``actor``'s inbox or ``processing/``,
        else in ``failed/`` (under its name, or the ``<id>.<unique>`` name :meth:`fail`
        gives a second one), its ``.reason`` beside it."""
        name = message_id + SUFFIX
        if (self.inbox(actor) / name).exists():
            return Location("waiting")
        if (self.processing(actor) / name).exists():
            return Location("running")
        found = [self.failed / name] if (self.failed / name).exists() else []
        found += sorted(self.failed.glob(f"{glob.escape(message_id)}.*{SUFFIX}"))
        if not found:
            return Location("gone")
        return Location("failed", _failed_reason(found[0]))

    # -- recovery (the sweeps are in recovery.py) ------------------------------

    def retry(self, path: Path, actor: str, max_attempts: int, backoff: float, why: str) -> bool:
        """Count an attempt and put ``path`` back into ``actor``'s inbox, or fail it."""
        try:
            message = self.load(path)
        except FileNotFoundError:
            return True
        except (OSError, InvalidMessageError) as exc:  # unreadable: it can never succeed
            self.fail(path, f"unreadable after {why}: {exc}")
            return False
        attempts = message.attempts + 1
        if attempts >= max_attempts:
            self.fail(path, f"{why}; gave up after {attempts} attempts")
            return False
        delay = retry_delay(backoff, attempts)
        updated = message.model_copy(
            update={"attempts": attempts, "not_before": self.clock() + delay}
        )
        self.rewrite(path, updated, self.inbox(actor))
        log.info("requeued %s for %s (attempt %d, %s)", path.name, actor, attempts + 1, why)
        return True

    def recover(
        self,
        max_attempts: int,
        backoff: float,
        ran: Callable[[str], bool] = lambda message_id: False,
    ) -> Recovered:
        """Return every claim to its inbox and finish or discard half-written puts
        (the sweeps are in :mod:`tinyclaw.spool.recovery`)."""
        from tinyclaw.spool.recovery import recover_processing, recover_tmp

        requeued, failed = recover_processing(self, max_attempts, backoff, ran)
        rolled = recover_tmp(self)
        return Recovered(requeued=requeued, failed=failed, rolled=rolled)

    # -- the backend interface's names for the box operations ------------------------

    def put_for(self, actor: str, message: Inbound) -> Path:
        """Queue ``message`` straight into ``actor``'s inbox."""
        target = self.put(message, self.inbox(actor))
        assert target is not None  # without a dedupe key a put always lands
        return target

    def route(self, path: Path, actor: str, *, sync: bool = True) -> Path | None:
        """Rename an incoming file into ``actor``'s inbox (``sync`` as for :meth:`move`).
        The router's caller looks at the inboxes right after routing, so the watcher's
        event for this rename is not news (:meth:`arrived`)."""
        box = self.inbox(actor)
        self._index.moved_in(box, path.name)  # before the rename: its event may be quick
        try:
            target = self.move(path, box, sync=sync)
        except BaseException:
            self._index.seen(box, path.name)
            raise
        if target is None:
            self._index.seen(box, path.name)  # no rename, no echo to wait for
            return None
        last = self._last_read
        if last is not None and last[0] == path and len(self._routed) < ROUTED_KEPT:
            self._routed[target] = last[1]  # what the claim would read back
        return target

    def release(self, path: Path, actor: str, *, sync: bool = True) -> Path | None:
        """Rename a claimed file back into ``actor``'s inbox as it is."""
        return self.move(path, self.inbox(actor), sync=sync)

    def pending(self, actor: str) -> Iterator[Path]:
        """``actor``'s inbox, oldest first, lazily.

        Served from the inbox's listing in memory, kept by this process's own moves
        and the watcher's hints (:meth:`arrived`), and listed afresh once it is older
        than ``rescan``: the head of a 10,000-message inbox costs no listing."""
        box = self.inbox(actor)
        return (box / name for name in self._index.names(box, self.box_names))

    def replies(self, channel: str) -> list[Path]:
        """The channel's waiting replies, oldest first."""
        return self.list_box(self.outgoing(channel))

    @classmethod
    def load_reply(cls, path: Path) -> Reply:
        """Read and validate one reply file (its name is the default id)."""
        return load_reply(cls.read(path), default_id=path.stem)

    def update_reply(self, path: Path, reply: Reply) -> bool:
        """Replace a waiting reply's content in place of ``path`` (delivery progress,
        a deferral). A reply no longer there (sent, failed, or taken by another
        process) is not written back: that would deliver it a second time."""
        if not path.exists():
            return False
        atomic_write(path, dump(reply), tmp_dir=self.tmp, durable=self.durable)
        return True

    def save_attachment(self, message_id: str, name: str, data: bytes) -> str:
        """Write one downloaded file into ``files/<message_id>/<name>``, refusing an
        existing name and any name that would leave the folder; returns its path."""
        folder = self.files_dir(message_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = confine(folder, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return str(path)

    def read_attachment(self, locator: str, limit: int = MAX_ATTACHMENT_BYTES) -> bytes:
        """Read a saved attachment, refusing a locator outside ``files/`` and anything
        but a regular file (UnsafePathError)."""
        return read_regular(confine(self.files_root, locator), limit)

    def discard_attachments(self, message_id: str) -> None:
        """Remove ``files/<message_id>/`` and everything in it."""
        shutil.rmtree(self.files_dir(message_id), ignore_errors=True)

    def depths(self) -> dict[str, int]:
        """How many files each box holds, for `tinyclaw status` and the dashboard."""
        result = {
            "incoming": len(self.list_box(self.incoming)),
            "failed": len(self.list_box(self.failed)),
        }
        result["processing"] = sum(len(self.list_box(d)) for d in _subdirs(self.processing_root))
        result["outgoing"] = sum(len(self.list_box(d)) for d in _subdirs(self.outgoing_root))
        result["inboxes"] = sum(len(self.list_box(self.inbox(a))) for a in self.actors_with_inbox())
        return result


def _failed_reason(path: Path) -> str:
    """The reason kept beside a failed file; a generic one if it is missing or was
    written by hand."""
    try:
        raw = json.loads(path.with_name(path.name + REASON_SUFFIX).read_bytes())
        reason = raw.get("reason") if isinstance(raw, dict) else None
    except (OSError, ValueError, RecursionError):
        reason = None
    return str(reason) if reason else "it was moved to queue/failed/"


def _subdirs(path: Path) -> Iterator[Path]:
    try:
        yield from (Path(e.path) for e in os.scandir(path) if e.is_dir())
    except FileNotFoundError:
        return


if TYPE_CHECKING:

    def _implements(spool: Spool) -> SpoolBackend[Path]:
        return spool  # mypy checks here that Spool is a SpoolBackend
