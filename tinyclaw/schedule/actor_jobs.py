"""Schedules an actor writes for itself.

An actor cannot run ``tinyclaw schedule add`` on behalf of anyone, but it can write a
file into ``schedules/`` of its own workspace (``schedules/<actor>/`` when actors share
a workspace)::

    {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin", "prompt": "Check the CI status"}
    {"every": "2h", "prompt": "Look at the inbox", "to": "telegram:123"}
    {"at": "2026-12-01T09:00", "prompt": "Remind me of the dentist"}

Exactly one of ``cron``, ``every``, ``at``; ``tz`` and ``to`` are optional, ``actor``
too (if present it must be the actor itself: an actor schedules only itself). The
worker imports these files as they land (it watches the folder) and on its scans: a
valid one becomes a job in the home's store (``created_by: "actor"``); an empty or
unparseable one younger than the settle window (the CLI may still be writing it, see
:func:`~tinyclaw.drops.shared.parse_settled`) is left for a later pass; an invalid
one is refused, and the result carries the reason for the worker's log. The same
job as one the actor made within the dedupe window is a repeat and makes nothing
(:mod:`tinyclaw.drops.recent`).

The file stays where the CLI wrote it until no tool can still be at work on it
(:mod:`tinyclaw.drops.keeper`); then an imported one is removed and a refused one is
moved to ``schedules/failed/`` in the workspace with a ``.reason`` file beside it,
where the actor can read what was wrong. The job's id is derived from the file's
version, so a file handled again after a restart finds its job and adds no other.

Security fails closed: ``to`` defaults to, and must be one of, the targets the caller
allows (for the worker: :mod:`tinyclaw.schedule.reach`, i.e. the actor's
``owner_chat``, heartbeat target, ``may_message`` and operator-made jobs), so an actor
talked into it cannot make the assistant write to strangers. An actor may keep at most
``max_jobs`` live jobs of its own making, so a loop cannot fill the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from tinyclaw.core import (
    ConfigError,
    InvalidFileError,
    ScheduleError,
    TinyclawError,
    parse_target,
    read_foreign,
)
from tinyclaw.drops import (
    SETTLE_SECONDS,
    DropKeeper,
    RecentRequests,
    Unsettled,
    never_busy,
    parse_settled,
    unchanged,
    version_id,
)
from tinyclaw.schedule.jobs import (
    FOLDER,
    MAX_ACTOR_JOBS,
    Job,
    build_job,
    describe_validation_error,
)
from tinyclaw.schedule.reach import reachable_targets
from tinyclaw.schedule.store import SUFFIX, JobStore, quarantine

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core import Home

log = logging.getLogger("tinyclaw.schedule")

MAX_REQUEST_BYTES = 64 * 1024


class JobRequest(BaseModel):
    """The file an actor writes (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    actor: str | None = None
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None
    to: str | None = None
    prompt: str


@dataclass(frozen=True)
class ImportResult:
    """What became of one file: ``job`` when accepted, ``error`` when not,
    ``repeat_of`` (a job id) when it repeats a job the actor made just before.
    ``retry_at``: when to look again (not JSON yet, or not yet free to leave);
    ``reported``: decided on an earlier pass (log it only once)."""

    actor: str
    source: str
    job: Job | None = None
    error: str | None = None
    retry_at: float | None = None
    repeat_of: str | None = None
    reported: bool = False

    @property
    def ok(self) -> bool:
        return self.job is not None


def _read_request(
    path: Path, info: os.stat_result, now: float, settle: float
) -> tuple[JobRequest, bytes] | Unsettled:
    """The request in ``path`` (and its bytes), or Unsettled while the CLI may still
    be writing it (the same rule as the outbox: see
    :func:`tinyclaw.drops.shared.parse_settled`)."""
    if os.path.islink(path):
        raise ConfigError("a symlink is not accepted; write the file itself")
    try:
        data = read_foreign(path, MAX_REQUEST_BYTES)
        raw = parse_settled(data, info.st_mtime, now, settle)
    except InvalidFileError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(raw, Unsettled):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        return JobRequest.model_validate(raw), data
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def _accept(
    request: JobRequest,
    actor: str,
    now: datetime,
    local_tz: tzinfo,
    default_to: str | None,
    allowed_to: Collection[str] | None,
    job_id: str,
) -> Job:
    if request.actor is not None and request.actor != actor:
        raise ConfigError(f"actor must be {actor!r}: an actor can only schedule itself")
    to = request.to or default_to
    if not to:
        raise ConfigError('no target: add "to": "channel:chat_id"')
    target = str(parse_target(to))
    if allowed_to is not None and target not in allowed_to:
        allowed = ", ".join(sorted(allowed_to)) or "none (the actor has no owner_chat)"
        raise ConfigError(f"to {target!r} is not allowed for this actor (allowed: {allowed})")
    return build_job(
        actor=actor,
        to=target,
        prompt=request.prompt,
        now=now,
        local_tz=local_tz,
        cron=request.cron,
        every=request.every,
        at=request.at,
        tz=request.tz,
        created_by="actor",
        job_id=job_id,
    )


def import_actor_jobs(
    store: JobStore,
    actor: str,
    folder: Path,
    now: datetime,
    *,
    local_tz: tzinfo,
    default_to: str | None = None,
    allowed_to: Collection[str] | None = None,
    max_jobs: int = MAX_ACTOR_JOBS,
    settle: float = SETTLE_SECONDS,
    keeper: DropKeeper[ImportResult] | None = None,
    recent: RecentRequests | None = None,
) -> list[ImportResult]:
    """Turn the ``*.json`` files in ``folder`` into jobs of ``actor``; one result per
    file. ``allowed_to=None`` allows any valid target (use it only for trusted
    callers); an empty collection allows none. A file that is empty or not JSON and
    was written less than ``settle`` seconds before ``now`` is left for a later call
    (its result carries ``retry_at``): the CLI may be writing it in chunks.

    ``keeper`` remembers what was decided across calls and says when a file may
    leave (by default: once it has been still for ``settle`` seconds); ``recent``
    turns a repeated job into a no-op. One file's trouble, whatever its content,
    never stops the others."""
    keeper = keeper if keeper is not None else DropKeeper(never_busy, settle)
    try:
        listing = sorted(  # in the order they were written: the first of two repeats counts
            (entry.stat(follow_symlinks=False).st_mtime_ns, entry.name)
            for entry in os.scandir(folder)
            if entry.name.endswith(SUFFIX) and not entry.name.startswith(".")
        )
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [name for _, name in listing]
    importer = _Importer(
        store, actor, folder, now, local_tz, default_to, allowed_to, max_jobs, settle, recent
    )
    results = []
    for name in names:
        path = folder / name
        try:
            result = importer.one(path, keeper)
        except FileNotFoundError:
            continue  # the actor removed it again
        except (TinyclawError, OSError) as exc:  # the edge of one file
            log.warning("schedules of @%s: cannot handle %s now: %s", actor, name, exc)
            continue
        results.append(result)
    return results


@dataclass
class _Importer:
    """One pass over one actor's ``schedules/`` folder."""

    store: JobStore
    actor: str
    folder: Path
    now: datetime
    local_tz: tzinfo
    default_to: str | None
    allowed_to: Collection[str] | None
    max_jobs: int
    settle: float
    recent: RecentRequests | None
    _live: int | None = None

    def one(self, path: Path, keeper: DropKeeper[ImportResult]) -> ImportResult:
        info = os.lstat(path)
        verdict = keeper.verdict(path, info)
        if verdict is None:
            verdict = self._decide(path, info)
            if verdict.retry_at is not None:
                return verdict
            keeper.mark(path, info, replace(verdict, reported=True))
        if not keeper.may_leave(self.actor, path, info, self.now.timestamp()):
            later = None if keeper.busy(self.actor) else keeper.leave_at(info)
            if later is not None and later <= self.now.timestamp():
                later = None
            return replace(verdict, retry_at=later)
        if unchanged(path, info):
            try:
                if verdict.error is not None:
                    moved = quarantine(path, self.folder / "failed", verdict.error)
                    if moved is None and os.path.lexists(path):  # it said why, once
                        raise PermissionError(f"{path} could not be moved to failed/")
                else:
                    path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("schedules of @%s: cannot take %s out: %s", self.actor, path, exc)
                keeper.stuck(path, info)
                return verdict
            keeper.forget(path)
        return verdict

    def live(self) -> int:
        if self._live is None:
            self._live = sum(
                1
                for job in self.store.list()
                if job.actor == self.actor and job.created_by == "actor" and not job.done
            )
        return self._live

    def _decide(self, path: Path, info: os.stat_result) -> ImportResult:
        name = path.name
        try:
            if self.live() >= self.max_jobs:
                raise ConfigError(
                    f"{self.actor!r} already has {self.live()} scheduled jobs; "
                    f"the limit is {self.max_jobs}"
                )
            read = _read_request(path, info, self.now.timestamp(), self.settle)
            if isinstance(read, Unsettled):
                return ImportResult(self.actor, name, retry_at=read.retry_at)
            request, data = read
            digest = version_id(self.actor, name, info, data).rsplit("-", 1)[-1]
            job = _accept(
                request,
                self.actor,
                self.now,
                self.local_tz,
                self.default_to,
                self.allowed_to,
                job_id=f"{self.actor}-{digest[:8]}",
            )
        except (ConfigError, ScheduleError) as exc:
            return ImportResult(self.actor, name, error=str(exc))
        key = RecentRequests.key(
            "schedule", self.actor, job.to, job.kind, job.expr, job.tz or "", job.prompt
        )
        written = info.st_mtime
        earlier = self.recent.original(key, written) if self.recent is not None else None
        if earlier is not None and earlier != job.id:
            return ImportResult(self.actor, name, repeat_of=earlier)
        if not self._added_before(job):
            self.store.add(job)
            self._live = self.live() + 1
        if self.recent is not None:
            self.recent.record(key, written, job.id)
        return ImportResult(self.actor, name, job=job)

    def _added_before(self, job: Job) -> bool:
        """Whether this very file made this job before a restart (its id is the file's)."""
        try:
            existing = self.store.get(job.id)
        except (ScheduleError, ConfigError):
            return False
        return existing.actor == job.actor and existing.prompt == job.prompt


def import_all_actor_jobs(
    home: Home,
    config: Config,
    store: JobStore,
    now: datetime,
    *,
    local_tz: tzinfo,
    folders: Mapping[str, Path] | None = None,
    settle: float = SETTLE_SECONDS,
    keeper: DropKeeper[ImportResult] | None = None,
    recent: RecentRequests | None = None,
) -> list[ImportResult]:
    """Import from the ``schedules/`` folder of each actor in ``folders`` (as
    :meth:`~tinyclaw.config.Config.actor_folders` gives them; a worker node passes
    only its own actors'; every actor's by default), each allowed to write
    only where :func:`~tinyclaw.schedule.reach.reachable_targets` says (its
    ``owner_chat`` first, which is also the default)."""
    if folders is None:
        folders = config.actor_folders(home, FOLDER)
    results = []
    jobs = store.list()
    for name in config.actors:
        if name not in folders:
            continue  # another worker node's actor
        allowed = reachable_targets(config, name, jobs)
        results += import_actor_jobs(
            store,
            name,
            folders[name],
            now,
            local_tz=local_tz,
            default_to=allowed[0] if allowed else None,
            allowed_to=frozenset(allowed),
            settle=settle,
            keeper=keeper,
            recent=recent,
        )
    return results
