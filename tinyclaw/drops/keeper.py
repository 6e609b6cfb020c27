"""When a file an actor wrote leaves its drop folder (``outbox/``, ``schedules/``).

The worker acts on a drop file as soon as it can be read (a note is queued, a
schedule imported, a bad file refused), but it leaves the file where the CLI wrote
it for as long as the CLI may still touch it. Claude Code's Write tool renames its
temporary file into place and then stats and reads the file again; if the file is
gone by then, the model is told its write failed, although the note went out, and a
careful model writes it again. codex's ``apply_patch`` truncates and writes in place,
and an ``Update File`` hunk reads the file first. Any settle time would be a guess
that a loaded machine can beat, so the rule is about the run instead:

* a file is removed (or moved to its ``failed/`` place) only once its actor has no
  run in flight, and the file has not changed for ``settle`` seconds (which also
  covers writers outside the worker: an operator's own CLI in the workspace);
* until then, :class:`DropKeeper` remembers which version of the file (inode, mtime,
  size) was handled, so a scan neither reads it again nor acts twice on it. A new
  version (the model rewrote or edited the file) is a new request.

After a restart the memory is empty; the actions are idempotent instead: a note's
reply id and an imported job's id are derived from the version, so handling a
leftover again finds what was done and does nothing more; a refused leftover is
refused again, and moves to ``failed/`` once, when it leaves.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tinyclaw.drops.shared import SETTLE_SECONDS

Verdict = TypeVar("Verdict")
Busy = Callable[[str], bool]
StrPath = str | os.PathLike[str]


def never_busy(_actor: str) -> bool:
    return False


@dataclass(frozen=True)
class Version:
    """One written state of a drop file."""

    ino: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, info: os.stat_result) -> Version:
        return cls(info.st_ino, info.st_mtime_ns, info.st_size)


def version_id(actor: str, name: str, info: os.stat_result, data: bytes) -> str:
    """Stable for one written file, new for every rewrite. It starts with the time the
    file was written, as queue names do, so sorted ids keep the order of writing."""
    digest = hashlib.sha256()
    digest.update(f"{actor}\0{name}\0{info.st_ino}\0{info.st_mtime_ns}\0".encode())
    digest.update(data)
    seconds, nanos = divmod(info.st_mtime_ns, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"
    return f"{stamp}-{digest.hexdigest()[:16]}"


class DropKeeper(Generic[Verdict]):
    """The handled versions of one kind of drop file, what was decided for each, and
    when each may leave its folder.

    ``busy(actor)`` says whether the actor has a run in flight (the worker's view);
    ``settle`` is how long a file must be unchanged before it leaves when no run is
    in flight."""

    def __init__(self, busy: Busy = never_busy, settle: float = SETTLE_SECONDS) -> None:
        self.busy = busy
        self.settle = settle
        # Keyed by the path as a string: a folder the CLI keeps busy is listed on every
        # pass, and building and hashing Path objects would cost more than the lookup.
        self._done: dict[str, tuple[Version, Verdict]] = {}
        self._stuck: dict[str, Version] = {}

    def verdict(self, path: StrPath, info: os.stat_result) -> Verdict | None:
        """What was decided for this very version of ``path``, if it was handled."""
        done = self._done.get(os.fspath(path))
        return done[1] if done is not None and done[0] == Version.of(info) else None

    def mark(self, path: StrPath, info: os.stat_result, verdict: Verdict) -> None:
        self._done[os.fspath(path)] = (Version.of(info), verdict)

    def may_leave(self, actor: str, path: StrPath, info: os.stat_result, now: float) -> bool:
        """Whether no tool can still be at work on the file (see the module docstring)
        and it has not failed to leave before."""
        if self._stuck.get(os.fspath(path)) == Version.of(info):
            return False
        if self.busy(actor):
            return False
        return self.settle <= 0 or now >= info.st_mtime + self.settle  # 0: never waits

    def stuck(self, path: StrPath, info: os.stat_result) -> None:
        """This version could not be removed (a read-only folder): say so once, and
        try again only after a restart or a rewrite, not on every pass."""
        self._stuck[os.fspath(path)] = Version.of(info)

    def leave_at(self, info: os.stat_result) -> float:
        """When the file may leave if its actor is idle by then."""
        return info.st_mtime + self.settle

    def forget(self, path: StrPath) -> None:
        self._done.pop(os.fspath(path), None)
        self._stuck.pop(os.fspath(path), None)

    def keep_only(self, present: set[str]) -> None:
        """Forget the files that are gone (removed by us, or by the actor); ``present``
        holds the paths still listed, as strings."""
        for path in [p for p in self._done if p not in present]:
            self.forget(path)


def unchanged(path: StrPath, info: os.stat_result) -> bool:
    """Whether ``path`` is still the version ``info`` describes (not replaced since)."""
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return Version.of(now) == Version.of(info)
