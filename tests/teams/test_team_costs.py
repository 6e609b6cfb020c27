"""A team conversation's runs are charged to the person who started it, whichever
member runs: the real ``claude`` for every actor against the loopback Anthropic fake,
and a real pairing profile for the person."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.teams.conftest import outgoing, setup_home, team_config, wait_drained
from tests.worker.conftest import message, reply_for, worker_thread
from tinyclaw.config import RunnerSettings, load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.costs import CostLedger
from tinyclaw.pairing import Identity
from tinyclaw.pairing.factory import pairing_service
from tinyclaw.spool import Spool

pytestmark = pytest.mark.cli

ALICE = Identity("telegram", "42")
FANIN = "[Answers from your teammates]"


def alice_in_profile(home: Home, name: str) -> None:
    """Alice pairs with an invite into the profile ``name``, as she would from chat."""
    service = pairing_service(home, load_config(home))
    service.redeem(ALICE, service.invite(profile=name))


def from_alice(text: str) -> Inbound:
    return message(text, channel="telegram", chat=ALICE.user_id, sender=Sender(id=ALICE.user_id))


def script_the_team(fake: AnthropicFake) -> None:
    fake.on_marker("PLAN-LISBON", Reply.say("Asking the scout.\n[@scout: find a flight FLIGHT-Q]"))
    fake.on_marker("FLIGHT-Q", Reply.say("TAP, 120 EUR"))
    fake.on_marker(FANIN, Reply.say("Fly TAP for 120 EUR."))


def team_home(home: Home, settings: RunnerSettings, limits: str = "") -> None:
    text = team_config(settings, {"lead": "plans", "scout": "finds"}, {"travel": ["lead", "scout"]})
    setup_home(home, text + f"\n[pairing]\n{limits}\n")
    alice_in_profile(home, "alice")


def test_every_members_run_is_charged_to_the_person_who_started_the_conversation(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    team_home(home, claude_settings)
    script_the_team(anthropic_fake)
    with worker_thread(home):
        msg = from_alice("@travel PLAN-LISBON in May")
        Spool(home).put(msg)
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)

    assert final.text == "Fly TAP for 120 EUR."
    entries = CostLedger(home.state / "costs").entries(0, 2e9)
    assert sorted(e.actor for e in entries) == ["lead", "lead", "scout"]
    assert {(e.profile, e.identity, e.chat) for e in entries} == {
        ("alice", str(ALICE), f"telegram:{ALICE.user_id}")
    }
    assert all(e.cost_usd > 0 for e in entries)


def test_a_persons_limit_reached_mid_conversation_stops_the_members_runs_too(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    # The leader's first run costs more than this; everything after it is refused.
    team_home(home, claude_settings, limits="max_usd_per_day = 0.000001")
    script_the_team(anthropic_fake)
    with worker_thread(home):
        msg = from_alice("@travel PLAN-LISBON in May")
        Spool(home).put(msg)
        wait_drained(home, timeout=60)
        final = reply_for(home, msg, timeout=30)

    assert len(anthropic_fake.model_requests()) == 1  # only the leader's first turn ran
    refusal = "Not run: your limit of $0.0000 a day is reached"
    # The scout's task was refused without a run, the leader heard so, and so did Alice.
    progress = [r.text for r in outgoing(home, "telegram") if r.kind == "progress"]
    assert any(
        t.startswith(f"@scout → @lead:\n(@scout could not answer: {refusal}") for t in progress
    )
    assert final.text.startswith(refusal)
    entries = CostLedger(home.state / "costs").entries(0, 2e9)
    assert [(e.actor, e.profile) for e in entries] == [("lead", "alice")]
