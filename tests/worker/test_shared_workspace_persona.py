"""Actors sharing one workspace cannot each have a persona file there (one CLAUDE.md
cannot hold two personas), so the worker hands each its whole persona as the system
prompt: its teammates and the handoff syntax, and its own outbox and schedules folders."""

from __future__ import annotations

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.cli_fixtures import *  # noqa: F403
from tests.fakes.cli_fixtures import Reply
from tests.teams.conftest import setup_home, team_config
from tests.worker.conftest import message, reply_for, worker_thread
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home


def test_actors_sharing_a_workspace_still_learn_their_team_and_folders(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    config = team_config(
        claude_settings, {"alpha": "plans", "beta": "checks"}, {"pair": ["alpha", "beta"]}
    )
    config = config.replace("[actors.alpha]\n", '[actors.alpha]\nworkspace = "shared"\n').replace(
        "[actors.beta]\n", '[actors.beta]\nworkspace = "shared"\n'
    )
    spool = setup_home(home, config)
    anthropic_fake.on_marker("SHARED-Q", Reply.say("noted"))

    with worker_thread(home):
        msg = message("@alpha SHARED-Q")
        spool.put(msg)
        assert reply_for(home, msg, timeout=60).text == "noted"

    assert not (home.root / "shared" / "CLAUDE.md").exists()
    [request] = [r for r in anthropic_fake.model_requests() if "SHARED-Q" in r.text]
    system = str(request.body.get("system"))
    assert "@beta - checks" in system  # the teammate ...
    assert "[@beta: the task" in system  # ... and how to hand it work
    assert "outbox/alpha" in system and "schedules/alpha" in system  # its own folders
