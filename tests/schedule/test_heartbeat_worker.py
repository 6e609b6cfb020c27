"""Heartbeats through a running worker and the real ``claude`` CLI: an actor with
nothing to report stays silent, one with news writes to its owner chat, and neither
touches the user's conversation."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tests.worker.conftest import write_config
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home
from tinyclaw.runners.sessions import home_sessions
from tinyclaw.schedule.heartbeat import HeartbeatLog

from .running import claude_config, events, outgoing, wait_until_idle, worker_with_services

pytestmark = pytest.mark.cli

HEARTBEATS = """
[actors.quiet.heartbeat]
every = "1h"

[actors.loud.heartbeat]
every = "1h"
"""


def test_a_heartbeat_with_nothing_to_report_sends_nothing_and_one_with_news_does(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    actors: dict[str, dict[str, object]] = {
        "quiet": {"owner_chat": "telegram:1001"},
        "loud": {"owner_chat": "telegram:1002"},
    }
    write_config(home, claude_config(claude_settings, actors, HEARTBEATS))
    for actor, check in (("quiet", "QUIET-CHECK"), ("loud", "LOUD-CHECK")):
        home.actor_dir(actor).mkdir(parents=True, exist_ok=True)
        (home.actor_dir(actor) / "HEARTBEAT.md").write_text(f"- {check}: is CI green?\n")
    anthropic_fake.on_marker("QUIET-CHECK", Reply.say("**HEARTBEAT_OK**"))
    anthropic_fake.on_marker("LOUD-CHECK", Reply.say("CI has been red since 07:12."))

    with worker_with_services(home):
        wait_until_idle(home, runs=2)

    [report] = outgoing(home, "telegram")  # the quiet one said nothing
    assert (report.actor, report.chat_id) == ("loud", "1002")
    assert report.text == "CI has been red since 07:12."
    assert report.id.startswith("heartbeat-loud-")
    assert {e["actor"] for e in events(home, "run.end") if e["ok"]} == {"quiet", "loud"}
    prompts = [r.text for r in anthropic_fake.model_requests()]
    assert any("QUIET-CHECK" in p and "HEARTBEAT_OK" in p for p in prompts)

    sessions = home_sessions(home)
    for actor, chat in (("quiet", "telegram:1001"), ("loud", "telegram:1002")):
        assert sessions.get(actor, "heartbeat")  # its own conversation ...
        assert sessions.get(actor, chat) is None  # ... never the user's
        assert HeartbeatLog.for_home(home).last_run(actor) is not None
