"""The scheduling core the worker drives: what is due now, mark it as run, when to wake.

How the worker uses it::

    scheduler = Scheduler.for_home(home, config, clock=clock)
    for run in scheduler.due():
        # through the normal queue to the actor; the answer goes to run.to
        spool.put(run.to_inbound(), dedupe_key=run.run_id)
        scheduler.mark_ran(run)          # after the message is safely queued
    sleep until scheduler.next_wakeup()  # or a file event, or the scan interval

A crash between queueing and ``mark_ran`` offers the same slot again after the
restart, with the same ``run_id`` (a job's slot is stored; a heartbeat's is stored by
``due`` before it is returned, as its slot is "now" when it is overdue), so the
spool's dedupe key drops the second copy: nothing is lost and nothing doubles. ``mark_ran`` of the same
run twice is harmless too.

Missed runs (the policy). While the worker is down, nothing runs. When it comes back,
each job whose ``next_run`` has passed is due exactly ONCE, however many slots it
missed (a daily job down for three days runs once, not three times), and its next
run is the first slot after the moment it actually ran. An ``at`` job whose time passed
during the downtime runs once at start-up and is then marked done. A heartbeat is the
same: once, then ``every`` later. Catching up slot by slot would flood the chat with
stale reports that all say the same thing; skipping entirely would lose a one-shot
reminder. Slots that pass while a job is *paused* are skipped (see ``JobStore.resume``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Literal

from tinyclaw.core import (
    Inbound,
    JobNotFoundError,
    ScheduleError,
    Sender,
    Target,
    local_zone,
    parse_target,
)
from tinyclaw.schedule.heartbeat import (
    HEARTBEAT_CONVERSATION,
    HEARTBEAT_OK,
    HeartbeatLog,
    HeartbeatProblem,
    HeartbeatSpec,
    heartbeat_prompt,
    heartbeats_from_config,
    is_heartbeat_ok,
    next_heartbeat,
    read_instructions,
)
from tinyclaw.schedule.jobs import Job
from tinyclaw.schedule.listing import StatusRow
from tinyclaw.schedule.store import JobStore
from tinyclaw.schedule.timing import (
    Clock,
    aware_utc,
    first_run,
    following_run,
    from_timestamp,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tinyclaw.config import Config
    from tinyclaw.core import Home

log = logging.getLogger("tinyclaw.schedule")

HEARTBEAT_PREFIX = "heartbeat:"


@dataclass(frozen=True)
class DueRun:
    """One run to queue now.

    ``key`` names what is due (a job id, or ``heartbeat:<actor>``); pass the DueRun
    back to :meth:`Scheduler.mark_ran`. ``conversation`` keeps scheduled work out of
    the user's CLI session: a heartbeat always has its own (``heartbeat``), a job too
    (``schedule:<id>``), so one job's runs share context with each other and nothing
    else. ``quiet_token`` is the answer that means "nothing to report".
    """

    key: str
    kind: Literal["job", "heartbeat"]
    actor: str
    prompt: str
    to: str
    scheduled_for: datetime
    conversation: str
    quiet_token: str | None = None

    @property
    def target(self) -> Target:
        return parse_target(self.to)

    @property
    def run_id(self) -> str:
        """Unique per slot and stable across a replay: usable as a message id."""
        name = self.key.removeprefix(HEARTBEAT_PREFIX)
        return f"{self.kind}-{name}-{aware_utc(self.scheduled_for):%Y%m%dT%H%M%SZ}"

    def should_deliver(self, answer: str) -> bool:
        """False for an empty answer, and for a heartbeat that answered the token."""
        if not answer.strip():
            return False
        return not (self.quiet_token is not None and is_heartbeat_ok(answer))

    def to_inbound(self) -> Inbound:
        """The queue message for this run, addressed to the actor, answered to ``to``."""
        target = self.target
        return Inbound(
            id=self.run_id,
            channel=target.channel,
            chat_id=target.chat_id,
            sender=Sender(id=self.key, name=f"tinyclaw {self.kind}"),
            text=self.prompt,
            kind="heartbeat" if self.kind == "heartbeat" else "schedule",
            actor=self.actor,
            conversation=self.conversation,
            meta={
                "schedule": self.key,
                "scheduled_for": aware_utc(self.scheduled_for).isoformat(),
                "quiet_token": self.quiet_token,
            },
        )


class Scheduler:
    """Jobs from a :class:`JobStore` plus configured heartbeats, behind three calls.

    ``clock`` (seconds since the epoch, like ``time.time``) is used only when a call
    is not given ``now``; ``local_tz`` is the zone of cron jobs without ``tz`` and of
    heartbeat active hours. Both come in here so tests control them.
    """

    def __init__(
        self,
        store: JobStore,
        clock: Clock = time.time,
        *,
        heartbeats: Sequence[HeartbeatSpec | HeartbeatProblem] = (),
        heartbeat_log: HeartbeatLog | None = None,
        local_tz: tzinfo | None = None,
        actors: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.local_tz = local_tz if local_tz is not None else local_zone()
        # A worker node fires only its own actors' jobs and heartbeats (None: all).
        self.actors = actors
        heartbeats = [item for item in heartbeats if actors is None or item.actor in actors]
        self.heartbeats = [item for item in heartbeats if isinstance(item, HeartbeatSpec)]
        self.problems = [item for item in heartbeats if isinstance(item, HeartbeatProblem)]
        if self.heartbeats and heartbeat_log is None:
            raise ScheduleError("heartbeats need a heartbeat_log to remember their last run")
        self.heartbeat_log = heartbeat_log

    @classmethod
    def for_home(
        cls,
        home: Home,
        config: Config | None,
        clock: Clock = time.time,
        *,
        local_tz: tzinfo | None = None,
        actors: frozenset[str] | None = None,
        heartbeat_log: HeartbeatLog | None = None,
    ) -> Scheduler:
        """The home's jobs and the heartbeats ``config`` defines; of ``actors`` only,
        if given. The heartbeats' log is the home's unless one is given."""
        zone = local_tz if local_tz is not None else local_zone()
        heartbeats = heartbeats_from_config(config, home, zone) if config is not None else []
        return cls(
            JobStore.for_home(home),
            clock,
            heartbeats=heartbeats,
            heartbeat_log=heartbeat_log or HeartbeatLog.for_home(home),
            local_tz=zone,
            actors=actors,
        )

    def _jobs(self) -> list[Job]:
        """The stored jobs this scheduler fires: its actors' (every job without)."""
        jobs = self.store.list()
        if self.actors is None:
            return jobs
        return [job for job in jobs if job.actor in self.actors]

    def _now(self, now: datetime | None) -> datetime:
        return from_timestamp(self.clock()) if now is None else aware_utc(now)

    def _job_next(self, job: Job) -> datetime | None:
        if job.done:
            return None
        # A hand-written file may leave next_run out; it is then derived, not stored.
        return job.next_run if job.next_run is not None else first_run(job, self.local_tz)

    def _last_heartbeat(self, actor: str) -> datetime | None:
        return self.heartbeat_log.last_run(actor) if self.heartbeat_log is not None else None

    def _heartbeat_next(self, spec: HeartbeatSpec, now: datetime) -> datetime | None:
        if read_instructions(spec) is None:
            return None
        return next_heartbeat(spec, self._last_heartbeat(spec.actor), now)

    # -- the three calls the worker makes ----------------------------------------

    def due(self, now: datetime | None = None) -> list[DueRun]:
        """Everything that should run at ``now``, oldest slot first. A due heartbeat's
        slot is stored here (the one thing this call writes), so a replay keeps its id."""
        now = self._now(now)
        runs = []
        for job in self._jobs():
            upcoming = self._job_next(job)
            if job.paused or upcoming is None or upcoming > now:
                continue
            runs.append(
                DueRun(
                    key=job.id,
                    kind="job",
                    actor=job.actor,
                    prompt=job.prompt,
                    to=job.to,
                    scheduled_for=upcoming,
                    conversation=f"schedule:{job.id}",
                )
            )
        for spec in self.heartbeats:
            instructions = read_instructions(spec)
            if instructions is None:
                continue
            upcoming = next_heartbeat(spec, self._last_heartbeat(spec.actor), now)
            if upcoming <= now:
                upcoming = self._heartbeat_slot(spec.actor, upcoming)
                runs.append(
                    DueRun(
                        key=spec.key,
                        kind="heartbeat",
                        actor=spec.actor,
                        prompt=heartbeat_prompt(instructions),
                        to=spec.to,
                        scheduled_for=upcoming,
                        conversation=HEARTBEAT_CONVERSATION,
                        quiet_token=HEARTBEAT_OK,
                    )
                )
        return sorted(runs, key=lambda run: (run.scheduled_for, run.key))

    def _heartbeat_slot(self, actor: str, upcoming: datetime) -> datetime:
        """The slot of a due heartbeat: the one planned before a crash if there is one,
        else ``upcoming``, stored before anyone queues it (see :class:`HeartbeatLog`)."""
        assert self.heartbeat_log is not None  # __init__ requires one with heartbeats
        planned = self.heartbeat_log.planned(actor)
        if planned is not None:
            return planned
        return self.heartbeat_log.plan(actor, upcoming)

    def mark_ran(self, run: DueRun | str, at: datetime | None = None) -> None:
        """Record that ``run`` (a DueRun, or a key) was queued at ``at``.

        The next slot is the first one after ``at`` (never before the slot that ran),
        which is what makes a job missed for days run once. Given the DueRun, a second
        call for the same slot changes nothing; a job removed meanwhile is ignored.
        """
        at = self._now(at)
        key = run.key if isinstance(run, DueRun) else run
        slot = run.scheduled_for if isinstance(run, DueRun) else None
        if key.startswith(HEARTBEAT_PREFIX):
            if self.heartbeat_log is None:
                raise ScheduleError("this scheduler has no heartbeat log")
            actor = key.removeprefix(HEARTBEAT_PREFIX)
            last = self.heartbeat_log.last_run(actor)
            if slot is None or last is None or last < slot:
                self.heartbeat_log.record(actor, at)
            return

        def ran(job: Job) -> Job:
            if slot is not None and job.next_run is not None and job.next_run != slot:
                return job  # already marked (or rescheduled): nothing to do
            base = max(at, job.next_run) if job.next_run is not None else at
            upcoming = following_run(job, base, self.local_tz)
            return job.model_copy(
                update={
                    "last_run": at,
                    "runs": job.runs + 1,
                    "next_run": upcoming,
                    "done": upcoming is None,
                }
            )

        try:
            self.store.update(key, ran)
        except JobNotFoundError:
            log.info("job %s went away before it was marked as run", key)

    def next_wakeup(self, now: datetime | None = None) -> datetime | None:
        """The earliest moment anything becomes due (``<= now`` if something already
        is); None when nothing is scheduled at all."""
        now = self._now(now)
        times = [
            upcoming
            for job in self._jobs()
            if not job.paused and (upcoming := self._job_next(job)) is not None
        ]
        times += [
            upcoming
            for spec in self.heartbeats
            if (upcoming := self._heartbeat_next(spec, now)) is not None
        ]
        return min(times, default=None)

    # -- for people ------------------------------------------------------------------

    def status(self, now: datetime | None = None) -> list[StatusRow]:
        """Every job, heartbeat and rejected job file, with its next run."""
        now = self._now(now)
        rows = [self.job_row(job, now) for job in self.store.list()]
        for spec in self.heartbeats:
            upcoming = self._heartbeat_next(spec, now)
            if upcoming is None:
                state = "idle (no HEARTBEAT.md)"
            else:
                state = "due" if upcoming <= now else "scheduled"
            rows.append(
                StatusRow(
                    kind="heartbeat",
                    key=spec.key,
                    actor=spec.actor,
                    schedule=spec.schedule_text,
                    to=spec.to,
                    next_run=upcoming,
                    last_run=self._last_heartbeat(spec.actor),
                    state=state,
                )
            )
        for problem in self.problems:
            rows.append(
                StatusRow(
                    kind="heartbeat",
                    key=problem.key,
                    actor=problem.actor,
                    schedule="heartbeat",
                    to="-",
                    next_run=None,
                    last_run=None,
                    state=f"error: {problem.reason}",
                )
            )
        for failed in self.store.failures():
            rows.append(
                StatusRow(
                    kind="failed",
                    key=failed.name,
                    actor="-",
                    schedule="-",
                    to="-",
                    next_run=None,
                    last_run=None,
                    state=f"failed: {failed.reason}",
                )
            )
        return rows

    def job_row(self, job: Job, now: datetime) -> StatusRow:
        upcoming = self._job_next(job)
        if job.done:
            state = "done"
        elif job.paused:
            state = "paused"
        elif upcoming is None:
            state = "error: never runs again"
        else:
            state = "due" if upcoming <= now else "scheduled"
        return StatusRow(
            kind="job",
            key=job.id,
            actor=job.actor,
            schedule=job.schedule_text,
            to=job.to,
            next_run=upcoming,
            last_run=job.last_run,
            state=state,
            prompt=job.prompt,
        )
