"""A worker killed (SIGKILL) in the middle of a live run's steering or approval still
answers every message exactly once, loses no steering line and grants nothing.

Each story starts a real ``tinyclaw worker`` process armed with one named crash point,
lets it die there, then serves the home with a fresh worker until the queue drains.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.worker.conftest import (
    crash_at,
    fake_cli_config,
    message,
    wait_for,
    worker_thread,
    write_config,
)
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import approvals_box, note_conversation, put_steer, steer_box
from tinyclaw.core.messages import load_reply
from tinyclaw.spool import Spool

ACTOR = "assistant"


def _events(home: Home, kind: str) -> list[dict[str, object]]:
    return [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == kind]


def _replies(spool: Spool, channel: str = "cli") -> list[str]:
    return [load_reply(p.read_bytes()).text for p in spool.list_box(spool.outgoing(channel))]


def _steer_files(home: Home) -> list[str]:
    return [p.name for p in steer_box(home, ACTOR).rglob("*.json")]


@pytest.mark.parametrize("point", ["steer.taken", "steer.delivered"])
def test_a_kill_while_a_steering_line_is_handed_over_answers_once_with_the_line(
    home: Home, point: str
) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "0.5"}))
    spool = Spool(home)
    asked = message("survive this")
    spool.put(asked)
    put_steer(home, ACTOR, "and mind the tests")

    crash_at(home, point)
    with worker_thread(home):
        wait_for(lambda: spool.reply_exists("cli", asked.id), 30, "the answer after restart")

    # One answer, and the line reached the run that gave it (taken lines come back).
    replies = {p.name for p in spool.list_box(spool.outgoing("cli"))}
    assert replies == {f"{asked.id}.json", f"{asked.id}.steer1.json"}  # answer, owner's note
    answer = load_reply((spool.outgoing("cli") / f"{asked.id}.json").read_bytes())
    assert answer.text == "echo: survive this + and mind the tests"
    assert _steer_files(home) == []
    starts = Counter(e["id"] for e in _events(home, "run.start"))
    assert starts[asked.id] == 2


def test_a_kill_while_a_line_becomes_the_next_turn_queues_it_once(home: Home) -> None:
    write_config(home, fake_cli_config())
    spool = Spool(home)
    note_conversation(home, ACTOR, {"key": "cli:local", "channel": "cli", "chat_id": "local"})
    line = put_steer(home, ACTOR, "one more thing")

    crash_at(home, "steer.queued")
    with worker_thread(home):
        wait_for(lambda: spool.reply_exists("cli", line.stem), 30, "the answer after restart")
        wait_for(lambda: not spool.depths()["inboxes"], 10, "the inbox to drain")

    assert _replies(spool) == ["echo: one more thing"]
    assert _steer_files(home) == []


def test_a_kill_with_a_permission_question_open_never_grants_it(home: Home) -> None:
    write_config(
        home,
        fake_cli_config(
            {ACTOR: {"approval_timeout": 1}, "coder": {}}, env={"FAKE_CLI_ASK": "Bash"}
        ),
    )
    spool = Spool(home)
    asked = message("survive this")
    spool.put(asked)

    crash_at(home, "approval.asked")
    with worker_thread(home):
        wait_for(lambda: spool.reply_exists("cli", asked.id), 30, "the answer after restart")

    # The restart voided the open question; the new run asked again and nobody answered.
    answer = load_reply((spool.outgoing("cli") / f"{asked.id}.json").read_bytes())
    assert answer.text == "echo: survive this (Bash denied)"
    decided = [(e["decision"], e["by"]) for e in _events(home, "approval.decided")]
    assert decided == [("deny", "restart"), ("timeout", "nobody in time")]
    assert list(approvals_box(home, ACTOR).glob("*")) == []


def test_a_run_stopped_with_a_question_open_leaves_no_question_behind(home: Home) -> None:
    write_config(
        home,
        fake_cli_config(
            {ACTOR: {"timeout": 2, "approval_timeout": 60}, "coder": {}},
            env={"FAKE_CLI_ASK": "Bash"},
        ),
    )
    spool = Spool(home)
    asked = message("ask and wait")
    with worker_thread(home):
        spool.put(asked)
        wait_for(lambda: spool.reply_exists("cli", asked.id), 30, "the timeout's answer")

    answer = load_reply((spool.outgoing("cli") / f"{asked.id}.json").read_bytes())
    assert answer.kind == "error" and "longer than 2 s" in answer.text
    assert list(approvals_box(home, ACTOR).glob("*")) == []
    decided = [(e["decision"], e["by"]) for e in _events(home, "approval.decided")]
    assert decided == [("deny", "run ended")]
