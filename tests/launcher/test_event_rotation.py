"""``logs/events.jsonl`` stays bounded: past its limit it becomes ``events.jsonl.1``.
Every reader (``tinyclaw trace``, ``status`` and the dashboard, a supervisor waiting
for readiness) still finds what was written just before the rotation."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.launcher.conftest import REPO, run_tinyclaw, write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog, rotated_path
from tinyclaw.core.home import Home
from tinyclaw.launcher.readiness import EventTail
from tinyclaw.launcher.status import RecentEvents, collect

LIMIT = 4_000


def _log(home: Home, **kwargs: object) -> EventLog:
    return EventLog(home.logs / "events.jsonl", max_bytes=LIMIT, **kwargs)  # type: ignore[arg-type]


def _fill(log: EventLog, count: int = 60) -> None:
    for n in range(count):
        log.emit("filler", n=n, padding="x" * 40)


def test_the_log_rotates_past_its_limit_and_reads_across_the_rotation(home: Home) -> None:
    log = _log(home)

    for n in range(50):
        log.emit("step", n=n, padding="x" * 40)

    rotated = rotated_path(log.path)
    assert rotated.exists(), "the log never rotated"
    assert rotated.stat().st_size >= LIMIT
    assert log.path.stat().st_size < LIMIT
    assert [e["n"] for e in log.read()] == list(range(50))  # .1, then the current file


def test_a_second_writer_crossing_the_limit_does_not_rotate_again(home: Home) -> None:
    first, second = _log(home), _log(home)  # two processes appending to one log
    _fill(first)  # crosses the limit: first rotates
    full = rotated_path(first.path).read_bytes()
    first.emit("fresh")

    # second wrote its line just before first's rename and saw the file full; it
    # rotates only after taking the lock, and by then the file is fresh and short
    assert second.rotate() is False

    assert rotated_path(first.path).read_bytes() == full
    assert [e["event"] for e in first.read()][-1] == "fresh"


def test_many_processes_appending_lose_no_line_across_a_rotation(home: Home) -> None:
    script = (
        "import sys; from pathlib import Path; from tinyclaw.core.events import EventLog\n"
        "log = EventLog(Path(sys.argv[1]), max_bytes=int(sys.argv[2]))\n"
        "for n in range(150): log.emit('w', who=sys.argv[3], n=n, pad='y' * 60)\n"
    )
    path = home.logs / "events.jsonl"
    # room for all 4 x 150 lines in .1 + the current file: one rotation, nothing dropped
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), "60000", str(w)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for w in range(4)
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0, 0]

    assert rotated_path(path).exists()
    seen = sorted((e["who"], e["n"]) for e in EventLog(path).read())
    assert seen == sorted((str(w), n) for w in range(4) for n in range(150))


def test_trace_follows_a_message_across_the_rotation(home: Home) -> None:
    write_config(home)
    log = _log(home, clock=time.time)
    log.emit("routed", id="m-123", actor="coder", channel="telegram", chat="42")
    log.emit("run.start", id="m-123", actor="coder")
    _fill(log)  # the log rotates while the run goes on
    log.emit("run.end", id="m-123", actor="coder", ok=True, duration=2.5, cost=0.02)
    assert "m-123" in rotated_path(log.path).read_text()
    assert "routed" not in log.path.read_text()

    result = run_tinyclaw("trace", "m-123")

    assert result.returncode == 0, result.stderr
    assert "routed to @coder from telegram:42" in result.stdout
    assert "@coder started" in result.stdout
    assert "@coder ran 2.50s · $0.0200 · ok" in result.stdout


def test_status_still_knows_the_last_runs_after_a_rotation(home: Home) -> None:
    write_config(home)
    log = _log(home)
    log.emit("run.end", id="a", actor="reviewer", ok=False, error="timeout", duration=9.0)
    _fill(log)
    log.emit("routed", id="b", actor="coder", channel="cli", chat="local")
    assert "timeout" not in log.path.read_text()

    events = RecentEvents(log.path)
    snap = collect(home, load_config(home), session="t", session_running=False, events=events)

    last = {a.name: a.last_run for a in snap.actors}
    assert last["reviewer"] is not None and last["reviewer"]["error"] == "timeout"
    # and a dashboard that keeps refreshing sees what is written across the next one
    _fill(log)
    log.emit("run.end", id="b", actor="coder", ok=True, duration=1.0)
    events.refresh()
    assert any(e.get("id") == "b" and e["event"] == "run.end" for e in events.events)


def test_readiness_sees_an_event_written_just_before_a_rotation(home: Home) -> None:
    log = _log(home)
    log.emit("worker.start")  # an earlier worker's: not ours to count
    tail = EventTail(log.path)
    assert not tail.seen(os.getpid(), frozenset({"worker.start"}))

    log.emit("worker.start")
    _fill(log)  # rotated before the supervisor looked again

    assert rotated_path(log.path).exists()
    assert tail.seen(os.getpid(), frozenset({"worker.start"}))
    tail.close()
