"""SchedulerService: the worker service that queues scheduled runs and heartbeats.

The worker loop calls :meth:`SchedulerService.tick` on every pass (see
``tinyclaw.core.services.Service``). Each tick:

1. imports the job files actors wrote into ``<workspace>/schedules/``
   (:func:`~tinyclaw.schedule.actor_jobs.import_all_actor_jobs`);
2. queues every due run into ``queue/incoming/`` like any other message
   (``spool.put(run.to_inbound(), dedupe_key=run.run_id)``), then marks it as run: a
   crash in between offers the same slot again with the same id, and the dedupe key
   drops the copy. On a queue several machines share (NATS), only the worker node's
   own actors' runs, each claimed first in the spool's ``schedule`` bucket so that
   a slot is fired once whichever workers see it due (:mod:`tinyclaw.schedule.shared`);
3. rewrites the persona of an actor whose list of chats it may write to changed
   (an operator's job added or removed since the last pass), through the
   ``refresh_persona`` it was given (the worker gives it the actors' own);
4. now and then deletes temporary files a crash left in the job store;
5. returns when the next run is due, so the worker sleeps exactly until then.

From ``queue/incoming`` a run takes the normal path: routed to its actor's inbox, run
in its own conversation, answered to the job's target chat; a heartbeat that answers
``HEARTBEAT_OK`` sends nothing (the worker reads ``meta["quiet_token"]``).

Ticks come with every file event (the worker watches the ``schedules/`` folders too),
so the full pass is done at most once per ``min_interval`` seconds unless something
is due; a job file written meanwhile waits at most that long.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from tinyclaw.core import EventLog, TinyclawError, failpoint, local_zone
from tinyclaw.drops import SETTLE_SECONDS, Busy, DropKeeper, RecentRequests, Unclaimed, never_busy
from tinyclaw.schedule.actor_jobs import ImportResult, import_all_actor_jobs
from tinyclaw.schedule.jobs import FOLDER
from tinyclaw.schedule.reach import reachable_targets
from tinyclaw.schedule.scheduler import DueRun, Scheduler
from tinyclaw.schedule.shared import Firings, SharedHeartbeatLog, holder_of
from tinyclaw.schedule.timing import from_timestamp

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core import Home
    from tinyclaw.spool import KeyValue, Spool

log = logging.getLogger("tinyclaw.schedule")

CLEAN_EVERY = 3600.0
RETRY_AFTER = 5.0  # when a run could not be queued or marked (disk full, store locked)


class SchedulerService:
    """Queue what the home's schedules and heartbeats make due (module docstring)."""

    name = "schedule"

    def __init__(
        self,
        home: Home,
        config: Config,
        spool: Spool,
        *,
        clock: Callable[[], float] = time.time,
        local_tz: tzinfo | None = None,
        events: EventLog | None = None,
        min_interval: float = 1.0,
        busy: Busy = never_busy,
        refresh_persona: Callable[[str], bool] | None = None,
        actors: frozenset[str] | None = None,
        shared: KeyValue | None = None,
    ) -> None:
        """``actors``: the actors whose schedules this worker fires (a worker node's;
        None: every actor). ``shared``: the spool's ``schedule`` bucket when several
        machines share the queue; each firing is claimed there first (see
        :mod:`tinyclaw.schedule.shared`) and the heartbeats' log is kept there."""
        self.home = home
        self.refresh_persona = refresh_persona
        self.config = config
        self.spool = spool
        self.actors = actors
        self.local_tz = local_tz if local_tz is not None else local_zone()
        self.firings = Firings(shared, holder_of(home)) if shared is not None else None
        self.scheduler = Scheduler.for_home(
            home,
            config,
            clock,
            local_tz=self.local_tz,
            actors=actors,
            heartbeat_log=SharedHeartbeatLog(shared) if shared is not None else None,
        )
        self.events = events
        self.min_interval = min_interval
        self._last_pass: float | None = None
        self._last_clean: float | None = None
        self._wakeup: float | None = None
        for problem in self.scheduler.problems:
            log.warning("heartbeat of @%s cannot run: %s", problem.actor, problem.reason)
        self._targets = self._reachable()
        self._folders = {
            name: folder
            for name, folder in config.actor_folders(home, FOLDER).items()
            if self._serves(name)
        }
        self.keeper: DropKeeper[ImportResult] = DropKeeper(busy, SETTLE_SECONDS)
        self.recent = RecentRequests(home.state / "recent", config.worker.dedupe_window)
        shared_folders = {
            folder: names
            for folder, names in config.shared_folders(home, FOLDER).items()
            if any(self._serves(name) for name in names)
        }
        self.unclaimed = Unclaimed(shared_folders, FOLDER, events)
        for folder in self._folders.values():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("cannot create the schedules folder %s: %s", folder, exc)

    def _serves(self, actor: str) -> bool:
        return self.actors is None or actor in self.actors

    def folders(self) -> list[Path]:
        """The actors' ``schedules/`` folders: a job file there is imported at once."""
        return [*self._folders.values(), *self.unclaimed.roots]

    def tick(self, now: float) -> float | None:
        """Import, queue what is due, and return the epoch time of the next run."""
        last, due = self._last_pass, self._wakeup
        if last is not None and now - last < self.min_interval and (due is None or now < due):
            # A burst of events: the pass they may have asked for runs once the
            # interval is over (a job file written meanwhile waits that long).
            return min(last + self.min_interval, math.inf if due is None else due)
        self._last_pass = now
        at = from_timestamp(now)
        settling = self._import(now)
        self._refresh_personas()
        stuck = False
        for run in self.scheduler.due(at):
            stuck |= not self._queue(run, now)
        if self._last_clean is None or now - self._last_clean >= CLEAN_EVERY:
            self._last_clean = now
            self.scheduler.store.clean(now)
        wakeup = self.scheduler.next_wakeup(at)
        self._wakeup = wakeup.timestamp() if wakeup is not None else None
        if stuck or (self._wakeup is not None and self._wakeup <= now):
            # Something due could not be queued: try again soon, not in a busy loop.
            self._wakeup = now + RETRY_AFTER
        if settling is not None:  # a job file still being written: look again then
            self._wakeup = settling if self._wakeup is None else min(self._wakeup, settling)
        return self._wakeup

    def _import(self, now: float) -> float | None:
        """Import the actors' job files; return when a half-written one has settled."""
        at = from_timestamp(now)
        self.unclaimed.check()
        try:
            results = import_all_actor_jobs(
                self.home,
                self.config,
                self.scheduler.store,
                at,
                local_tz=self.local_tz,
                folders=self._folders,
                keeper=self.keeper,
                recent=self.recent,
            )
        except TinyclawError as exc:
            log.error("importing actor-written schedules failed: %s", exc)
            return None
        self.keeper.keep_only({os.fspath(self._folders[r.actor] / r.source) for r in results})
        settling: float | None = None
        for result in results:
            if result.retry_at is not None:
                settling = min(settling or math.inf, result.retry_at)
            if result.reported:
                continue  # decided on an earlier pass; said then
            if result.job is not None:
                job = result.job
                log.info("@%s scheduled %s: %s", job.actor, job.id, job.schedule_text)
                self._emit("schedule.added", actor=job.actor, job=job.id, to=job.to)
            elif result.repeat_of is not None:
                log.info(
                    "@%s wrote %s again (%s): not scheduled twice",
                    result.actor,
                    result.repeat_of,
                    result.source,
                )
                self._emit(
                    "schedule.repeat", actor=result.actor, file=result.source, job=result.repeat_of
                )
            elif result.error is not None:
                log.warning(
                    "@%s wrote a bad schedule %s: %s", result.actor, result.source, result.error
                )
                self._emit(
                    "schedule.refused", actor=result.actor, file=result.source, reason=result.error
                )
        return settling

    def _reachable(self) -> dict[str, list[str]]:
        jobs = self.scheduler.store.list()
        return {
            name: reachable_targets(self.config, name, jobs)
            for name in self.config.actors
            if self._serves(name)
        }

    def _refresh_personas(self) -> None:
        """Each persona lists the chats its actor may write to first, and an operator's
        job adds one (``tinyclaw schedule add``/``rm``, or a hand-edited job file):
        rewrite the persona of every actor whose list changed since the last pass."""
        try:
            targets = self._reachable()
        except TinyclawError as exc:
            log.error("cannot read the job store: %s", exc)
            return
        for name, now_allowed in targets.items():
            if (
                now_allowed != self._targets.get(name)
                and self.refresh_persona is not None
                and self.refresh_persona(name)
            ):
                log.info("@%s may now write first to: %s", name, ", ".join(now_allowed) or "-")
        self._targets = targets

    def _queue(self, run: DueRun, now: float) -> bool:
        """Queue one run and mark it; False if it must be tried again later."""
        if self.firings is not None:
            try:
                verdict = self.firings.claim(run, now)
            except TinyclawError as exc:
                log.error("cannot claim %s for @%s: %s", run.run_id, run.actor, exc)
                return False
            if verdict.action == "wait":
                log.info("%s is being fired by another worker", run.run_id)
                return False
            if verdict.action == "fired":
                return self._fired_elsewhere(run, verdict.at or from_timestamp(now))
        try:
            queued = self.spool.put(run.to_inbound(), dedupe_key=run.run_id)
        except (OSError, TinyclawError) as exc:
            log.error("cannot queue %s for @%s: %s", run.run_id, run.actor, exc)
            return False
        failpoint("schedule.queued")  # queued, not yet marked: the replay must not double
        try:
            self.scheduler.mark_ran(run, from_timestamp(now))
            if self.firings is not None:
                self.firings.fired(run, now)
        except TinyclawError as exc:
            log.error("queued %s but cannot mark it as run: %s", run.run_id, exc)
            return False
        if queued is None:
            log.info("%s was already queued before a restart", run.run_id)
        else:
            log.info("queued %s for @%s (answer to %s)", run.run_id, run.actor, run.to)
            self._emit("schedule.queued", id=run.run_id, key=run.key, actor=run.actor, to=run.to)
        return True

    def _fired_elsewhere(self, run: DueRun, at: datetime) -> bool:
        """``run``'s slot was fired already (by another worker, or by this actor's
        previous node): skip it, and bring this worker's record of the job up to
        when it ran."""
        try:
            self.scheduler.mark_ran(run, at)
        except TinyclawError as exc:
            log.error("cannot mark %s as run: %s", run.run_id, exc)
            return False
        log.info("%s was fired already (at %s); not firing it again", run.run_id, at.isoformat())
        self._emit("schedule.skipped", id=run.run_id, key=run.key, actor=run.actor)
        return True

    def _emit(self, kind: str, **fields: object) -> None:
        if self.events is not None:
            self.events.emit(kind, **fields)
