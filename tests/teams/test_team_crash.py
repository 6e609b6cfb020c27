"""Kill the worker (SIGKILL) at each step of a team conversation, start it again: the
conversation finishes, every answer arrives exactly once, and no CLI runs twice.

The worker is a real process running the real ``claude`` for every actor; a named
failpoint (``TINYCLAW_FAILPOINT``) kills it the first time it reaches that step.
One run at a time (``concurrency = 1``) makes the order of steps the same on every
run, so each point is hit at a known place.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.teams.conftest import (
    conversation,
    outgoing,
    progress_texts,
    requests_with,
    setup_home,
    team_config,
    wait_drained,
)
from tests.worker.conftest import message, reply_for, start_worker_process
from tinyclaw.config import RunnerSettings
from tinyclaw.events import EventLog
from tinyclaw.home import Home
from tinyclaw.spool import Spool

pytestmark = pytest.mark.cli

FANIN = "[Answers from your teammates]"


@pytest.mark.parametrize(
    "point",
    [
        "worker.replied",  # the leader's handoffs are all out; its claim is not released
        "teams.opened.planned",  # state says "two branches open"; no file written yet
        "teams.opened.emitting",  # the progress line is out, the handoffs are not
        "teams.answered.planned",  # the first answer is recorded, nothing sent
        "teams.answered.emitted",  # its progress line is out, not marked delivered
        "teams.gathered.emitting",  # the last answer's progress is out, the fan-in is not
        "teams.gathered.emitted",  # the fan-in is in the inbox, not marked delivered
        "teams.final.planned",  # the final answer is decided, not yet written
    ],
)
def test_a_team_conversation_survives_a_kill_at_any_step(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, point: str
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"lead": "plans", "scout": "finds flights", "scribe": "writes"},
            {"travel": ["lead", "scout", "scribe"]},
            concurrency=1,
        ),
    )
    anthropic_fake.on_marker(
        "PLAN-IT", Reply.say("On it. [@scout: flights FLIGHT-Q] [@scribe: itinerary ITIN-Q]")
    )
    anthropic_fake.on_marker("FLIGHT-Q", Reply.say("TAP 120"))
    anthropic_fake.on_marker("ITIN-Q", Reply.say("Alfama then Belem"))
    anthropic_fake.on_marker(FANIN, Reply.say("TAP 120, Alfama then Belem."))
    msg = message("@travel PLAN-IT")
    spool.put(msg)

    crashed = start_worker_process(home, TINYCLAW_FAILPOINT=point)
    assert crashed.wait(60) == -signal.SIGKILL, "the failpoint was never reached"
    crashed.stderr.close()  # type: ignore[union-attr]
    worker = start_worker_process(home)
    try:
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        worker.stderr.close()  # type: ignore[union-attr]

    assert final.kind == "reply" and final.text == "TAP 120, Alfama then Belem."
    assert [r.id for r in outgoing(home) if r.kind != "progress"] == [msg.id]
    progress = progress_texts(home, msg)
    assert len(progress) == 3
    assert progress.count("@scout → @lead:\nTAP 120") == 1
    assert progress.count("@scribe → @lead:\nAlfama then Belem") == 1
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert fanin.count("TAP 120") == 1 and fanin.count("Alfama then Belem") == 1
    # Every message ran its CLI once: a result saved before the kill was reused.
    starts = Counter(
        e["id"] for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"
    )
    assert len(starts) == 4 and set(starts.values()) == {1}, starts
    state = conversation(home, msg)
    assert state.status == "done" and state.runs == 4
    assert [b.status for b in state.branches.values()] == ["answered", "answered"]
    assert all(o.delivered for o in state.outcomes.values())
    assert Spool.list_box(spool.failed) == []
