"""The actor's live progress file: what the worker records while a CLI streams, how it
stays bounded, and how the actor window follows it across a rotation."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.launcher import claimed
from tests.support.messages import message
from tinyclaw.core import Sender
from tinyclaw.core.home import Home
from tinyclaw.runners.contract import RunEvent
from tinyclaw.runners.live_log import JsonlTail, LiveSink, live_path


def _records(home: Home, actor: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in live_path(home, actor).read_text().splitlines()]


def test_a_run_is_recorded_between_a_start_and_an_end_marker(home: Home) -> None:
    sink = LiveSink(home, clock=lambda: 1000.0)
    message = claimed(home, "coder", "fix the failing test")

    sink("coder", RunEvent("start", "claude started (pid 5)", {"pid": 5}))
    sink("coder", RunEvent("command", "pytest -x", {"name": "Bash"}))
    sink("coder", RunEvent("file_change", "Edit src/app.py", {}))
    sink("coder", RunEvent("result", "Fixed it.", {"cost_usd": 0.0123}))

    records = _records(home, "coder")
    kinds = [r["kind"] for r in records]
    assert kinds == ["task.start", "start", "command", "file_change", "result", "task.end"]
    start = records[0]
    assert start["id"] == message.id and start["text"] == "fix the failing test"
    assert start["channel"] == "telegram" and start["sender"] == "Alice"
    assert records[-1] == {
        "ts": 1000.0,
        "kind": "task.end",
        "id": message.id,
        "ok": True,
        "cost_usd": 0.0123,
    }


def test_a_retried_session_in_the_same_run_gets_no_second_marker(home: Home) -> None:
    sink = LiveSink(home)
    claimed(home, "coder", "hello")
    sink("coder", RunEvent("start", "claude started (pid 5)", {}))
    sink("coder", RunEvent("start", "claude started (pid 6)", {}))
    assert [r["kind"] for r in _records(home, "coder")].count("task.start") == 1


def test_the_worker_names_the_message_its_run_took_without_a_second_read(home: Home) -> None:
    """The worker tells the sink which message a run took: the marker needs no file in
    processing/ (the worker has read and validated it already)."""
    sink = LiveSink(home, clock=lambda: 1000.0)
    msg = message(
        "review the patch", channel="telegram", chat="42", sender=Sender(id="7", name="Bo")
    )
    sink.begin("coder", msg.id, msg)
    sink("coder", RunEvent("sandbox", "unconfined", {}))
    sink("coder", RunEvent("start", "claude started (pid 5)", {}))
    sink("coder", RunEvent("result", "Done.", {"cost_usd": 0.0}))
    sink("coder", RunEvent("start", "claude started (pid 6)", {}))  # a run the worker did not name

    records = _records(home, "coder")
    assert [r["kind"] for r in records] == [
        "task.start",
        "sandbox",
        "start",
        "result",
        "task.end",
        "start",
    ]
    assert records[0]["id"] == msg.id and records[0]["text"] == "review the patch"
    assert records[0]["sender"] == "Bo" and records[0]["channel"] == "telegram"


def test_the_file_stays_bounded(home: Home) -> None:
    sink = LiveSink(home, max_bytes=2_000)
    claimed(home, "coder", "talk a lot")
    for n in range(100):
        sink("coder", RunEvent("text", f"line {n} " + "x" * 50, {}))
    current = live_path(home, "coder")
    previous = current.with_name(current.name + ".1")
    assert previous.exists()
    assert current.stat().st_size <= 2_000 + 200
    assert previous.stat().st_size <= 2_000 + 200
    assert "line 99" in current.read_text()


def test_huge_event_data_is_cut_not_fatal(home: Home) -> None:
    sink = LiveSink(home)
    sink("coder", RunEvent("tool", "Read", {"input": "y" * 100_000}))
    record = _records(home, "coder")[-1]
    assert len(json.dumps(record)) < 10_000


def test_the_tail_follows_appends_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    tail = JsonlTail(path)
    assert tail.poll() == []  # no file yet
    path.write_text('{"n": 1}\n{"n": 2')  # the second line is still being written
    assert tail.poll() == [{"n": 1}]
    with path.open("a") as handle:
        handle.write("}\n")
    assert tail.poll() == [{"n": 2}]
    with path.open("a") as handle:
        handle.write('{"n": 3}\n')
    path.rename(tmp_path / "live.jsonl.1")
    path.write_text('{"n": 4}\n')
    assert tail.poll() == [{"n": 3}, {"n": 4}]
    path.write_text('{"n":5}\n')  # truncated in place and rewritten, shorter
    assert tail.poll() == [{"n": 5}]


def test_a_late_window_sees_the_recent_backlog_only(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1000)))
    records = JsonlTail(path, backlog=100).poll()
    assert records and records[-1] == {"n": 999}
    assert len(records) < 20
