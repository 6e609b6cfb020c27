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
valid one becomes a job in the home's store (``created_by: "actor"``) and its file is
removed; an empty or unparseable one younger than the settle window (the CLI may
still be writing it, see :func:`~tinyclaw.actors.shared.parse_settled`) is left for a
later pass; an invalid one is moved to ``schedules/failed/`` in the workspace with a
``.reason`` file beside it, where the actor can read what was wrong, and the result
carries the reason for the worker's log.

Security fails closed: ``to`` defaults to, and must be one of, the targets the caller
allows (for the worker: :mod:`tinyclaw.schedule.reach`, i.e. the actor's
``owner_chat``, heartbeat target, ``may_message`` and operator-made jobs), so an actor
talked into it cannot make the assistant write to strangers. An actor may keep at most
``max_jobs`` live jobs of its own making, so a loop cannot fill the store.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from tinyclaw.actors.shared import SETTLE_SECONDS, Unsettled, parse_settled
from tinyclaw.errors import ConfigError, InvalidFileError, ScheduleError
from tinyclaw.fsutil import read_foreign
from tinyclaw.schedule.models import Job, build_job, describe_validation_error
from tinyclaw.schedule.reach import reachable_targets
from tinyclaw.schedule.store import SUFFIX, JobStore, quarantine
from tinyclaw.schedule.targets import parse_target

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.home import Home

FOLDER = "schedules"
MAX_REQUEST_BYTES = 64 * 1024
MAX_ACTOR_JOBS = 50


class JobRequest(BaseModel):
    """The file an actor writes (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    actor: str | None = None
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None
    to: str | None = None
    prompt: str


@dataclass(frozen=True)
class ImportResult:
    """What became of one file: ``job`` when accepted, ``error`` when not."""

    actor: str
    source: str
    job: Job | None = None
    error: str | None = None
    retry_at: float | None = None  # not JSON yet, may still be being written

    @property
    def ok(self) -> bool:
        return self.job is not None


def _read_request(path: Path, now: float, settle: float) -> JobRequest | Unsettled:
    """The request in ``path``, or Unsettled while the CLI may still be writing it
    (the same rule as the outbox: see :func:`tinyclaw.actors.shared.parse_settled`)."""
    if path.is_symlink():
        raise ConfigError("a symlink is not accepted; write the file itself")
    try:
        modified = path.stat().st_mtime
        raw = parse_settled(read_foreign(path, MAX_REQUEST_BYTES), modified, now, settle)
    except InvalidFileError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(raw, Unsettled):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        return JobRequest.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def _accept(
    request: JobRequest,
    actor: str,
    now: datetime,
    local_tz: tzinfo,
    default_to: str | None,
    allowed_to: Collection[str] | None,
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
) -> list[ImportResult]:
    """Turn the ``*.json`` files in ``folder`` into jobs of ``actor``; one result per
    file. ``allowed_to=None`` allows any valid target (use it only for trusted
    callers); an empty collection allows none. A file that is empty or not JSON and
    was written less than ``settle`` seconds before ``now`` is left for a later call
    (its result carries ``retry_at``): the CLI may be writing it in chunks."""
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.name.endswith(SUFFIX) and not entry.name.startswith(".")
        )
    except (FileNotFoundError, NotADirectoryError):
        return []
    live = sum(
        1
        for job in store.list()
        if job.actor == actor and job.created_by == "actor" and not job.done
    )
    results = []
    for name in names:
        path = folder / name
        try:
            if live >= max_jobs:
                raise ConfigError(
                    f"{actor!r} already has {live} scheduled jobs; the limit is {max_jobs}"
                )
            request = _read_request(path, now.timestamp(), settle)
            if isinstance(request, Unsettled):
                results.append(ImportResult(actor, name, retry_at=request.retry_at))
                continue
            job = _accept(request, actor, now, local_tz, default_to, allowed_to)
            store.add(job)
        except FileNotFoundError:
            continue  # the actor removed it again
        except (ConfigError, ScheduleError) as exc:
            quarantine(path, folder / "failed", str(exc))
            results.append(ImportResult(actor, name, error=str(exc)))
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            # A request we cannot consume would be imported again on every scan.
            store.remove(job.id)
            reason = f"cannot remove the request file: {exc.strerror or exc}"
            results.append(ImportResult(actor, name, error=reason))
            continue
        live += 1
        results.append(ImportResult(actor, name, job=job))
    return results


def import_all_actor_jobs(
    home: Home,
    config: Config,
    store: JobStore,
    now: datetime,
    *,
    local_tz: tzinfo,
    folders: Mapping[str, Path] | None = None,
    settle: float = SETTLE_SECONDS,
) -> list[ImportResult]:
    """Import from every configured actor's ``schedules/`` folder (``folders``, as
    :meth:`~tinyclaw.config.Config.actor_folders` gives them), each allowed to write
    only where :func:`~tinyclaw.schedule.reach.reachable_targets` says (its
    ``owner_chat`` first, which is also the default)."""
    if folders is None:
        folders = config.actor_folders(home, FOLDER)
    results = []
    jobs = store.list()
    for name in config.actors:
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
        )
    return results
