"""Kill the worker (SIGKILL) at each step of a team conversation, start it again: the
conversation finishes, every answer arrives exactly once, and no CLI runs twice.

A deliverer plays the listener the whole time: it takes each reply out of
``outgoing/cli`` into ``sent/cli``, as a platform listener does, and counts it. So a
reply written again after a restart is a second delivery the user would see, not a
file quietly overwritten; and what was written before a kill is already in ``sent/``
when the worker comes back (the deliverer drains ``outgoing/`` in between).

The worker is a real process running the real ``claude`` for every actor; a named
failpoint (``TINYCLAW_FAILPOINT``) kills it the first time it reaches that step.
One run at a time (``concurrency = 1``) makes the order of steps the same on every
run, so each point is hit at a known place.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.teams.conftest import (
    conversation,
    outgoing,
    requests_with,
    setup_home,
    team_config,
    wait_drained,
)
from tests.worker.conftest import crash_at, message, wait_for, worker_process
from tinyclaw.config import RunnerSettings
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, load_reply
from tinyclaw.spool import Spool

pytestmark = pytest.mark.cli

FANIN = "[Answers from your teammates]"


class Deliverer:
    """The listener's part: move each reply from ``outgoing/cli`` to ``sent/cli``,
    remembering every id it delivered (twice = the user saw it twice)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.delivered: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def drain(self) -> None:
        for path in self.spool.list_box(self.spool.outgoing("cli")):
            try:
                reply = load_reply(path.read_bytes())
            except FileNotFoundError:
                continue
            self.delivered.append(reply.id)
            self.spool.mark_sent(path, "cli")

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            self.drain()

    def __enter__(self) -> Deliverer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.drain()


def _travel_team(
    home: Home, claude_settings: RunnerSettings, fake: AnthropicFake, retry_backoff: float = 0
) -> tuple[Spool, Inbound]:
    """A leader who hands flights and an itinerary to two members, then combines the
    answers; the user's message is queued, no worker runs yet."""
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"lead": "plans", "scout": "finds flights", "scribe": "writes"},
            {"travel": ["lead", "scout", "scribe"]},
            concurrency=1,
            retry_backoff=retry_backoff,
        ),
    )
    fake.on_marker(
        "PLAN-IT", Reply.say("On it. [@scout: flights FLIGHT-Q] [@scribe: itinerary ITIN-Q]")
    )
    fake.on_marker("FLIGHT-Q", Reply.say("TAP 120"))
    fake.on_marker("ITIN-Q", Reply.say("Alfama then Belem"))
    fake.on_marker(FANIN, Reply.say("TAP 120, Alfama then Belem."))
    msg = message("@travel PLAN-IT")
    spool.put(msg)
    return spool, msg


def _kill_at_then_finish(home: Home, point: str, msg: Inbound, deliverer: Deliverer) -> None:
    """Run a worker until it dies at ``point``, then a fresh one until the team's final
    answer is delivered and nothing is left to run."""
    crash_at(home, point)
    deliverer.drain()  # what the killed worker wrote reaches the chat before the restart
    with worker_process(home):
        wait_for(lambda: msg.id in deliverer.delivered, 60, "the final answer")
        wait_drained(home)


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
        "teams.final.emitting",  # the final answer is out (and delivered), not marked
    ],
)
def test_a_team_conversation_survives_a_kill_at_any_step(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, point: str
) -> None:
    spool, msg = _travel_team(home, claude_settings, anthropic_fake)

    with Deliverer(spool) as deliverer:
        _kill_at_then_finish(home, point, msg, deliverer)

    sent = [load_reply(p.read_bytes()) for p in Spool.list_box(spool.sent("cli"))]
    assert outgoing(home) == []
    # Exactly once, counting what reached the chat before the kill.
    assert sorted(deliverer.delivered) == sorted(r.id for r in sent), deliverer.delivered
    assert len(sent) == 4
    (final,) = [r for r in sent if r.id == msg.id]
    progress = [r.text for r in sent if r.kind == "progress"]
    assert final.kind == "reply" and final.text == "TAP 120, Alfama then Belem."
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


def test_members_who_answered_before_the_leaders_replay_are_not_asked_again(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    """The worker dies after the leader's handoffs are in the inboxes but before they
    are marked delivered. After the restart the leader's message waits out its retry
    backoff, so the members run and answer first, while their tasks are written again
    (the outcome was not marked delivered): each member must still run once, and the
    leader combine each answer once."""
    spool, msg = _travel_team(home, claude_settings, anthropic_fake, retry_backoff=3)

    with Deliverer(spool) as deliverer:
        _kill_at_then_finish(home, "teams.opened.emitted", msg, deliverer)

    events = list(EventLog(home.logs / "events.jsonl").read())
    order = [e["actor"] for e in events if e["event"] == "run.start"]
    assert order == ["lead", "scout", "scribe", "lead"]  # members first, then the fan-in
    starts = Counter(e["id"] for e in events if e["event"] == "run.start")
    assert set(starts.values()) == {1}, starts  # nobody asked twice
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert fanin.count("TAP 120") == 1 and fanin.count("Alfama then Belem") == 1
    assert conversation(home, msg).status == "done"
