"""A real worker with its services (schedules, heartbeats, outboxes), for the stories
that go end to end: a configuration for the fake or the real CLI, a clock the test can
move forward, and small readers for what came out of the queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.support.commands import events
from tests.support.waiting import wait_for
from tests.support.worker import actor_tables, serving
from tinyclaw.config import RunnerSettings, load_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners, build_services
from tinyclaw.worker.inflight import InFlight
from tinyclaw.worker.loop import Worker


class OffsetClock:
    """Real time plus an offset the test advances: the worker, its spool and the
    services all read it, so "a minute later" takes no minute."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@contextmanager
def worker_with_services(home: Home, clock: Callable[[], float] = time.time) -> Iterator[Worker]:
    """The worker as ``tinyclaw worker`` builds it, running in a thread."""
    config = load_config(home)
    spool = Spool(home, clock=clock)
    inflight = InFlight(clock)
    worker = Worker(
        home,
        config,
        build_runners(home, config),
        spool=spool,
        clock=clock,
        services=build_services(home, config, spool, clock=clock, busy=inflight.busy),
        inflight=inflight,
    )
    with serving(worker):
        yield worker


def claude_config(
    settings: RunnerSettings, actors: dict[str, dict[str, object]], extra: str = ""
) -> str:
    """A tinyclaw.toml whose claude runner is the real CLI of ``claude_settings``."""
    lines = [
        "[worker]",
        "scan_interval = 0.5",
        "retry_backoff = 0",
        "stop_timeout = 0.5",
        "",
        "[runners.claude]",
        f"command = {json.dumps(settings.command)}",
        f"home = {json.dumps(settings.home)}",
        "env = {" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.env.items()) + "}",
        "",
    ]
    return "\n".join(lines + actor_tables(actors)) + "\n" + extra


def wait_until_idle(home: Home, runs: int, timeout: float = 60.0) -> None:
    """Until ``runs`` CLI runs have ended and nothing is queued or in flight."""
    spool = Spool(home)

    def idle() -> bool:
        depths = spool.depths()
        return (
            len(events(home, "run.end")) >= runs
            and depths["incoming"] == depths["inboxes"] == depths["processing"] == 0
        )

    wait_for(idle, timeout, f"{runs} run(s) to finish")
