"""A team conversation that nothing would finish still ends: past its wall-clock
budget the user is told what was done, and a member whose task was given up (it went
to ``queue/failed/``) is dropped from the fan-in instead of being waited for. The real
``claude`` runs every actor against the loopback Anthropic fake."""

from __future__ import annotations

import signal

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.support.messages import message, reply_for
from tests.support.services import OffsetClock, worker_with_services
from tests.support.teams import conversation, requests_with, setup_home, team_config
from tests.support.waiting import wait_for
from tests.support.worker import start_worker_process
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool
from tinyclaw.teams.conversations import ConversationStore

pytestmark = pytest.mark.cli

FANIN = "[Answers from your teammates]"
ACTORS = {"lead": "plans", "scout": "finds flights", "scribe": "writes"}


def script(fake: AnthropicFake, scribe: Reply) -> None:
    fake.on_marker("PLAN-IT", Reply.say("On it. [@scout: flights FLIGHT-Q] [@scribe: plan ITIN-Q]"))
    fake.on_marker("FLIGHT-Q", Reply.say("TAP 120"))
    fake.on_marker("ITIN-Q", scribe)
    fake.on_marker(FANIN, Reply.say("Fly TAP for 120; no itinerary today."))


def scout_answered_and_scribe_running(home: Home, msg_id: str, fake: AnthropicFake) -> bool:
    """@scout has answered, and @scribe's CLI is running: its task is claimed and the
    CLI has asked the model (which leaves it waiting), so a kill now hits a real run."""
    state = ConversationStore(home.state / "conversations").load(msg_id)
    if state is None or "h001" not in state.branches:
        return False
    running = Spool.list_box(Spool(home).processing("scribe"))
    asked = requests_with(fake, "ITIN-Q")
    return state.branches["h001"].status == "answered" and bool(running) and bool(asked)


def test_a_stalled_conversation_ends_at_its_budget_and_the_user_hears_what_was_done(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    """@scribe never answers. No message of the conversation runs again, yet once the
    budget is spent the sweep ends it: nobody waits for ever."""
    spool = setup_home(
        home,
        team_config(
            claude_settings, ACTORS, {"travel": list(ACTORS)}, limits={"budget_seconds": 600}
        ),
    )
    script(anthropic_fake, Reply.hang())
    clock = OffsetClock()
    msg = message("@travel PLAN-IT")
    with worker_with_services(home, clock) as worker:
        spool.put(msg)
        scribe_busy = lambda: scout_answered_and_scribe_running(home, msg.id, anthropic_fake)  # noqa: E731
        wait_for(scribe_busy, 60, "@scout's answer and @scribe's run")
        clock.advance(601)  # ten minutes later, @scribe still at it
        worker.wake.set()
        final = reply_for(home, msg, timeout=30)

    assert final.kind == "error"
    assert "ran longer than 600 seconds (limits.budget_seconds)" in final.text
    assert "@scout (asked by @lead): flights FLIGHT-Q\n  → TAP 120" in final.text
    assert "@scribe (asked by @lead): plan ITIN-Q\n  → no answer yet" in final.text
    state = conversation(home, msg)
    assert state.status == "limited" and f"{msg.id}.end" in state.outcomes
    assert requests_with(anthropic_fake, "", FANIN) == []  # the leader was not asked again


def test_a_member_whose_task_failed_for_good_is_left_out_and_the_leader_finishes(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    """@scribe's task kills the worker; with ``max_attempts = 1`` the restarted worker
    sets it aside in ``queue/failed/``. The sweep fails that branch and fans in what
    there is, so @lead answers the user, knowing @scribe's part is missing."""
    config = team_config(claude_settings, ACTORS, {"travel": list(ACTORS)})
    spool = setup_home(home, config.replace("[worker]\n", "[worker]\nmax_attempts = 1\n", 1))
    script(anthropic_fake, Reply.hang())
    msg = message("@travel PLAN-IT")
    spool.put(msg)

    first = start_worker_process(home)
    try:
        scribe_busy = lambda: scout_answered_and_scribe_running(home, msg.id, anthropic_fake)  # noqa: E731
        wait_for(scribe_busy, 60, "@scout's answer and @scribe's run")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        first.stderr.close()  # type: ignore[union-attr]
    second = start_worker_process(home)
    try:
        # Stopping the dead worker's CLI, recovery and the sweep: seconds when idle, but
        # a loaded machine has been seen to need more than a minute.
        final = reply_for(home, msg, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        second.stderr.close()  # type: ignore[union-attr]

    assert final.kind == "reply" and final.text == "Fly TAP for 120; no itinerary today."
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert "TAP 120" in fanin
    assert "@scribe could not answer: its task failed and was set aside" in fanin
    state = conversation(home, msg)
    assert state.status == "done"
    assert [b.status for b in state.branches.values()] == ["answered", "failed"]
    assert [p.name for p in Spool.list_box(spool.failed)] == [f"{msg.id}.h002.json"]
