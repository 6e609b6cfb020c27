"""``tinyclaw actor add|list|show|remove`` from the user's side."""

from __future__ import annotations

import tomllib

import pytest
from typer.testing import CliRunner, Result

from tests.teams.conftest import team_config
from tests.worker.conftest import write_config
from tinyclaw.actors.manage import check_name, delete_folder
from tinyclaw.cli.app import app
from tinyclaw.config import load_config
from tinyclaw.core.errors import ConfigError, ConversationError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool
from tinyclaw.teams.state import ConversationStore

BASE = team_config(None, {"lead": "leads", "helper": "helps"}, {"crew": ["lead", "helper"]})


def tinyclaw(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def test_add_an_actor_then_see_it_listed_and_shown(home: Home) -> None:
    write_config(home, "# keep this comment\n" + BASE)
    added = tinyclaw(
        "actor", "add", "reviewer", "--runner", "codex", "--model", "gpt-test",
        "--description", "reviews code", "--persona", 'Say "LGTM" rarely.',
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added @reviewer (codex)" in added.stdout
    text = home.config_file.read_text()
    assert text.startswith("# keep this comment\n")
    config = load_config(home)
    assert config.actors["reviewer"].persona == 'Say "LGTM" rarely.'
    assert config.actors["reviewer"].model == "gpt-test"
    workspace = home.actors / "reviewer" / "workspace"
    assert (home.actors / "reviewer" / "inbox").is_dir()
    assert 'Say "LGTM" rarely.' in (workspace / "AGENTS.md").read_text()

    listing = tinyclaw("actor", "list")
    assert listing.exit_code == 0
    rows = listing.stdout.splitlines()
    assert [r.split()[0] for r in rows] == ["@lead", "@helper", "@reviewer"]
    assert "teams: crew (leader)" in rows[0] and "reviews code" in rows[2]

    shown = tinyclaw("actor", "show", "helper")
    assert shown.exit_code == 0
    assert "teammates:    @lead" in shown.stdout
    assert str(home.actors / "helper" / "workspace") in shown.stdout


def test_add_refuses_bad_and_taken_names_without_touching_the_file(home: Home) -> None:
    write_config(home, BASE)
    for name, why in [
        ("Bad Name", "invalid actor name"),
        ("../etc", "invalid actor name"),
        ("x" * 33, "invalid actor name"),
        ("lead", "already an actor called 'lead'"),
        ("crew", "is the name of a team"),
    ]:
        result = tinyclaw("actor", "add", name)
        assert result.exit_code == 1, name
        assert why in result.stderr
    bad_runner = tinyclaw("actor", "add", "newbie", "--runner", "gpt")
    assert bad_runner.exit_code == 1 and "claude or codex" in bad_runner.stderr
    assert home.config_file.read_text() == BASE
    assert not (home.actors / "newbie").exists()


def test_remove_asks_before_deleting_the_workspace(home: Home) -> None:
    write_config(
        home, BASE + '\n[actors.temp]\ndescription = "temporary"\n\n[limits]\nmax_hops = 4\n'
    )
    (home.actors / "temp" / "workspace").mkdir(parents=True)
    (home.actors / "temp" / "workspace" / "notes.txt").write_text("precious")

    before = home.config_file.read_text()
    aborted = tinyclaw("actor", "remove", "temp", input="")  # Ctrl-D at the question
    assert aborted.exit_code == 1 and home.config_file.read_text() == before

    kept = tinyclaw("actor", "remove", "temp", input="n\n")
    assert kept.exit_code == 0, kept.output
    assert "Delete its folder and the workspace in it" in kept.stdout
    assert (home.actors / "temp" / "workspace" / "notes.txt").exists()
    config = load_config(home)
    assert "temp" not in config.actors and config.limits.max_hops == 4

    write_config(home, BASE + '\n[actors.temp]\ndescription = "temporary"\n')
    (home.actors / "lead" / "workspace").mkdir(parents=True)
    (home.actors / "lead" / "workspace" / "mine.txt").write_text("lead's")
    gone = tinyclaw("actor", "remove", "temp", "--yes")
    assert gone.exit_code == 0, gone.output
    assert not (home.actors / "temp").exists()
    assert (home.actors / "lead" / "workspace" / "mine.txt").read_text() == "lead's"
    assert set(tomllib.loads(home.config_file.read_text())["actors"]) == {"lead", "helper"}


def test_remove_never_deletes_a_workspace_outside_the_actor_folder(home: Home) -> None:
    outside = home.root / "projects" / "site"
    outside.mkdir(parents=True)
    (outside / "index.html").write_text("<html>")
    write_config(home, BASE + f'\n[actors.web]\nworkspace = "{outside}"\n')
    (home.actors / "web" / "inbox").mkdir(parents=True)
    result = tinyclaw("actor", "remove", "web", "--yes")
    assert result.exit_code == 0, result.output
    assert f"kept its workspace {outside}" in result.stdout
    assert (outside / "index.html").read_text() == "<html>"
    assert not (home.actors / "web").exists()


def test_remove_refuses_a_team_member_an_unknown_name_and_waiting_work(home: Home) -> None:
    write_config(home, BASE + "\n[actors.busy]\n")
    member = tinyclaw("actor", "remove", "helper", "--yes")
    assert (
        member.exit_code == 1 and "in [teams.crew]; take it out of the team first" in member.stderr
    )
    unknown = tinyclaw("actor", "remove", "ghost", "--yes")
    assert unknown.exit_code == 1 and "no actor called 'ghost'" in unknown.stderr
    waiting = Inbound(id="m1", channel="cli", chat_id="c", sender=Sender(id="u"), text="hi")
    Spool(home).put(waiting, Spool(home).inbox("busy"))
    busy = tinyclaw("actor", "remove", "busy", "--yes")
    assert busy.exit_code == 1 and "still has 1 message(s) waiting" in busy.stderr
    assert "busy" in load_config(home).actors
    forced = tinyclaw("actor", "remove", "busy", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert "busy" not in load_config(home).actors


def test_remove_keeps_a_folder_another_actor_works_in(home: Home) -> None:
    """@twin runs in @temp's workspace: deleting actors/temp/ would delete its work."""
    shared = home.actors / "temp" / "workspace"
    write_config(
        home,
        BASE + f'\n[actors.temp]\n\n[actors.twin]\nworkspace = "{shared}"\n',
    )
    shared.mkdir(parents=True)
    (shared / "work.txt").write_text("twin's work")
    result = tinyclaw("actor", "remove", "temp", "--yes")
    assert result.exit_code == 0, result.output
    assert f"kept {home.actors / 'temp'}: the workspace of @twin is inside it" in result.stdout
    assert (shared / "work.txt").read_text() == "twin's work"
    assert set(load_config(home).actors) == {"lead", "helper", "twin"}


def test_delete_folder_refuses_while_another_actor_works_inside(home: Home) -> None:
    inner = home.actors / "temp" / "sub" / "repo"
    write_config(home, BASE + f'\n[actors.temp]\n\n[actors.twin]\nworkspace = "{inner}"\n')
    inner.mkdir(parents=True)
    with pytest.raises(ConfigError, match="the workspace of @twin is inside it"):
        delete_folder(home, "temp")
    assert inner.is_dir()


def test_remove_lists_the_actors_jobs_and_removes_them_only_after_a_yes(home: Home) -> None:
    write_config(home, BASE + '\n[actors.temp]\nowner_chat = "telegram:1"\n')
    added = tinyclaw(
        "schedule", "add", "--actor", "temp", "--every", "2h", "--to", "telegram:1", "check"
    )
    assert added.exit_code == 0, added.output
    [job] = JobStore.for_home(home).list()

    declined = tinyclaw("actor", "remove", "temp", input="n\n")
    assert declined.exit_code == 1
    assert f"{job.id}: every 2h → telegram:1" in declined.stdout
    assert "its jobs would be left without an actor" in declined.stderr
    assert "temp" in load_config(home).actors and JobStore.for_home(home).list() == [job]

    accepted = tinyclaw("actor", "remove", "temp", input="y\nn\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"removed job {job.id}" in accepted.stdout
    assert JobStore.for_home(home).list() == []
    assert "temp" not in load_config(home).actors


def test_remove_refuses_the_effective_default_actor(home: Home) -> None:
    """Without worker.default_actor the first actor gets every message without @name:
    removing it would silently hand them to another actor."""
    write_config(home, "[actors.solo]\n\n[actors.other]\n")
    result = tinyclaw("actor", "remove", "solo", "--yes")
    assert result.exit_code == 1 and "the default actor (the first one" in result.stderr
    assert "solo" in load_config(home).actors
    assert tinyclaw("actor", "remove", "other", "--yes").exit_code == 0


def test_names_with_a_trailing_newline_are_refused(home: Home) -> None:
    write_config(home, BASE)
    result = tinyclaw("actor", "add", "bob\n")
    assert result.exit_code == 1 and "invalid actor name" in result.stderr
    with pytest.raises(ConfigError, match="invalid actor name"):
        check_name("lead\n")
    scheduled = tinyclaw(
        "schedule", "add", "--actor", "lead\n", "--every", "1h", "--to", "telegram:1", "x"
    )
    assert scheduled.exit_code == 1 and "invalid actor name" in scheduled.stderr
    with pytest.raises(ConversationError):
        ConversationStore(home.state / "conversations").path("abc\n")


def test_added_actors_may_write_like_the_first_one_unless_told_otherwise(home: Home) -> None:
    write_config(home, BASE)
    assert tinyclaw("actor", "add", "writer").exit_code == 0
    assert tinyclaw("actor", "add", "fixer", "--runner", "codex").exit_code == 0
    careful = tinyclaw("actor", "add", "reader", "--permission-mode", "plan")
    assert careful.exit_code == 0, careful.output

    actors = load_config(home).actors
    assert actors["writer"].permission_mode == "acceptEdits"
    assert actors["fixer"].permission_mode == "workspace-write"
    assert actors["reader"].permission_mode == "plan"


def test_a_persona_with_rules_headers_can_be_added_and_removed_again(home: Home) -> None:
    write_config(home, "# mine\n" + BASE)
    persona = "You review code.\n[Rules]\nBe brief."
    assert tinyclaw("actor", "add", "reviewer", "--persona", persona).exit_code == 0
    assert load_config(home).actors["reviewer"].persona == persona

    removed = tinyclaw("actor", "remove", "reviewer", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "reviewer" not in load_config(home).actors
    assert home.config_file.read_text().startswith("# mine\n")


def test_an_actor_written_as_dotted_keys_can_be_removed(home: Home) -> None:
    write_config(home, BASE + '\n[actors]\nextra.model = "opus"\nextra.description = "x"\n')
    assert "extra" in load_config(home).actors

    removed = tinyclaw("actor", "remove", "extra", "--yes")

    assert removed.exit_code == 0, removed.output
    assert set(load_config(home).actors) == {"lead", "helper"}


def test_actor_list_as_json(home: Home) -> None:
    import json

    write_config(home, BASE)
    listing = tinyclaw("actor", "list", "--json")
    assert listing.exit_code == 0, listing.output
    lead, helper = json.loads(listing.stdout)["actors"]
    assert lead["name"] == "lead" and lead["teams"] == ["crew"] and lead["default"] is True
    assert helper["teammates"] == ["lead"] and helper["waiting"] == 0
    assert helper["workspace"] == str(home.actors / "helper" / "workspace")
    assert set(lead) == {"name", "runner", "model", "permission_mode", "description", "teams",
                         "teammates", "workspace", "persona_file", "waiting", "default"}  # fmt: skip
