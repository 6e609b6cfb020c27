"""``tinyclaw status`` for a listener or a worker node that waits for its lease (the queue on NATS,
another machine serving the bot): on standby, and who serves, not "connecting"."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support.launcher import write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.launcher.state import ComponentState, state_dir, write_state
from tinyclaw.launcher.status import collect, format_status

TELEGRAM = '[channels.telegram]\nenabled = true\ntoken_env = "TELEGRAM_BOT_TOKEN"\n'


@pytest.fixture
def listener_process() -> Iterator[int]:
    """A live process standing in for the supervised listener (status checks its pid)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "tinyclaw"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _supervised(home: Home, pid: int) -> None:
    write_state(
        state_dir(home.root),
        ComponentState("telegram", supervisor_pid=pid, child_pid=pid, started_at=time.time() - 5),
    )


def _listener_line(home: Home) -> str:
    snap = collect(home, load_config(home), session="t", session_running=True)
    return next(line for line in format_status(snap).splitlines() if " listener " in line)


def test_a_listener_waiting_for_its_lease_is_on_standby(home: Home, listener_process: int) -> None:
    write_config(home, channels=TELEGRAM)
    _supervised(home, listener_process)
    assert "connecting" in _listener_line(home)
    EventLog(home.logs / "events.jsonl").emit(
        "listener.standby", channel="telegram", holder="box-a:4711"
    )
    line = _listener_line(home)
    assert "standby" in line and "another machine serves it (box-a:4711)" in line
    # Once it took the lease over and connected, it is an ordinary listener again.
    EventLog(home.logs / "events.jsonl").emit("listener.lease", channel="telegram", waited=True)
    assert "standby" not in _listener_line(home)


def _worker_line(home: Home) -> str:
    snap = collect(home, load_config(home), session="t", session_running=True)
    return next(line for line in format_status(snap).splitlines() if " worker " in line)


def test_a_worker_waiting_for_its_node_lease_is_on_standby(
    home: Home, listener_process: int
) -> None:
    """The same node started on a second machine waits while the first serves it."""
    write_config(home)
    write_state(
        state_dir(home.root),
        ComponentState(
            "worker",
            supervisor_pid=listener_process,
            child_pid=listener_process,
            started_at=time.time() - 5,
        ),
    )
    assert "standby" not in _worker_line(home)
    EventLog(home.logs / "events.jsonl").emit(
        "worker.standby", node="box-a", holder="box-a:4711", lease="node.box-a"
    )
    line = _worker_line(home)
    assert "running  (standby" in line and "another machine serves it (box-a:4711)" in line
    # Once it took the lease over it starts as any worker.
    EventLog(home.logs / "events.jsonl").emit("worker.lease", node="box-a", waited=True)
    assert "standby" not in _worker_line(home)
