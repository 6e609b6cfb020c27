"""``tinyclaw worker``: the foreground worker process with signal handling.

Free of Typer on purpose: ``python -m tinyclaw.worker`` (what the launcher runs) starts
the worker without importing the command-line application, which keeps an idle
worker's memory to what the worker itself needs."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

from tinyclaw.config import Config, load_config, load_home_config
from tinyclaw.core import sdnotify
from tinyclaw.core.home import Home
from tinyclaw.core.logsetup import setup_logging

log = logging.getLogger("tinyclaw.worker")


def run_worker(home: Home) -> None:
    from tinyclaw.metrics import RunStats, TappedEventLog, start_metrics
    from tinyclaw.runners import Runner
    from tinyclaw.worker.assembly import build_runners
    from tinyclaw.worker.loop import Service, Worker

    _drop_foreign_secrets(load_config(home))
    config = load_home_config(home)
    home.ensure()
    setup_logging(home.logs, "worker", secret_names=_secret_names(config))
    from tinyclaw.runners.live_log import LiveSink

    stop = threading.Event()
    from tinyclaw.config.credentials import worker_redactor
    from tinyclaw.schedule.service import build_services
    from tinyclaw.spool import Spool
    from tinyclaw.worker.inflight import InFlight

    redactor = worker_redactor(home, config)
    spool = Spool(home, redact=redactor)
    inflight = InFlight(time.time)  # the services leave a running actor's files alone
    # Metrics count the worker's own events as they are written (off: a plain log).
    stats = RunStats() if config.metrics.enabled else None
    events = TappedEventLog(home.logs / "events.jsonl", stats.observe) if stats else None

    def rebuild(new: Config) -> tuple[dict[str, Runner], list[Service]]:
        services = build_services(home, new, spool, busy=inflight.busy)
        return build_runners(home, new, redactor), services

    worker = Worker(
        home,
        config,
        build_runners(home, config, redactor),
        spool=spool,
        progress=LiveSink(home),
        services=build_services(home, config, spool, busy=inflight.busy),
        inflight=inflight,
        rebuild=rebuild,
        events=events,
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing in-flight runs, taking nothing new", signal.Signals(signum).name
        )
        sdnotify.stopping("finishing in-flight runs")
        stop.set()
        worker.wake.set()  # the loop may be asleep until its next rescan

    def _reload(_signum: int, _frame: FrameType | None) -> None:
        worker.hot_reload.request()

    def _ready() -> None:
        sdnotify.ready(f"serving {len(worker.config.actors)} actor(s)")

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _reload)
    metrics = start_metrics(
        home, config, spool, stats, lambda: worker.config, lambda: len(worker.inflight)
    )
    try:
        worker.run(stop, on_ready=_ready)
    finally:
        if metrics is not None:
            metrics.stop()
    log.info("worker stopped")


# How a worker process is started from a shell or a service manager; anything else
# (a test calling run_worker in its own process) is never replaced.
_WORKER_ENTRIES = (["-m", "tinyclaw", "worker"], ["-m", "tinyclaw.worker"])


def _drop_foreign_secrets(config: Config) -> None:
    """Start again (``execve``, same pid) without the secrets the worker must not
    hold, if it was given any: a platform token in the worker's environment is one
    ``cat /proc/$PPID/environ`` away from every CLI it runs, and a process cannot
    remove a variable from that view of itself. Their fingerprints go along, for
    redaction. Under ``tinyclaw start`` the supervisor already did this."""
    from tinyclaw.config.childenv import child_environment
    from tinyclaw.config.credentials import configured_secrets, worker_secrets

    argv = list(sys.orig_argv)
    script = len(argv) > 2 and os.path.basename(argv[1]) == "tinyclaw" and argv[2] == "worker"
    if not script and not any(argv[1 : 1 + len(e)] == e for e in _WORKER_ENTRIES):
        return
    own = worker_secrets(config)
    withheld = [name for name in configured_secrets(config) if name not in own]
    env, removed = child_environment(os.environ, {}, own=own, withheld=withheld)
    if removed:
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def _secret_names(config: object) -> list[str]:
    from tinyclaw.config import Config

    assert isinstance(config, Config)
    names: list[str] = []
    for name in ("telegram", "discord", "whatsapp"):
        channel = config.channels.get(name)
        names += [
            n for n in (channel.token_env, channel.verify_token_env, channel.app_secret_env) if n
        ]
    names += config.runners.claude.pass_env + config.runners.codex.pass_env
    return names
