"""The worker process: signals, its secrets, and how it ends when it cannot serve.

``tinyclaw worker`` (with and without the command-line application) and
``python -m tinyclaw.worker`` (what the launcher runs) all come here. Free of Typer on
purpose, which keeps an idle worker's memory to what the worker itself needs; the
worker itself is built by :func:`tinyclaw.worker.assembly.build_worker`."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from tinyclaw.config import Config, load_config, load_home_config
from tinyclaw.core import ConfigError, Home, HomeError, TinyclawError, sdnotify, setup_logging

if TYPE_CHECKING:
    from tinyclaw.core import EventLog, Redactor
    from tinyclaw.metrics import RunStats
    from tinyclaw.spool import Spool
    from tinyclaw.worker.node_lease import NodeLease

log = logging.getLogger("tinyclaw.worker")


def check_spool(config: Config, node: str | None) -> None:
    """Refuse, in one line, a worker this build cannot run as configured: a node
    that ``[nodes]`` does not name, or none named where ``[nodes]`` is defined."""
    from tinyclaw.worker.queue_choice import node_actors

    node_actors(config, node)


def run_worker(home: Home, node: str | None = None) -> None:
    """Serve ``home`` until SIGTERM/SIGINT; SIGHUP reloads the configuration."""
    from tinyclaw.config import worker_redactor
    from tinyclaw.worker.node_lease import hold_node
    from tinyclaw.worker.queue_choice import open_worker_queue

    _drop_foreign_secrets(load_config(home))
    config = load_home_config(home)
    check_spool(config, node)
    home.ensure()
    setup_logging(home.logs, "worker", secret_names=_secret_names(config))
    stop = threading.Event()
    wake: list[threading.Event] = []  # the worker's, once it is built
    aborts: list[Callable[[], None]] = []  # what a lost node lease stops at once

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing in-flight runs, taking nothing new", signal.Signals(signum).name
        )
        sdnotify.stopping("finishing in-flight runs")
        stop.set()
        for event in wake:
            event.set()  # the loop may be asleep until its next rescan

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # `kill -USR1 PID`: every thread's stack on stderr (the tmux window, the journal),
    # for a worker that seems stuck; it goes on serving.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    redactor = worker_redactor(home, config)
    spool = open_worker_queue(home, config, node, stop, redact=redactor)
    if spool is None:  # stopped while waiting for the NATS servers
        return
    held: NodeLease | None = None
    try:
        held = hold_node(home, config.spool.lease_ttl, node, spool, stop)
        if held is None and getattr(spool, "kv", None) is not None:
            return  # stopped while another machine served the node
        if held is not None:

            def _lost(_error: TinyclawError) -> None:
                stop.set()
                for abort in aborts:
                    abort()
                for event in wake:
                    event.set()

            held.keep(_lost)
        _serve(home, config, spool, redactor, stop, wake, aborts)
    finally:
        if held is not None:
            held.release()  # after the runs ended or were returned: a waiting one takes over
        close = getattr(spool, "close", None)  # a NATS spool: end its leases and connection
        if close is not None:
            close()
    if held is not None and held.lost is not None:
        raise held.lost
    log.info("worker stopped")


def _serve(
    home: Home,
    config: Config,
    spool: Spool,
    redactor: Redactor,
    stop: threading.Event,
    wake: list[threading.Event],
    aborts: list[Callable[[], None]],
) -> None:
    """Build the worker on ``spool`` and run it until ``stop``."""
    from tinyclaw.worker.assembly import build_worker

    # Metrics count the worker's own events as they are written (off: a plain log, and
    # the metrics package is never imported).
    stats: RunStats | None = None
    events: EventLog | None = None
    if config.metrics.enabled:
        from tinyclaw.metrics import RunStats, TappedEventLog

        stats = RunStats()
        events = TappedEventLog(home.logs / "events.jsonl", stats.observe)
    worker = build_worker(home, config, spool, redactor, events)
    wake.append(worker.wake)

    # A lost node lease: another machine serves the node now, and runs these messages
    # again; end ours at once (their claims go back, or are already taken over).
    def _abort() -> None:
        worker.stopping.set()
        worker.inflight.cancel("shutdown")

    aborts.append(_abort)
    watch = getattr(spool, "watch_queue", None)  # NATS: woken by the queue's subjects
    unwatch = watch(worker.wake.set) if watch is not None else None

    def _reload(_signum: int, _frame: FrameType | None) -> None:
        worker.hot_reload.request()

    def _ready() -> None:
        sdnotify.ready(f"serving {len(worker.config.actors)} actor(s)")

    signal.signal(signal.SIGHUP, _reload)
    metrics = None
    if stats is not None:
        from tinyclaw.metrics import start_metrics

        metrics = start_metrics(
            home, config, spool, stats, lambda: worker.config, lambda: len(worker.inflight)
        )
    try:
        if stop.is_set():  # stopped, or the node lease lost, while it was being built:
            return  # return no claim (another machine may be running them now)
        worker.run(stop, on_ready=_ready)
    finally:
        if metrics is not None:
            metrics.stop()
        if unwatch is not None:
            unwatch()


# How a worker process is started from a shell or a service manager; anything else
# (a test calling run_worker in its own process) is never replaced.
_WORKER_ENTRIES = (["-m", "tinyclaw", "worker"], ["-m", "tinyclaw.worker"])


def _drop_foreign_secrets(config: Config) -> None:
    """Start again (``execve``, same pid) without the secrets the worker must not
    hold, if it was given any: a platform token in the worker's environment is one
    ``cat /proc/$PPID/environ`` away from every CLI it runs, and a process cannot
    remove a variable from that view of itself. Their fingerprints go along, for
    redaction. Under ``tinyclaw start`` the supervisor already did this."""
    from tinyclaw.config import child_environment, configured_secrets, worker_secrets

    argv = list(sys.orig_argv)
    script = len(argv) > 2 and os.path.basename(argv[1]) == "tinyclaw" and argv[2] == "worker"
    if not script and not any(argv[1 : 1 + len(e)] == e for e in _WORKER_ENTRIES):
        return
    own = worker_secrets(config)
    withheld = [name for name in configured_secrets(config) if name not in own]
    env, removed = child_environment(os.environ, {}, own=own, withheld=withheld)
    if removed:
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def _secret_names(config: Config) -> list[str]:
    names: list[str] = []
    for name in ("telegram", "discord", "whatsapp"):
        channel = config.channels.get(name)
        names += [
            n for n in (channel.token_env, channel.verify_token_env, channel.app_secret_env) if n
        ]
    names += config.runners.claude.pass_env + config.runners.codex.pass_env
    return names + config.spool.secret_names()


# As a listener's: a broken tinyclaw.toml is not cured by a restart (the launcher's
# supervisor stops restarting on it), only by a person.
CONFIG_EXIT = 2


def exit_code(error: TinyclawError) -> int:
    """The worker's exit code for an error that stopped it: 2 for the configuration,
    1 for anything a restart may cure (another worker holds the home, ...)."""
    return CONFIG_EXIT if isinstance(error, ConfigError) else 1


def serve_worker(home: Home, node: str | None = None) -> None:
    """:func:`run_worker`, with a home the worker cannot write to (a read-only disk,
    wrong permissions) as a HomeError: one line naming the file, not a traceback."""
    try:
        run_worker(home, node)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise HomeError(f"cannot use the home {home.root}: {exc.strerror or exc}{where}") from None
