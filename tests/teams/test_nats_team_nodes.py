"""A team whose actors run on two machines: the lead on worker node box-a, its
members on box-b, the queue and the conversation's state on a real ``nats-server``.
Each node is a real ``tinyclaw worker --node NAME`` process in a home of its own, and
every actor runs the real ``claude`` against the loopback Anthropic fake."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.spool.nats_backend import NatsHome
from tests.support.messages import message
from tests.support.teams import requests_with, team_config
from tests.support.waiting import wait_for
from tests.support.worker import start_worker_process, worker_process, write_config
from tinyclaw.config import RunnerSettings
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply as QueuedReply
from tinyclaw.spool.jetstream import JetStreamSpool
from tinyclaw.teams import Conversation, SharedConversationStore

pytestmark = pytest.mark.cli

FANIN = "[Answers from your teammates]"
ACTORS = {"lead": "plans", "scout": "finds flights", "scribe": "writes"}


def node_home(root: Path, nats: NatsHome, team: str, *, max_attempts: int = 3) -> Home:
    """One machine's home: @lead on box-a, @scout and @scribe on box-b."""
    home = Home(root)
    home.ensure()
    extra = (
        nats.toml() + "\n"
        '[nodes.box-a]\nactors = ["lead"]\n\n'
        '[nodes.box-b]\nactors = ["scout", "scribe"]\n'
    )
    team = team.replace("[worker]\n", f"[worker]\nmax_attempts = {max_attempts}\n", 1)
    write_config(home, team + "\n" + extra)
    return home


def replies_to(spool: JetStreamSpool, msg_id: str) -> list[QueuedReply]:
    """Every reply waiting for the terminal that answers the user's message ``msg_id``
    (progress lines and the final answer)."""
    found = [spool.load_reply(h) for h in spool.replies("cli")]
    return [r for r in found if r.in_reply_to == msg_id]


def final_answer(spool: JetStreamSpool, msg_id: str) -> list[QueuedReply]:
    return [r for r in replies_to(spool, msg_id) if r.id == msg_id]


def settled(spool: JetStreamSpool, msg_id: str) -> Conversation | None:
    """The conversation once every outcome of it is delivered, else None."""
    state = shared_state(spool, msg_id)
    if state is None or not all(o.delivered for o in state.outcomes.values()):
        return None
    return state


def runs(home: Home) -> list[str]:
    """The actors whose CLI runs ended on this node, in order."""
    events = EventLog(home.logs / "events.jsonl").read()
    return [str(e.get("actor")) for e in events if e.get("event") == "run.end"]


def shared_state(spool: JetStreamSpool, msg_id: str) -> Conversation | None:
    return SharedConversationStore(spool.kv("teams")).load(msg_id)


def test_a_lead_on_one_node_hands_work_to_a_member_on_another_and_the_user_gets_one_answer(
    tmp_path: Path,
    nats_home: NatsHome,
    claude_settings: RunnerSettings,
    anthropic_fake: AnthropicFake,
) -> None:
    team = team_config(claude_settings, ACTORS, {"travel": list(ACTORS)})
    box_a = node_home(tmp_path / "box-a", nats_home, team)
    box_b = node_home(tmp_path / "box-b", nats_home, team)
    anthropic_fake.on_marker("PLAN-IT", Reply.say("On it. [@scout: flights FLIGHT-Q]"))
    anthropic_fake.on_marker("FLIGHT-Q", Reply.say("TAP 120"))
    anthropic_fake.on_marker(FANIN, Reply.say("Fly TAP for 120."))
    spool = nats_home.open()
    msg = message("@travel PLAN-IT")
    with worker_process(box_a, node="box-a"), worker_process(box_b, node="box-b"):
        spool.put(msg)
        [final] = wait_for(lambda: final_answer(spool, msg.id), 90, "the team's final answer")
        state = wait_for(lambda: settled(spool, msg.id), 30, "every step delivered")
    assert final.kind == "reply" and final.actor == "lead"
    assert final.text == "Fly TAP for 120."
    assert final_answer(spool, msg.id) == [final]  # one answer, nothing more after
    assert len(requests_with(anthropic_fake, "", FANIN)) == 1  # the lead asked once
    assert state.status == "done"
    assert [(b.to_actor, b.status, b.answer) for b in state.branches.values()] == [
        ("scout", "answered", "TAP 120")
    ]
    # The lead's two turns ran on box-a, the task on box-b.
    assert runs(box_a) == ["lead", "lead"] and runs(box_b) == ["scout"]
    transcript = (box_a.state / "conversations" / f"{msg.id}.md").read_text(encoding="utf-8")
    assert "@lead → user (final answer)" in transcript
    for queue in ("lead", "scout", "scribe"):
        assert list(spool.pending(queue)) == []


def test_a_member_whose_task_failed_on_its_node_is_reported_and_the_lead_finishes(
    tmp_path: Path,
    nats_home: NatsHome,
    claude_settings: RunnerSettings,
    anthropic_fake: AnthropicFake,
) -> None:
    """@scribe's task kills box-b's worker; with ``max_attempts = 1`` the restarted
    box-b sets it aside in the failed stream. box-a's sweep (it runs the lead) fails
    that branch, so @lead answers the user with what @scout found."""
    team = team_config(claude_settings, ACTORS, {"travel": list(ACTORS)})
    box_a = node_home(tmp_path / "box-a", nats_home, team)
    box_b = node_home(tmp_path / "box-b", nats_home, team, max_attempts=1)
    anthropic_fake.on_marker(
        "PLAN-IT", Reply.say("On it. [@scout: flights FLIGHT-Q] [@scribe: plan ITIN-Q]")
    )
    anthropic_fake.on_marker("FLIGHT-Q", Reply.say("TAP 120"))
    anthropic_fake.on_marker("ITIN-Q", Reply.hang())
    anthropic_fake.on_marker(FANIN, Reply.say("Fly TAP for 120; no itinerary today."))
    spool = nats_home.open()
    msg = message("@travel PLAN-IT")
    task = f"{msg.id}.h002"

    def scout_answered_and_scribe_running() -> bool:
        state = shared_state(spool, msg.id)
        if state is None or "h001" not in state.branches:
            return False
        return (
            state.branches["h001"].status == "answered"
            and spool.locate("scribe", task).state == "running"
            and bool(requests_with(anthropic_fake, "ITIN-Q"))
        )

    with worker_process(box_a, node="box-a"):
        first = start_worker_process(box_b, node="box-b")
        try:
            spool.put(msg)
            wait_for(scout_answered_and_scribe_running, 90, "@scout's answer and @scribe's run")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            first.stderr.close()  # type: ignore[union-attr]
        with worker_process(box_b, node="box-b"):
            [final] = wait_for(lambda: final_answer(spool, msg.id), 120, "the final answer")

    assert final.kind == "reply" and final.text == "Fly TAP for 120; no itinerary today."
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert "TAP 120" in fanin
    assert "@scribe could not answer: its task failed and was set aside" in fanin
    state = shared_state(spool, msg.id)
    assert state is not None and state.status == "done"
    assert [b.status for b in state.branches.values()] == ["answered", "failed"]
    where = spool.locate("scribe", task)
    assert where.state == "failed" and "gave up after 1 attempts" in where.reason
    assert final_answer(spool, msg.id) == [final]
