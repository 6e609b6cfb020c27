"""Editing one ``[actors.NAME]`` section of a user's tinyclaw.toml as text."""

from __future__ import annotations

import tomllib

from tinyclaw.actors.toml_edit import append_section, key_parts, remove_section, section_text

CONFIG = """\
# my assistant
[worker]
concurrency = 2

[actors.assistant]   # the default one
runner = "claude"
persona = \"\"\"Line one
[not a header] inside a string\"\"\"

[actors.coder]
runner = "codex"

[actors.coder.heartbeat]
every = "1h"

# the team, described here
[teams.dev]
leader = "assistant"
members = ["assistant"]
"""


def test_a_section_is_valid_toml_whatever_its_values_hold() -> None:
    text = section_text(
        ("actors", "tester"),
        {"runner": "claude", "persona": 'Say "hi"\n\tthen \\ stop \x7f', "timeout": 60.5},
    )
    data = tomllib.loads(text)
    assert data["actors"]["tester"] == {
        "runner": "claude",
        "persona": 'Say "hi"\n\tthen \\ stop \x7f',
        "timeout": 60.5,
    }


def test_appending_keeps_everything_that_was_there() -> None:
    updated = append_section(CONFIG, section_text(("actors", "new"), {"runner": "codex"}))
    assert updated.startswith(CONFIG.rstrip("\n"))
    assert tomllib.loads(updated)["actors"]["new"] == {"runner": "codex"}


def test_removing_takes_the_section_and_its_subtables_only() -> None:
    updated = remove_section(CONFIG, ("actors", "coder"))
    data = tomllib.loads(updated)
    assert set(data["actors"]) == {"assistant"}
    assert data["teams"]["dev"]["leader"] == "assistant"
    assert "# the team, described here\n[teams.dev]" in updated  # its comment stays
    assert "# my assistant" in updated and "# the default one" in updated


def test_removing_an_absent_section_changes_nothing() -> None:
    assert remove_section(CONFIG, ("actors", "ghost")) == CONFIG


def test_quoted_and_spaced_keys_are_understood() -> None:
    assert key_parts('actors . "co.der" . heartbeat') == ("actors", "co.der", "heartbeat")
    assert key_parts("actors.'x'") == ("actors", "x")
    assert key_parts("actors..x") is None
    text = '[ actors."coder" ]\nrunner = "codex"\n[actors.keep]\nrunner = "claude"\n'
    assert set(tomllib.loads(remove_section(text, ("actors", "coder")))["actors"]) == {"keep"}
