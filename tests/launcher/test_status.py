"""``tinyclaw status``, the dashboard and ``tinyclaw logs`` read the home's files, so
they tell the truth with tmux, without tmux, and after a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

from rich.console import Console

from tests.launcher.conftest import run_tinyclaw, write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.launcher.dashboard import render
from tinyclaw.launcher.logs import follow
from tinyclaw.launcher.status import collect
from tinyclaw.spool import Spool


def _message(text: str, actor: str | None = None) -> Inbound:
    return Inbound(
        id=unique_name(),
        channel="telegram",
        chat_id="42",
        sender=Sender(id="7", name="Alice"),
        text=text,
        actor=actor,
    )


def _busy_home(home: Home) -> None:
    """A home after some work: a run in flight for 42 s, one waiting, one failure."""
    write_config(home)
    spool = Spool(home)
    running = _message("summarise the meeting notes", "coder")
    path = spool.put(running, spool.inbox("coder"))
    assert path is not None
    spool.claim(path, "coder")
    EventLog(home.logs / "events.jsonl", clock=lambda: time.time() - 42).emit(
        "run.start", id=running.id, actor="coder", conversation="telegram:42"
    )
    EventLog(home.logs / "events.jsonl", clock=lambda: time.time() - 100).emit(
        "run.end", id="older", actor="reviewer", ok=False, error="timeout", duration=600.0
    )
    spool.put(_message("and then this", "reviewer"), spool.inbox("reviewer"))
    broken = spool.put(_message("this one broke"))
    assert broken is not None
    spool.fail(broken, "routing failed: addressed to unknown actor 'ghost'")


def test_status_without_tmux_shows_runs_in_flight_queues_and_failures(home: Home) -> None:
    _busy_home(home)
    env = {**os.environ, "PATH": "/nonexistent"}  # no tmux to be found

    result = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "status"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert result.returncode == 3, result.stderr  # nothing runs: tinyclaw is stopped
    out = result.stdout
    assert "tmux: not installed" in out
    assert "worker    not running" in out
    assert "incoming 0  inboxes 1  processing 1  outgoing 0  failed 1" in out
    in_flight = next(line for line in out.splitlines() if line.startswith("  @coder"))
    elapsed = int(in_flight.split()[1].removesuffix("s"))
    assert 42 <= elapsed < 60  # started 42 s before; the rest is this slow machine
    assert "telegram:42" in in_flight and "summarise the meeting notes" in in_flight
    assert "failures: 1" in out
    assert "addressed to unknown actor 'ghost'" in out


def test_status_as_json_has_the_documented_fields_and_exit_code(home: Home) -> None:
    _busy_home(home)

    result = run_tinyclaw("status", "--json")

    assert result.returncode == 3, result.stderr
    data = json.loads(result.stdout)
    assert data["home"] == str(home.root)
    assert data["health"] == "stopped"
    assert data["tmux"]["session"] and data["tmux"]["state"] in ("not running", "not installed")
    worker = next(c for c in data["components"] if c["kind"] == "worker")
    assert worker["running"] is False and worker["name"] == "worker"
    assert set(worker) == {"name", "window", "kind", "running", "phase", "pid", "restarts",
                           "since", "message"}  # fmt: skip
    assert data["queues"] == {"incoming": 0, "inboxes": 1, "processing": 1, "outgoing": 0,
                              "failed": 1}  # fmt: skip
    (flight,) = data["in_flight"]
    assert flight["actor"] == "coder" and flight["origin"] == "telegram:42"
    assert flight["elapsed"] >= 42
    coder = next(a for a in data["actors"] if a["name"] == "coder")
    assert coder == {"name": "coder", "runner": "claude", "inbox": 0, "running": flight["id"]}
    assert data["failures"]["count"] == 1
    assert "ghost" in data["failures"]["latest"][0]["reason"]


def test_the_dashboard_draws_the_same_snapshot(home: Home) -> None:
    _busy_home(home)
    config = load_config(home)
    snap = collect(home, config, session="tinyclaw", session_running=True)
    console = Console(file=StringIO(), width=140, record=True, color_system=None)

    console.print(render(snap))

    text = console.export_text()
    assert "@coder" in text and "summarise the meeting notes" in text
    assert "@reviewer" in text and "failed: timeout" in text
    assert "failures: 1" in text and "ghost" in text
    assert "worker" in text and "stopped" in text


def test_logs_lists_prints_the_end_and_names_what_exists(home: Home) -> None:
    (home.logs / "worker.log").write_text("".join(f"line {n}\n" for n in range(1, 101)))

    listing = run_tinyclaw("logs")
    assert "worker" in listing.stdout

    tail = run_tinyclaw("logs", "worker", "-n", "3")
    assert tail.returncode == 0
    assert tail.stdout.splitlines() == ["line 98", "line 99", "line 100"]

    (home.logs / "listen-telegram.log").write_text("telegram listener running\n")
    listener = run_tinyclaw("logs", "telegram")
    assert listener.stdout == "telegram listener running\n"

    missing = run_tinyclaw("logs", "discord")
    assert missing.returncode == 1
    assert "no log called 'discord'" in missing.stderr
    assert "available: listen-telegram, worker" in missing.stderr


def test_following_a_log_survives_its_rotation(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    path.write_text("old\n")
    out = StringIO()
    stop = threading.Event()
    follower = threading.Thread(
        target=follow, args=(path, out), kwargs={"should_stop": stop.is_set, "interval": 0.02}
    )
    follower.start()

    def append_until_shown(line: str) -> None:
        deadline = time.monotonic() + 15
        while line not in out.getvalue():  # the follower starts at the end it first sees
            assert time.monotonic() < deadline, f"{line!r} was never shown"
            with path.open("a") as handle:
                handle.write(line)
            time.sleep(0.05)

    try:
        append_until_shown("following\n")
        with path.open("a") as handle:
            handle.write("before rotation\n")
        path.rename(tmp_path / "worker.log.1")
        path.write_text("after rotation\n")
        deadline = time.monotonic() + 15
        while "after rotation" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        follower.join(timeout=5)
    shown = [line for line in out.getvalue().splitlines() if line != "following"]
    assert shown == ["before rotation", "after rotation"]
