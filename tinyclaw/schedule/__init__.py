"""Scheduled and proactive work: jobs (cron, every, at) and per-actor heartbeats.

The package is a library with no threads of its own. The worker asks a
:class:`tinyclaw.schedule.scheduler.Scheduler` what is due now, queues each
:class:`~tinyclaw.schedule.scheduler.DueRun` like any other message, tells the
scheduler it ran, and sleeps until :meth:`~tinyclaw.schedule.scheduler.Scheduler.next_wakeup`.
Jobs are JSON files under ``<home>/schedules/`` (one per job, written atomically), so
``ls`` shows them and a crash loses nothing.

Modules (import them directly; this file imports nothing, so that
``tinyclaw.config`` may use :mod:`~tinyclaw.schedule.durations` without a cycle):

* ``durations``  ``30m``, ``1h30m`` → timedelta
* ``targets``    ``telegram:123`` → where an answer goes
* ``timing``     pure next-run arithmetic (cron with time zones, every, at)
* ``models``     the Job file format and how a request becomes a Job
* ``store``      JobStore: the folder of job files
* ``heartbeat``  active hours, the HEARTBEAT_OK token, heartbeat timing and state
* ``actor_jobs`` job files an actor writes into its own workspace
* ``scheduler``  due / mark_ran / next_wakeup / status
* ``status``     status rows, their table form, and the block of ``tinyclaw status``
* ``reach``      which chats an actor may write to first (outbox, its own jobs)
* ``service``    SchedulerService, the worker service; ``build_services`` for the worker
* ``persona``    the persona section that teaches the CLI the outbox and job formats
"""
