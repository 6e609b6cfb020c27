"""The persona file each actor's CLI reads, generated from tinyclaw.toml."""

from __future__ import annotations

import json

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.teams.conftest import team_config
from tests.worker.conftest import message, reply_for, worker_thread, write_config
from tinyclaw.actors.persona import (
    BEGIN,
    END,
    merge_block,
    persona_path,
    render_persona,
    write_persona,
    write_personas,
)
from tinyclaw.config import RunnerSettings, load_config, parse_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

TEAM = {
    "actors": {
        "lead": {"description": "plans the work", "persona": "You are the lead. Be brief."},
        "coder": {"runner": "codex", "description": "writes code"},
        "tester": {"description": "tests code"},
        "loner": {"persona": "You work alone."},
    },
    "teams": {
        "dev": {"leader": "lead", "members": ["lead", "coder", "tester"], "description": "builds"}
    },
}


def test_a_members_persona_names_its_teammates_and_the_handoff_syntax() -> None:
    config = parse_config(TEAM)
    text = render_persona(config, "coder")
    assert text.startswith(BEGIN) and text.rstrip().endswith(END)
    assert 'a member of team "dev" (builds)' in text
    assert "- @lead - plans the work" in text and "- @tester - tests code" in text
    assert "- @coder" not in text  # not its own teammate
    assert "[@lead: the task" in text and "[Task from @name]" in text
    lead = render_persona(config, "lead")
    assert "You are the lead. Be brief." in lead and 'the leader of team "dev"' in lead


def test_an_actor_outside_any_team_gets_no_team_section_but_extra_sections() -> None:
    config = parse_config(TEAM)
    text = render_persona(config, "loner", ["## Your outbox\n\nWrite files there."])
    assert "You work alone." in text and "## Your outbox" in text
    assert "Your team" not in text


def test_claude_reads_claude_md_and_codex_reads_agents_md(home: Home) -> None:
    config = parse_config(TEAM)
    assert persona_path(home, config, "lead").name == "CLAUDE.md"
    assert persona_path(home, config, "coder").name == "AGENTS.md"
    assert write_personas(home, config) == {"lead", "coder", "tester", "loner"}
    assert "@tester - tests code" in (home.actors / "coder" / "workspace" / "AGENTS.md").read_text()


def test_edits_outside_the_generated_block_survive_a_rewrite(home: Home) -> None:
    config = parse_config(TEAM)
    path = write_persona(home, config, "lead", [])
    edited = "# My notes\nKeep this.\n\n" + path.read_text() + "\nAnd this footer.\n"
    path.write_text(edited.replace("Be brief.", "Be verbose."))  # an edit inside the block
    changed = parse_config(
        {**TEAM, "actors": {**TEAM["actors"], "lead": {"persona": "You are the new lead."}}}
    )
    write_persona(home, changed, "lead", [])
    text = path.read_text()
    assert text.startswith("# My notes\nKeep this.\n\n" + BEGIN)
    assert text.endswith("And this footer.\n")
    assert "You are the new lead." in text and "Be verbose." not in text
    assert text.count(BEGIN) == 1


def test_a_persona_file_without_a_block_gets_one_appended() -> None:
    assert merge_block("Hand-written.\n", "BLOCK\n") == "Hand-written.\n\nBLOCK\n"
    assert merge_block(None, "BLOCK\n") == "BLOCK\n"


def test_actors_sharing_a_workspace_get_no_persona_file(home: Home) -> None:
    shared = {
        "actors": {"a": {"workspace": "shared"}, "b": {"workspace": "shared"}, "c": {}},
    }
    assert write_personas(home, parse_config(shared)) == {"c"}
    assert not (home.root / "shared" / "CLAUDE.md").exists()


def test_the_worker_writes_every_persona_file_when_it_starts(home: Home) -> None:
    write_config(
        home, team_config(None, {"lead": "leads", "helper": "helps"}, {"crew": ["lead", "helper"]})
    )
    with worker_thread(home) as worker:
        assert worker.persona_files == {"lead", "helper"}
    config = load_config(home)
    assert "@helper - helps" in persona_path(home, config, "lead").read_text()


@pytest.mark.cli
def test_the_cli_reads_its_persona_from_the_file_and_not_twice(
    home: Home, claude_settings: RunnerSettings, anthropic_fake: AnthropicFake
) -> None:
    text = team_config(
        claude_settings, {"lead": "leads", "helper": "helps"}, {"crew": ["lead", "helper"]}
    )
    write_config(home, text.replace('description = "leads"', 'persona = "PERSONA-SEVEN"'))
    with worker_thread(home):
        msg = message("@lead hello")
        Spool(home).put(msg)
        assert reply_for(home, msg, timeout=60).text == "echo: hello"
    (request,) = anthropic_fake.model_requests()
    user_turns = json.dumps(request.body["messages"])
    assert "PERSONA-SEVEN" in user_turns and "@helper - helps" in user_turns
    assert "PERSONA-SEVEN" not in json.dumps(request.body.get("system"))
