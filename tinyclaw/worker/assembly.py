"""Assemble a worker from a home and its configuration: the one place that builds it.

:func:`build_worker` is what the worker process runs (``tinyclaw.worker.entry``);
its parts are public because tests and benches build workers of their own from them:
:func:`build_runners` (one runner per CLI kind in use) and :func:`build_services`
(schedules and heartbeats, the actors' outboxes, the team sweep). A configuration
reload calls the same two again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path

from tinyclaw.actors import refresh_persona
from tinyclaw.config import Config
from tinyclaw.core import EventLog, Home, Redactor, Service
from tinyclaw.drops import Busy, never_busy
from tinyclaw.runners import (
    GroupLedger,
    LiveSink,
    ProcessRunner,
    RedactingRunner,
    Runner,
    Sandbox,
    make_runner,
    probe_bwrap,
)
from tinyclaw.spool import KeyValue, Spool
from tinyclaw.worker.inflight import InFlight
from tinyclaw.worker.loop import Worker
from tinyclaw.worker.node_spool import NodeSpool
from tinyclaw.worker.queue_choice import served_actors

# The folder that holds the ``tinyclaw`` package: in a checkout, the checkout itself,
# with ``.tools/`` (the pinned CLIs) and ``scripts/versions.sh`` beside the package.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def cli_search_dirs(home: Home) -> list[Path]:
    """Where to look for ``claude``/``codex`` when no ``command`` is configured: PATH
    first, then the npm prefix the launcher installs into (the home's and the
    checkout's ``.tools/``)."""
    dirs = [
        home.root / ".tools" / "node_modules" / ".bin",
        PACKAGE_ROOT / ".tools" / "node_modules" / ".bin",
    ]
    return list(dict.fromkeys(dirs))


def build_runners(
    home: Home, config: Config, redactor: Redactor | None = None
) -> dict[str, Runner]:
    """One runner per kind in use; each records its CLIs' process groups in
    ``state/runs/`` so the next worker can stop what a dead one left running.
    With ``redactor``, every result and progress event of theirs is redacted. Each CLI
    runs in the sandbox ``[sandbox]`` describes; a ConfigError if it is demanded
    (``mode = "bwrap"``) and does not work here."""
    kinds = {actor.runner for actor in config.actors.values()}
    process = ProcessRunner(ledger=GroupLedger(home.runs))
    probe_bwrap.cache_clear()  # bwrap may have been installed since: try it again
    sandbox = Sandbox(home, config)
    sandbox.check()
    runners: dict[str, Runner] = {}
    for kind in sorted(kinds):
        runner = make_runner(
            kind,
            config.runners.for_kind(kind),
            search_dirs=cli_search_dirs(home),
            process=process,
            sandbox=sandbox,
        )
        runners[kind] = RedactingRunner(runner, redactor) if redactor else runner
    return runners


def build_services(
    home: Home,
    config: Config,
    spool: Spool,
    *,
    clock: Callable[[], float] = time.time,
    local_tz: tzinfo | None = None,
    busy: Busy = never_busy,
) -> list[Service]:
    """The services a worker runs besides its queues: schedules and heartbeats, the
    actors' outboxes, and the sweep that ends stalled team conversations. ``busy``
    tells whether an actor has a run in flight: its drop files stay put meanwhile.

    On the NATS spool the worker is a node: its schedules, heartbeats and outboxes
    are its own actors' only, each firing is claimed in the spool's ``schedule``
    bucket first (see :mod:`tinyclaw.schedule.shared`), and it sweeps the team
    conversations its actors lead."""
    # Imported here: a worker builds them after its first pass (see Worker).
    from tinyclaw.outbox import OutboxService
    from tinyclaw.schedule import SchedulerService
    from tinyclaw.teams import TeamSweep

    events = EventLog(home.logs / "events.jsonl", clock=clock)
    actors, shared = node_share(spool)
    sweep = TeamSweep(home, config, spool, events=events, clock=clock)
    scheduler = SchedulerService(
        home,
        config,
        spool,
        clock=clock,
        local_tz=local_tz,
        events=events,
        busy=busy,
        refresh_persona=lambda actor: refresh_persona(home, config, actor),
        actors=actors,
        shared=shared,
    )
    outbox = OutboxService(
        home,
        config,
        spool,
        store=scheduler.scheduler.store,
        events=events,
        busy=busy,
        actors=actors,
    )
    return [scheduler, outbox, sweep]


def node_share(spool: Spool) -> tuple[frozenset[str] | None, KeyValue | None]:
    """The actors a worker node serves and the spool's bucket of schedule state, on
    a spool several machines share (a :class:`NodeSpool`); (None, None) on files,
    where one worker serves the whole home."""
    if not isinstance(spool, NodeSpool):
        return None, None
    from tinyclaw.schedule import SCHEDULE_BUCKET

    shared: KeyValue = spool.kv(SCHEDULE_BUCKET)
    return spool.actors, shared


def build_worker(
    home: Home,
    config: Config,
    spool: Spool,
    redactor: Redactor | None = None,
    events: EventLog | None = None,
) -> Worker:
    """The worker of ``home``: its runners, its services, the live-run log, and how
    a reload rebuilds the first two from a new configuration. The services leave a
    running actor's files alone (they ask the worker's ``InFlight``)."""
    inflight = InFlight(time.time)

    def rebuild(new: Config) -> tuple[dict[str, Runner], list[Service]]:
        if isinstance(spool, NodeSpool):  # a node's actors may have moved
            spool.serve(served_actors(new, spool.node))
        services = build_services(home, new, spool, busy=inflight.busy)
        return build_runners(home, new, redactor), services

    return Worker(
        home,
        config,
        build_runners(home, config, redactor),
        spool=spool,
        progress=LiveSink(home),
        later_services=lambda: build_services(home, config, spool, busy=inflight.busy),
        inflight=inflight,
        rebuild=rebuild,
        events=events,
    )
