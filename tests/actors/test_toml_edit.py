"""Editing one ``[actors.NAME]`` table of an owner's tinyclaw.toml, keeping the rest."""

from __future__ import annotations

import tomllib

import pytest

from tinyclaw.actors.toml_edit import add_table, remove_table
from tinyclaw.core.errors import ConfigError

CONFIG = """\
# my assistant
[worker]
concurrency = 2   # two at once

[actors.assistant]   # the default one
runner = "claude"
persona = \"\"\"You are careful.
[Rules]
Never guess.\"\"\"

[actors.coder]
runner = "codex"

[actors.coder.heartbeat]
every = "1h"

# the team, described here
[teams.dev]
leader = "assistant"
members = ["assistant"]
"""


def test_a_table_is_valid_toml_whatever_its_values_hold() -> None:
    persona = 'Say "hi"\n[Rules]\n\tthen \\ stop \x7f """ end'
    text = add_table("", ("actors", "tester"), {"runner": "claude", "persona": persona,
                                                 "timeout": 60.5}, "t.toml")  # fmt: skip
    assert tomllib.loads(text)["actors"]["tester"] == {
        "runner": "claude",
        "persona": persona,
        "timeout": 60.5,
    }


def test_adding_keeps_every_comment_and_places_it_with_its_kind() -> None:
    updated = add_table(CONFIG, ("actors", "new"), {"runner": "codex"}, "t.toml")
    assert tomllib.loads(updated)["actors"]["new"] == {"runner": "codex"}
    assert "# my assistant" in updated and "concurrency = 2   # two at once" in updated
    assert "# the default one" in updated
    # The new table sits after the other actors, and the team keeps its comment.
    assert updated.index("[actors.new]") < updated.index("# the team, described here")
    assert "# the team, described here\n[teams.dev]" in updated


def test_removing_takes_the_table_and_its_subtables_only() -> None:
    updated = remove_table(CONFIG, ("actors", "coder"), "t.toml")
    data = tomllib.loads(updated)
    assert set(data["actors"]) == {"assistant"}
    assert data["teams"]["dev"]["leader"] == "assistant"
    assert "# the team, described here\n[teams.dev]" in updated  # its comment stays
    assert "# my assistant" in updated and "# the default one" in updated


def test_a_persona_with_a_header_like_line_survives_removing_its_neighbour() -> None:
    updated = remove_table(CONFIG, ("actors", "coder"), "t.toml")
    assert tomllib.loads(updated)["actors"]["assistant"]["persona"].endswith(
        "[Rules]\nNever guess."
    )
    again = remove_table(
        add_table(CONFIG, ("actors", "x"), {"persona": "a\n[Rules]\nb"}, "t.toml"),
        ("actors", "assistant"),
        "t.toml",
    )
    assert set(tomllib.loads(again)["actors"]) == {"coder", "x"}


def test_removing_an_absent_table_changes_nothing() -> None:
    assert remove_table(CONFIG, ("actors", "ghost"), "t.toml") == CONFIG


def test_dotted_and_quoted_keys_are_understood() -> None:
    dotted = '[actors]\ncoder.model = "x"\ncoder.runner = "codex"\nkeep.model = "y"\n'
    assert tomllib.loads(remove_table(dotted, ("actors", "coder"), "t.toml")) == {
        "actors": {"keep": {"model": "y"}}
    }
    added = add_table(dotted, ("actors", "more"), {"runner": "claude"}, "t.toml")
    assert set(tomllib.loads(added)["actors"]) == {"coder", "keep", "more"}
    quoted = '[ actors."coder" ]\nrunner = "codex"\n[actors.keep]\nrunner = "claude"\n'
    assert set(tomllib.loads(remove_table(quoted, ("actors", "coder"), "t.toml"))["actors"]) == {
        "keep"
    }


def test_adding_a_name_that_exists_or_to_broken_toml_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[actors.coder\] already exists"):
        add_table(CONFIG, ("actors", "coder"), {}, "t.toml")
    with pytest.raises(ConfigError, match=r"t\.toml: not valid TOML"):
        add_table("[actors\n", ("actors", "x"), {}, "t.toml")


def test_blank_lines_inside_a_persona_are_kept_exactly() -> None:
    persona = "Intro.\n\n\n\n[Rules]\n\n\nEnd."
    added = add_table(CONFIG, ("actors", "poet"), {"persona": persona}, "t.toml")
    removed = remove_table(added, ("actors", "coder"), "t.toml")
    assert tomllib.loads(removed)["actors"]["poet"]["persona"] == persona
