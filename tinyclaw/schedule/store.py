"""JobStore: the folder of job files, one JSON file per job.

Layout under the store's root (``<home>/schedules/`` for the home's own jobs)::

    <id>.json          one job; the file name is the job's id
    tmp/               writers start here (O_EXCL, write, fsync), then rename
    failed/            files that are not valid jobs, each with <name>.reason beside it
    .lock              serialises read-modify-write between processes

Writes follow the queue's rules (``tinyclaw.core.fsutil``): a new job is linked into
place, so it can never overwrite another; a change replaces the file with one
rename, so a reader sees the old job or the new one, never half of either. The
command line (pause, rm) and the worker (mark as run) may change the same job at the
same moment, so every read-modify-write holds a file lock; plain reads do not need it.

A file that cannot be read as a job (hand-edited, truncated by a full disk, from a
newer tinyclaw) is moved to ``failed/`` with the reason next to it and the listing
goes on: one bad file must not stop every other job.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import ValidationError

from tinyclaw.core.errors import InvalidFileError, JobNotFoundError, ScheduleError
from tinyclaw.core.fsutil import atomic_write, fsync_dir, read_json_object, unique_name, write_tmp
from tinyclaw.core.home import Home
from tinyclaw.schedule.models import JOB_ID_PATTERN, Job, describe_validation_error
from tinyclaw.schedule.timing import aware_utc, following_run

log = logging.getLogger("tinyclaw.schedule")

SUFFIX = ".json"
REASON_SUFFIX = ".reason"
MAX_FILE_BYTES = 256 * 1024
STALE_TMP_SECONDS = 36 * 3600.0  # mailbox.Maildir.clean's threshold
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)


class InvalidJobFile(InvalidFileError):
    """A file that is not a job; carries the reason for ``failed/``."""


@dataclass(frozen=True)
class FailedFile:
    """A file moved to ``failed/`` and why."""

    name: str
    reason: str


def read_job_file(path: Path) -> Job:
    """Parse one job file; InvalidJobFile says why it is not a job.
    FileNotFoundError passes through (the file went away: not an error)."""
    try:
        raw = read_json_object(path, MAX_FILE_BYTES)
    except InvalidJobFile:
        raise
    except InvalidFileError as exc:
        raise InvalidJobFile(str(exc)) from None
    if raw.get("v", 1) != 1:
        raise InvalidJobFile(f"unknown format version v={raw.get('v')!r}; this tinyclaw reads v=1")
    try:
        job = Job.model_validate(raw)
    except ValidationError as exc:
        raise InvalidJobFile(f"not a valid job: {describe_validation_error(exc)}") from None
    if job.id != path.name.removesuffix(SUFFIX):
        raise InvalidJobFile(f"the file name does not match the job id {job.id!r}")
    return job


def quarantine(path: Path, failed_dir: Path, reason: str) -> Path | None:
    """Move ``path`` into ``failed_dir`` and write the reason beside it. Returns the new
    path, or None if another process moved or removed the file first.

    Never raises: it runs in the middle of listings, and a folder we cannot write to
    must not stop the jobs we can read (the file then stays, with a warning per scan).
    """
    dest = failed_dir / path.name
    try:
        failed_dir.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest = failed_dir / f"{path.name.removesuffix(SUFFIX)}.{unique_name()}{SUFFIX}"
        os.rename(path, dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot move invalid %s to %s (%s): %s", path, failed_dir, exc, reason)
        return None
    try:
        atomic_write(dest.with_name(dest.name + REASON_SUFFIX), (reason + "\n").encode("utf-8"))
        fsync_dir(path.parent)
    except OSError as exc:
        log.warning("cannot write the reason for %s: %s", dest, exc)
    log.warning("moved %s to %s: %s", path, dest, reason)
    return dest


def list_failures(failed_dir: Path) -> list[FailedFile]:
    """What ``failed/`` holds, with each file's reason (oldest name first)."""
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(failed_dir)
            if entry.is_file() and not entry.name.endswith((REASON_SUFFIX, ".tmp"))
        )
    except FileNotFoundError:
        return []
    failures = []
    for name in names:
        try:
            reason = (failed_dir / (name + REASON_SUFFIX)).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            reason = "(no reason recorded)"
        failures.append(FailedFile(name, reason))
    return failures


