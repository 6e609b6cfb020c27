"""Scheduled and proactive work: jobs (cron, every, at) and per-actor heartbeats.

The package is a library with no threads of its own. The worker's
:class:`~tinyclaw.schedule.dispatch.SchedulerService` asks a
:class:`~tinyclaw.schedule.scheduler.Scheduler` what is due now, queues each
:class:`~tinyclaw.schedule.scheduler.DueRun` like any other message, tells the
scheduler it ran, and sleeps until :meth:`~tinyclaw.schedule.scheduler.Scheduler.next_wakeup`.
Jobs are JSON files under ``<home>/schedules/`` (one per job, written atomically), so
``ls`` shows them and a crash loses nothing. Durations (``30m``) and targets
(``telegram:123``) are parsed in :mod:`tinyclaw.core`, because the configuration
checks them too.

Modules (other packages import the names below from ``tinyclaw.schedule``):

* ``timing``     pure next-run arithmetic (cron with time zones, every, at)
* ``jobs``     the Job file format and how a request becomes a Job
* ``store``      JobStore: the folder of job files
* ``heartbeat``  active hours, the HEARTBEAT_OK token, heartbeat timing and state
* ``actor_jobs`` job files an actor writes into its own workspace
* ``scheduler``  due / mark_ran / next_wakeup / status
* ``listing``     status rows, their table form, and the block of ``tinyclaw status``
* ``reach``      which chats an actor may write to first (outbox, its own jobs)
* ``dispatch``    SchedulerService, the worker service that queues what is due
* ``shared``     each slot fired once when several machines share the queue (NATS)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.schedule.dispatch import SchedulerService
    from tinyclaw.schedule.heartbeat import HEARTBEAT_OK, heartbeat_files, is_heartbeat_ok
    from tinyclaw.schedule.jobs import FOLDER, MAX_ACTOR_JOBS, MAX_PROMPT, Job, build_job
    from tinyclaw.schedule.listing import format_rows, format_time, schedule_lines
    from tinyclaw.schedule.reach import reachable_targets
    from tinyclaw.schedule.scheduler import Scheduler
    from tinyclaw.schedule.shared import BUCKET as SCHEDULE_BUCKET
    from tinyclaw.schedule.shared import Firings, SharedHeartbeatLog
    from tinyclaw.schedule.store import JobStore
    from tinyclaw.schedule.timing import check_interval
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "FOLDER",
    "HEARTBEAT_OK",
    "MAX_ACTOR_JOBS",
    "MAX_PROMPT",
    "SCHEDULE_BUCKET",
    "Firings",
    "Job",
    "JobStore",
    "Scheduler",
    "SchedulerService",
    "SharedHeartbeatLog",
    "build_job",
    "check_interval",
    "format_rows",
    "format_time",
    "heartbeat_files",
    "is_heartbeat_ok",
    "reachable_targets",
    "schedule_lines",
]
