"""A team at work, with the real ``claude`` CLI for every actor against the loopback
Anthropic fake. Each scripted reply is chosen by a marker in the prompt, so members
running in parallel each get their own."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.teams.conftest import (
    conversation,
    inbox_files,
    outgoing,
    progress_texts,
    requests_with,
    setup_home,
    team_config,
    wait_drained,
)
from tests.worker.conftest import message, reply_for, worker_thread
from tinyclaw.config import RunnerSettings
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home

pytestmark = pytest.mark.cli

FANIN = "[Answers from your teammates]"
TASK = "[Task from @"


def test_a_leader_fans_out_to_two_members_and_combines_their_answers(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"lead": "plans trips", "scout": "finds flights", "scribe": "writes itineraries"},
            {"travel": ["lead", "scout", "scribe"]},
        ),
    )
    anthropic_fake.on_marker(
        "PLAN-LISBON",
        Reply.say(
            "Splitting this up.\n[@scout: find a flight to Lisbon FLIGHT-Q]\n"
            "[@scribe: draft two days in Lisbon ITINERARY-Q]"
        ),
    )
    anthropic_fake.on_marker("FLIGHT-Q", Reply.say("TAP, 120 EUR"))
    anthropic_fake.on_marker("ITINERARY-Q", Reply.say("Day 1 Alfama, day 2 Belem"))
    anthropic_fake.on_marker(FANIN, Reply.say("Fly TAP for 120 EUR; Alfama, then Belem."))

    with worker_thread(home):
        msg = message("@travel PLAN-LISBON in May")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)

    assert final.kind == "reply" and final.actor == "lead"
    assert final.text == "Fly TAP for 120 EUR; Alfama, then Belem."
    assert final.in_reply_to == msg.id
    # The members got the task, who asked, and the leader's words as context.
    (flight_prompt,) = requests_with(anthropic_fake, "FLIGHT-Q", TASK)
    assert flight_prompt.startswith("[Task from @lead]")
    assert "Splitting this up." in flight_prompt
    # The leader combined both answers, each exactly once.
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert fanin.count("TAP, 120 EUR") == 1 and fanin.count("Day 1 Alfama, day 2 Belem") == 1
    # The user saw who worked on what, and each answer as it landed.
    progress = progress_texts(home, msg)
    assert "@lead → @scout: find a flight to Lisbon FLIGHT-Q" in progress[0]
    assert "@lead → @scribe: draft two days in Lisbon ITINERARY-Q" in progress[0]
    assert sorted(progress[1:]) == [
        "@scout → @lead:\nTAP, 120 EUR",
        "@scribe → @lead:\nDay 1 Alfama, day 2 Belem",
    ]
    state = conversation(home, msg)
    assert state.status == "done" and state.runs == 4
    assert [b.answer for b in state.branches.values()] == [
        "TAP, 120 EUR",
        "Day 1 Alfama, day 2 Belem",
    ]
    # Each actor's persona file names its teammates and the handoff syntax.
    persona = (home.actors / "scout" / "workspace" / "CLAUDE.md").read_text()
    assert "@lead - plans trips" in persona and "@scribe - writes itineraries" in persona
    assert "[@lead: the task" in persona
    transcript = (home.state / "conversations" / f"{msg.id}.md").read_text()
    assert "@lead → @scout (task h001, hop 1)" in transcript
    assert "@lead → user (final answer)" in transcript


def test_a_chain_a_to_b_to_c_answers_back_up_the_chain(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"editor": "edits", "analyst": "analyses", "clerk": "fetches data"},
            {"office": ["editor", "analyst", "clerk"]},
        ),
    )
    anthropic_fake.on_marker("CHAIN-START", Reply.say("[@analyst: summarise sales B-TASK]"))
    anthropic_fake.on_marker(
        "B-TASK", Reply.say("I need numbers first. [@clerk: fetch Q3 sales C-TASK]")
    )
    anthropic_fake.on_marker("C-TASK", Reply.say("C-ANSWER Q3 sales: 42 units"))
    anthropic_fake.on_marker("C-ANSWER", Reply.say("B-ANSWER sales were 42 units"))
    anthropic_fake.on_marker("B-ANSWER", Reply.say("Report: 42 units sold in Q3."))

    with worker_thread(home):
        msg = message("@office CHAIN-START please")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)

    assert final.text == "Report: 42 units sold in Q3." and final.actor == "editor"
    (clerk_prompt,) = requests_with(anthropic_fake, "C-TASK", TASK)
    assert (
        clerk_prompt.startswith("[Task from @analyst]") and "I need numbers first." in clerk_prompt
    )
    (analyst_fanin,) = requests_with(anthropic_fake, "C-ANSWER Q3 sales", FANIN)
    assert analyst_fanin.startswith(FANIN)
    (editor_fanin,) = requests_with(anthropic_fake, "B-ANSWER sales", FANIN)
    assert editor_fanin.count("B-ANSWER sales were 42 units") == 1
    assert "C-ANSWER" not in editor_fanin  # the editor hears from the analyst only
    state = conversation(home, msg)
    hops = {b.to_actor: b.hop for b in state.branches.values()}
    assert hops == {"analyst": 1, "clerk": 2}
    assert state.status == "done" and state.runs == 5


def test_a_handoff_to_a_non_teammate_is_reported_back_to_the_sender(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"lead": "leads", "helper": "helps", "stranger": "not in the team"},
            {"crew": ["lead", "helper"]},
        ),
    )
    anthropic_fake.on_marker(
        "ASK-AROUND",
        Reply.say("[@stranger: do the secret thing] [@nobody: anything] [@helper: H-TASK]"),
    )
    anthropic_fake.on_marker("H-TASK", Reply.say("helper did it"))
    anthropic_fake.on_marker(FANIN, Reply.say("Done with the helper's help."))

    with worker_thread(home):
        msg = message("@crew ASK-AROUND")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)

    assert final.text == "Done with the helper's help."
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert "not delivered: @stranger is not your teammate" in fanin
    assert "not delivered: @nobody is not your teammate" in fanin
    assert "@helper - helps" in fanin  # who the leader can address instead
    assert "helper did it" in fanin
    assert requests_with(anthropic_fake, "do the secret thing", TASK) == []
    assert inbox_files(home, "stranger") == []
    (opened, *_) = progress_texts(home, msg)
    assert "@lead ✗ @stranger: not delivered (@stranger is not your teammate)" in opened
    runs = [
        e["actor"] for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"
    ]
    assert "stranger" not in runs


def test_only_refused_handoffs_go_straight_back_to_the_sender(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings, {"lead": "leads", "helper": "helps"}, {"crew": ["lead", "helper"]}
        ),
    )
    anthropic_fake.on_marker("SELF-ASK", Reply.say("[@lead: ask myself]"))
    anthropic_fake.on_marker(FANIN, Reply.say("I will answer myself then."))

    with worker_thread(home):
        msg = message("@crew SELF-ASK")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)

    assert final.text == "I will answer myself then."
    (fanin,) = requests_with(anthropic_fake, "", FANIN)
    assert "you cannot hand a task to yourself" in fanin


def test_a_closing_bracket_inside_a_task_reaches_the_member_whole(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings, {"lead": "leads", "coder": "codes"}, {"dev": ["lead", "coder"]}
        ),
    )
    anthropic_fake.on_marker(
        "FIX-TYPES", Reply.say("[@coder: make items[0] return list[int] BRACKET-TASK] ok?")
    )
    anthropic_fake.on_marker("BRACKET-TASK", Reply.say("changed it"))
    anthropic_fake.on_marker(FANIN, Reply.say("The coder changed it."))

    with worker_thread(home):
        msg = message("@dev FIX-TYPES")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)

    assert final.text == "The coder changed it."
    (task,) = requests_with(anthropic_fake, "BRACKET-TASK", TASK)
    assert task.endswith("make items[0] return list[int] BRACKET-TASK")
    assert "Context:\nok?" in task


def test_a_ping_pong_between_two_actors_ends_at_the_hop_limit(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    spool = setup_home(
        home,
        team_config(
            claude_settings,
            {"ping": "pings", "pong": "pongs"},
            {"table": ["ping", "pong"]},
            limits={"max_hops": 3},
        ),
    )
    anthropic_fake.on_marker("PING-A", *[Reply.say("[@pong: PONG-B your turn]")] * 5)
    anthropic_fake.on_marker("PONG-B", *[Reply.say("[@ping: PING-A no, yours]")] * 5)

    with worker_thread(home):
        msg = message("@table PING-A go")
        spool.put(msg)
        final = reply_for(home, msg, timeout=60)
        wait_drained(home)

    assert final.kind == "error"
    assert "stopped before finishing: the hand-offs went 3 deep (limits.max_hops)" in final.text
    assert "What was done so far:" in final.text
    assert "@pong (asked by @ping): PONG-B your turn" in final.text
    state = conversation(home, msg)
    assert state.status == "limited" and state.runs == 4
    assert [b.hop for b in state.branches.values()] == [1, 2, 3]
    assert anthropic_fake.script.pending > 0  # it stopped; it did not run out of script
    assert [r.id for r in outgoing(home) if r.kind != "progress"] == [msg.id]