class JobStore:
    """The jobs in one folder. Keeps no state but the filesystem, so any number of
    processes can hold a JobStore on the same folder."""

    def __init__(self, root: Path, *, lock_timeout: float = 10.0) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.failed = root / "failed"
        self._lock = FileLock(str(root / ".lock"), timeout=lock_timeout)

    @classmethod
    def for_home(cls, home: Home) -> JobStore:
        return cls(home.schedules)

    def path(self, job_id: str) -> Path:
        """The file of ``job_id``; an id that could not be a job (``../x``) is simply
        not found, so a name from the command line can never leave the folder."""
        if not isinstance(job_id, str) or not _JOB_ID_RE.fullmatch(job_id):
            raise JobNotFoundError(f"no job {job_id!r}")
        return self.root / f"{job_id}{SUFFIX}"

    @contextlib.contextmanager
    def _os_errors(self) -> Iterator[None]:
        """A disk that is full or read-only is the store's problem to name, in the one
        exception type its callers catch."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as exc:
            where = exc.filename or self.root
            raise ScheduleError(f"{where}: {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._os_errors():
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                with self._lock:
                    yield
            except Timeout:
                raise ScheduleError(f"{self.root}: locked by another process; try again") from None

    # -- reading -------------------------------------------------------------------

    def list(self) -> list[Job]:
        """Every valid job, oldest first. Invalid files are moved to ``failed/``."""
        try:
            with self._os_errors():
                names = [
                    entry.name
                    for entry in os.scandir(self.root)
                    if entry.name.endswith(SUFFIX)
                    and not entry.name.startswith(".")
                    and entry.is_file(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return []
        jobs = []
        for name in names:
            path = self.root / name
            try:
                jobs.append(read_job_file(path))
            except FileNotFoundError:
                continue  # removed while we listed
            except InvalidJobFile as exc:
                quarantine(path, self.failed, str(exc))
        return sorted(jobs, key=lambda job: (job.created_at, job.id))

    def get(self, job_id: str) -> Job:
        path = self.path(job_id)
        try:
            return read_job_file(path)
        except FileNotFoundError:
            raise JobNotFoundError(f"no job {job_id!r}") from None
        except InvalidJobFile as exc:
            quarantine(path, self.failed, str(exc))
            raise JobNotFoundError(
                f"job {job_id!r} was invalid and moved to failed/: {exc}"
            ) from None

    def failures(self) -> builtins.list[FailedFile]:
        return list_failures(self.failed)

    # -- writing -------------------------------------------------------------------

    def add(self, job: Job) -> Job:
        """Store a new job; refuse (ScheduleError) if its id is taken."""
        path = self.path(job.id)
        with self._os_errors():
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = write_tmp(self.tmp, job.dump())
            try:
                os.link(tmp, path)  # unlike rename, link never replaces an existing file
            except FileExistsError:
                raise ScheduleError(f"a job {job.id!r} already exists") from None
            finally:
                tmp.unlink(missing_ok=True)
            fsync_dir(self.root)
        return job

    def update(self, job_id: str, change: Callable[[Job], Job]) -> Job:
        """Read, change and rewrite one job under the store lock."""
        with self._locked():
            job = self.get(job_id)
            changed = change(job)
            if changed.id != job.id:
                raise ScheduleError(f"a change cannot rename job {job.id!r}")
            if changed != job:
                atomic_write(self.path(job_id), changed.dump(), tmp_dir=self.tmp)
            return changed

    def pause(self, job_id: str) -> Job:
        return self.update(job_id, lambda job: job.model_copy(update={"paused": True}))

    def resume(self, job_id: str, now: datetime, local_tz: tzinfo) -> Job:
        """Un-pause. Slots of a recurring job that passed while it was paused are
        skipped, not run (pausing was deliberate; this is not downtime). A one-shot
        ``at`` job whose time passed while paused runs once, at the next check."""
        now = aware_utc(now)

        def resumed(job: Job) -> Job:
            update: dict[str, object] = {"paused": False}
            missed = job.next_run is not None and job.next_run <= now
            if job.kind != "at" and not job.done and missed:
                upcoming = following_run(job, now, local_tz)
                update["next_run"] = upcoming
                update["done"] = upcoming is None
            return job.model_copy(update=update)

        return self.update(job_id, resumed)

    def remove(self, job_id: str) -> Job:
        """Delete a job; JobNotFoundError if there is none by that id."""
        with self._locked():
            job = self.get(job_id)
            try:
                self.path(job_id).unlink()
            except FileNotFoundError:
                raise JobNotFoundError(f"no job {job_id!r}") from None
            fsync_dir(self.root)
            return job

    def clean(self, now: float | None = None) -> int:
        """Delete temporary files a crash left behind (older than 36 hours, so never
        one that a live writer is still filling). Returns how many went."""
        cutoff = (time.time() if now is None else now) - STALE_TMP_SECONDS
        removed = 0
        try:
            entries = list(os.scandir(self.tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
