"""The Maildir backend's sweeps: what a crash or a careless writer leaves behind, put right.

``recover_processing`` returns claimed messages to their inboxes (counting an attempt,
backing off, failing a message that keeps killing the worker); ``recover_tmp``
finishes or discards half-written files; ``strays`` finds files nothing would read;
``prune`` forgets old ledger entries. The worker's upkeep calls them (see
``worker/upkeep.py``); each is safe to run while other processes use the queue.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from tinyclaw.config import NAME_RE
from tinyclaw.core.errors import InvalidMessageError
from tinyclaw.core.failpoints import failpoint
from tinyclaw.core.messages import load_inbound
from tinyclaw.spool.maildir import REASON_SUFFIX, STALE_TMP_SECONDS, SUFFIX, Spool


def recover_processing(
    spool: Spool,
    max_attempts: int,
    backoff: float,
    ran: Callable[[str], bool] = lambda message_id: False,
) -> tuple[int, int]:
    """Return every claimed file to its actor's inbox after a crash.

    Each return counts one attempt in the file and sets ``not_before`` (exponential
    backoff); past ``max_attempts`` the file goes to ``failed/``, so a message that
    kills the worker cannot loop forever. A message whose run had finished (``ran``:
    its result is saved, only the release was cut short) is no such message: it goes
    back as it is, to be completed from the saved result. Returns (requeued, failed).
    """
    requeued = failed = 0
    try:
        actor_dirs = [Path(e.path) for e in os.scandir(spool.processing_root) if e.is_dir()]
    except FileNotFoundError:
        return 0, 0
    for actor_dir in actor_dirs:
        if not NAME_RE.fullmatch(actor_dir.name):
            for stray in spool.list_box(actor_dir):
                spool.fail(stray, f"claimed under an invalid actor name {actor_dir.name!r}")
                failed += 1
            continue
        for path in spool.list_box(actor_dir):
            if ran(path.stem):
                spool.move(path, spool.inbox(actor_dir.name))
                requeued += 1
            elif spool.retry(
                path,
                actor_dir.name,
                max_attempts,
                backoff,
                "interrupted (process stopped during the run)",
            ):
                requeued += 1
            else:
                failed += 1
    return requeued, failed


def recover_tmp(spool: Spool, min_age: float = STALE_TMP_SECONDS) -> int:
    """Finish or discard what writers left in ``tmp/``.

    A tmp file with a second link was already registered in ``seen/``: the writer
    died between link and rename, so roll it forward into ``incoming/``. A lone tmp
    file older than ``min_age`` belongs to a writer that died mid-write: remove it.
    """
    now = spool.clock()
    rolled = 0
    try:
        entries = list(os.scandir(spool.tmp))
    except FileNotFoundError:
        return 0
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            st = entry.stat(follow_symlinks=False)
            if st.st_nlink > 1 and now - st.st_mtime > 1.0:
                try:
                    message = load_inbound(Spool.read(Path(entry.path)))
                except FileNotFoundError:
                    raise  # taken meanwhile: nothing to do (suppressed above)
                except (OSError, InvalidMessageError) as exc:
                    spool.fail(Path(entry.path), f"unreadable half-queued message: {exc}")
                    continue
                failpoint("recover_tmp.rolling")
                os.rename(entry.path, spool.incoming / (message.id + SUFFIX))
                rolled += 1
            elif now - st.st_mtime > min_age:
                os.unlink(entry.path)
    return rolled


def strays(spool: Spool, box: Path, older_than: float) -> list[Path]:
    """Files in ``box`` that are not queue files (no ``.json``, not hidden) and
    older than ``older_than`` seconds: nothing would ever read them, so they are
    failed with a reason rather than left to sit unseen. Young ones may still be
    on their way to a rename."""
    cutoff = spool.clock() - older_than
    found = []
    try:
        entries = list(os.scandir(box))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith((SUFFIX, REASON_SUFFIX)):
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                found.append(Path(entry.path))
    return found


def prune(spool: Spool, box: Path, older_than: float) -> int:
    """Delete files older than ``older_than`` seconds from a ledger box (sent/, seen/)."""
    cutoff = spool.clock() - older_than
    removed = 0
    for dirpath, _dirnames, filenames in os.walk(box):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
    return removed
