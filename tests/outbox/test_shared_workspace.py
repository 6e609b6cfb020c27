"""Two actors on one repository: a coder and a reviewer share a workspace, each with
its own chat. Each gets its own outbox and schedules folder inside the shared one, so
what the reviewer writes is never sent with the coder's chats; a file dropped straight
into the shared folder belongs to nobody and is reported, not sent."""

from __future__ import annotations

from pathlib import Path

from tests.schedule.running import events, outgoing, worker_with_services, write_file
from tests.worker.conftest import fake_cli_config, wait_for, write_config
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.schedule.persona import persona_section
from tinyclaw.schedule.store import JobStore

ACTORS: dict[str, dict[str, object]] = {
    "coder": {"workspace": "repo", "owner_chat": "telegram:1001"},
    "reviewer": {"workspace": "repo", "owner_chat": "telegram:2002"},
    "loner": {"owner_chat": "telegram:3003"},
}


def repo(home: Home) -> Path:
    return home.root / "repo"


def test_each_actor_in_a_shared_workspace_writes_to_its_own_folders(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS))
    with worker_with_services(home):
        write_file(repo(home) / "outbox" / "reviewer" / "lgtm.json", {"text": "Looks good."})
        write_file(repo(home) / "outbox" / "coder" / "green.json", {"text": "CI is green."})
        wait_for(lambda: len(outgoing(home, "telegram")) == 2, what="both notices")
        write_file(
            repo(home) / "schedules" / "reviewer" / "daily.json",
            {"every": "1d", "prompt": "Review"},
        )
        wait_for(lambda: JobStore.for_home(home).list(), what="the reviewer's job")

    sent = {(r.actor, r.chat_id, r.text) for r in outgoing(home, "telegram")}
    assert sent == {("reviewer", "2002", "Looks good."), ("coder", "1001", "CI is green.")}
    [job] = JobStore.for_home(home).list()
    assert (job.actor, job.to, job.prompt) == ("reviewer", "telegram:2002", "Review")
    # An actor alone in its workspace keeps the plain folders.
    loner = home.actor_dir("loner") / "workspace"
    assert (loner / "outbox").is_dir() and not (loner / "outbox" / "loner").exists()


def test_a_file_in_the_shared_folder_itself_is_reported_and_left_alone(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS))
    with worker_with_services(home):
        stray = write_file(repo(home) / "outbox" / "who.json", {"text": "Whose is this?"})
        job = write_file(repo(home) / "schedules" / "when.json", {"every": "1h", "prompt": "?"})
        wait_for(lambda: events(home, "outbox.unclaimed"), what="the stray outbox file reported")
        wait_for(lambda: events(home, "schedules.unclaimed"), what="the stray job reported")

    [reported] = events(home, "outbox.unclaimed")
    assert reported["file"] == str(stray) and reported["actors"] == ["coder", "reviewer"]
    assert reported["use"] == f"{repo(home) / 'outbox'}/<actor>/"
    assert stray.exists() and job.exists()  # nothing lost, nothing sent, no job made
    assert outgoing(home, "telegram") == [] and JobStore.for_home(home).list() == []
    assert len(events(home, "outbox.unclaimed")) == 1  # reported once, not every pass


def test_the_persona_names_the_actors_own_folders(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS))
    text = persona_section(home, load_config(home), "reviewer")
    assert f"`{repo(home) / 'outbox' / 'reviewer'}/`" in text
    assert f"`{repo(home) / 'schedules' / 'reviewer'}/`" in text
