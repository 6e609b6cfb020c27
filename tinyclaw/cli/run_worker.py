"""``tinyclaw worker``: the foreground worker process with signal handling.

Free of Typer on purpose: ``python -m tinyclaw.worker`` (what the launcher runs) starts
the worker without importing the command-line application, which keeps an idle
worker's memory to what the worker itself needs."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from tinyclaw import sdnotify
from tinyclaw.config import Config, load_home_config
from tinyclaw.home import Home
from tinyclaw.logsetup import setup_logging

log = logging.getLogger("tinyclaw.worker")


def run_worker(home: Home) -> None:
    from tinyclaw.metrics import RunStats, TappedEventLog, start_metrics
    from tinyclaw.runners import Runner
    from tinyclaw.runtime import build_runners
    from tinyclaw.worker.loop import Service, Worker

    config = load_home_config(home)
    home.ensure()
    setup_logging(home.logs, "worker", secret_names=_secret_names(config))
    from tinyclaw.live import LiveSink

    stop = threading.Event()
    from tinyclaw.schedule.service import build_services
    from tinyclaw.spool import Spool

    spool = Spool(home)
    # Metrics count the worker's own events as they are written (off: a plain log).
    stats = RunStats() if config.metrics.enabled else None
    events = TappedEventLog(home.logs / "events.jsonl", stats.observe) if stats else None

    def rebuild(new: Config) -> tuple[dict[str, Runner], list[Service]]:
        return build_runners(home, new), build_services(home, new, spool)

    worker = Worker(
        home,
        config,
        build_runners(home, config),
        spool=spool,
        progress=LiveSink(home),
        services=build_services(home, config, spool),
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
