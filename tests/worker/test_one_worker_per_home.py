"""A home has one worker at a time, and a dead worker's CLI does not work on unseen.

A second worker would put the first one's claimed messages back in the queue at its
start-up and run them again; a CLI left running by a SIGKILLed worker would go on
working in the actor's workspace while its message runs a second time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.worker.conftest import (
    REPO,
    fake_cli_config,
    message,
    reply_for,
    start_worker_process,
    wait_for,
    worker_process,
    write_config,
)
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.instance import lock_holder, worker_lock_path
from tinyclaw.runners.process import live_group_members
from tinyclaw.spool import Spool


def test_a_second_worker_on_the_same_home_is_refused_and_names_the_first(
    fake_home: Home,
) -> None:
    with worker_process(fake_home) as first:
        lock = worker_lock_path(fake_home.state)
        wait_for(lambda: lock_holder(lock) == first.pid, what="the first worker's lock")

        second = subprocess.run(
            [sys.executable, "-m", "tinyclaw", "worker"],
            env={**os.environ, "TINYCLAW_HOME": str(fake_home.root)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )

        assert second.returncode == 1
        assert f"a worker is already running for this home (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        msg = message("still there?")
        Spool(fake_home).put(msg)
        assert reply_for(fake_home, msg).text == "echo: still there?"
    assert lock_holder(worker_lock_path(fake_home.state)) is None


def test_a_cli_left_running_by_a_killed_worker_is_stopped_before_its_message_runs_again(
    home: Home,
) -> None:
    mark = home.root / "cli-is-working"
    # Unconfined: a sandboxed CLI dies with its worker (test_sandbox_clis.py).
    unconfined = '[sandbox]\nmode = "off"\n'
    env = {"FAKE_CLI_SLEEP": "120", "FAKE_CLI_MARK": str(mark)}
    write_config(home, fake_cli_config(env=env, extra=unconfined))
    spool = Spool(home)
    msg = message("a long job")
    spool.put(msg)
    crashed = start_worker_process(home)
    wait_for(lambda: mark.exists() and mark.read_text(), what="the CLI to be mid-run")
    cli = int(mark.read_text())
    assert (home.runs / str(cli)).exists()

    crashed.send_signal(signal.SIGKILL)
    assert crashed.wait(30) == -signal.SIGKILL
    crashed.stderr.close()  # type: ignore[union-attr]
    assert live_group_members(cli), "the CLI outlived its worker (its own session)"

    write_config(home, fake_cli_config())  # the next run answers at once
    with worker_process(home):
        assert reply_for(home, msg).text == "echo: a long job"
        assert live_group_members(cli) == []
        wait_for(lambda: spool.depths()["processing"] == 0, what="the run to complete")
    assert [p.name for p in spool.list_box(spool.outgoing("cli"))] == [f"{msg.id}.json"]
    recovered = [
        e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "recovered.orphans"
    ]
    assert [e["groups"] for e in recovered] == [[cli]]
    assert list(home.runs.iterdir()) == []
