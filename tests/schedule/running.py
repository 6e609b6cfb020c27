"""A real worker with its services (schedules, heartbeats, outboxes), for the stories
that go end to end: a configuration for the fake or the real CLI, a clock the test can
move forward, and small readers for what came out of the queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.worker.conftest import serving, wait_for
from tinyclaw.config import RunnerSettings, load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply, load_reply
from tinyclaw.schedule.service import build_services
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
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
    for name, fields in actors.items():
        lines.append(f"[actors.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
        lines.append("")
    return "\n".join(lines) + "\n" + extra


def outgoing(home: Home, channel: str) -> list[Reply]:
    spool = Spool(home)
    return [load_reply(path.read_bytes()) for path in spool.list_box(spool.outgoing(channel))]


def failed_reasons(home: Home) -> dict[str, str]:
    """``queue/failed/``: file name → reason."""
    spool = Spool(home)
    return {
        path.name: json.loads((spool.failed / f"{path.name}.reason").read_text())["reason"]
        for path in spool.list_box(spool.failed)
    }


def events(home: Home, kind: str) -> list[dict[str, Any]]:
    return [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == kind]


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


def write_file(path: Path, content: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
