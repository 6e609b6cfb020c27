"""``tinyclaw worker``: the foreground worker process with signal handling.

Free of Typer on purpose: ``python -m tinyclaw.worker`` (what the launcher runs) starts
the worker without importing the command-line application, which keeps an idle
worker's memory to what the worker itself needs."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from tinyclaw.config import load_home_config
from tinyclaw.home import Home
from tinyclaw.logsetup import setup_logging

log = logging.getLogger("tinyclaw.worker")


def run_worker(home: Home) -> None:
    from tinyclaw.runtime import build_runners
    from tinyclaw.worker.loop import Worker

    config = load_home_config(home)
    home.ensure()
    setup_logging(home.logs, "worker", secret_names=_secret_names(config))
    from tinyclaw.live import LiveSink

    stop = threading.Event()
    from tinyclaw.schedule.service import build_services
    from tinyclaw.spool import Spool
    from tinyclaw.worker.inflight import InFlight

    spool = Spool(home)
    inflight = InFlight(time.time)  # the services leave a running actor's files alone
    worker = Worker(
        home,
        config,
        build_runners(home, config),
        spool=spool,
        progress=LiveSink(home),
        services=build_services(home, config, spool, busy=inflight.busy),
        inflight=inflight,
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing in-flight runs, taking nothing new", signal.Signals(signum).name
        )
        stop.set()
        worker.wake.set()  # the loop may be asleep until its next rescan

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run(stop)
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
