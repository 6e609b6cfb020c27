"""``tinyclaw worker``: the foreground worker process with signal handling.

Free of Typer on purpose: ``python -m tinyclaw.worker`` (what the launcher runs) starts
the worker without importing the command-line application, which keeps an idle
worker's memory to what the worker itself needs."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from tinyclaw.config import load_home_config
from tinyclaw.errors import ConfigError, HomeError, TinyclawError
from tinyclaw.home import Home
from tinyclaw.logsetup import setup_logging

log = logging.getLogger("tinyclaw.worker")

# As a listener's: a broken tinyclaw.toml is not cured by a restart (the launcher's
# supervisor stops restarting on it), only by a person.
CONFIG_EXIT = 2


def exit_code(error: TinyclawError) -> int:
    """The worker's exit code for an error that stopped it: 2 for the configuration,
    1 for anything a restart may cure (another worker holds the home, ...)."""
    return CONFIG_EXIT if isinstance(error, ConfigError) else 1


def run_worker(home: Home) -> None:
    """Serve ``home`` until SIGTERM/SIGINT. A home the worker cannot write to (a
    read-only disk, wrong permissions) is a HomeError: one line, not a traceback."""
    try:
        _run_worker(home)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise HomeError(f"cannot use the home {home.root}: {exc.strerror or exc}{where}") from None


def _run_worker(home: Home) -> None:
    from tinyclaw.runtime import build_runners
    from tinyclaw.worker.loop import Worker

    config = load_home_config(home)
    home.ensure()
    setup_logging(home.logs, "worker", secret_names=_secret_names(config))
    from tinyclaw.live import LiveSink

    stop = threading.Event()
    from tinyclaw.schedule.service import build_services
    from tinyclaw.spool import Spool

    spool = Spool(home)
    worker = Worker(
        home,
        config,
        build_runners(home, config),
        spool=spool,
        progress=LiveSink(home),
        services=build_services(home, config, spool),
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
