"""The supervisor on its own (no tmux): it restarts a crashing child with growing
delays and says so, gives up on "retrying cannot help", passes a stop on to its child,
and never leaves the child behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.launcher.conftest import states, wait_until
from tinyclaw.core.home import Home
from tinyclaw.launcher.readiness import ReadyProbe
from tinyclaw.launcher.state import pid_alive
from tinyclaw.launcher.supervisor import Backoff, describe_exit

pytestmark = pytest.mark.timeout(60)


def supervise(child: str, *, ready: str = "file", component: str = "demo") -> subprocess.Popen[str]:
    """``python -m tinyclaw.launcher supervise demo -- python -c CHILD``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tinyclaw.launcher",
            "supervise",
            component,
            "--ready",
            ready,
            "--",
            sys.executable,
            "-c",
            child,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


READY = "import os, pathlib; pathlib.Path(os.environ['TINYCLAW_READY_FILE']).touch()\n"


def test_backoff_doubles_up_to_a_cap() -> None:
    backoff = Backoff(initial=0.5, factor=2, maximum=4)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


def test_readiness_probes_parse_and_reject_nonsense() -> None:
    assert ReadyProbe.parse("event:worker.start").events == {"worker.start"}
    probe = ReadyProbe.parse("event:listener.ready,alive:1.5")
    assert probe.events == {"listener.ready"} and probe.seconds == 1.5
    assert ReadyProbe.parse("file") == ReadyProbe()
    with pytest.raises(ValueError):
        ReadyProbe.parse("whenever")


def test_exit_descriptions_name_the_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_a_crashing_child_is_restarted_with_growing_delays_and_it_is_said(home: Home) -> None:
    proc = supervise(READY + "import time; print('child up', flush=True); time.sleep(0.1); exit(1)")
    try:
        wait_until(
            lambda: (
                (state := states(home).get("demo"))
                and (state.restarts, state.phase) == (2, "backoff")
            ),
            "the wait before restart #2",
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert output.count("child up") >= 2
    assert "demo stopped (exit code 1)" in output
    assert "restart #1 in 0.5 s" in output and "restart #2 in 1 s" in output
    state = states(home)["demo"]
    assert state.phase == "stopped"
    # The stop lands in the 1 s wait, or (on a slow machine) after child #3 started.
    assert state.last_exit in (1, -signal.SIGTERM)
    log = (home.logs / "supervise-demo.log").read_text()
    assert "restart #1" in log


def test_exit_code_2_means_do_not_retry(home: Home) -> None:
    proc = supervise("import sys; print('bad token', flush=True); sys.exit(2)")
    try:
        wait_until(
            lambda: states(home).get("demo") and states(home)["demo"].phase == "gave_up",
            "giving up",
        )
        assert states(home)["demo"].restarts == 0
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "not restarting it" in output and "tinyclaw restart" in output
    assert output.count("bad token") == 1


def test_a_stop_is_passed_to_the_child_which_may_finish_its_work(
    home: Home, tmp_path: Path
) -> None:
    done = tmp_path / "finished"
    child = (
        "import signal, time, pathlib\n"
        "stop = []\n"
        "signal.signal(signal.SIGTERM, lambda *a: stop.append(1))\n"
        + READY  # only once it can take the signal
        + "while not stop: time.sleep(0.02)\n"
        "time.sleep(0.3)\n"  # finishing in-flight work
        f"pathlib.Path({str(done)!r}).write_text('clean')\n"
    )
    proc = supervise(child)
    wait_until(lambda: states(home).get("demo") and states(home)["demo"].phase == "ready", "ready")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert done.read_text() == "clean"
    assert states(home)["demo"].restarts == 0


def test_the_child_does_not_outlive_a_killed_supervisor(home: Home, tmp_path: Path) -> None:
    proc = supervise(READY + "import time\nwhile True: time.sleep(1)\n")
    try:
        wait_until(
            lambda: states(home).get("demo") and states(home)["demo"].phase == "ready", "ready"
        )
        child = states(home)["demo"].child_pid
        assert pid_alive(child, needle="python")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        wait_until(lambda: not pid_alive(child, needle="python"), "the orphan to go")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_readiness_can_come_from_the_childs_event(home: Home) -> None:
    child = (
        "import time\n"
        "from tinyclaw.core.events import EventLog\n"
        "from tinyclaw.core.home import find_home\n"
        "EventLog(find_home().logs / 'events.jsonl').emit('worker.start')\n"
        "time.sleep(30)\n"
    )
    proc = supervise(child, ready="event:worker.start")
    try:
        wait_until(
            lambda: states(home).get("demo") and states(home)["demo"].phase == "ready", "ready"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
