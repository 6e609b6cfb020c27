"""``tinyclaw schedule`` from the user's side: add, list, pause, resume, rm, and one
clear line for every mistake."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner, Result

from tinyclaw.cli.app import app
from tinyclaw.core.home import Home
from tinyclaw.schedule.store import JobStore

from .conftest import write_config


@pytest.fixture(autouse=True)
def _berlin_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")


def tinyclaw(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def added_id(result: Result) -> str:
    assert result.exit_code == 0, result.output
    match = re.match(r"added (\S+): ", result.stdout)
    assert match, result.stdout
    return match.group(1)


def test_add_a_weekday_cron_job_and_see_it_listed(home: Home) -> None:
    write_config(home)
    result = tinyclaw(
        "schedule", "add", "--actor", "coder", "--cron", "0 9 * * 1-5",
        "--tz", "Europe/Berlin", "--to", "telegram:123", "Summarise the open pull requests",
    )  # fmt: skip
    job_id = added_id(result)
    assert "cron 0 9 * * 1-5 (Europe/Berlin), next run " in result.stdout
    assert re.search(r"next run \d{4}-\d\d-\d\d 09:00 CES?T", result.stdout)
    assert (home.schedules / f"{job_id}.json").exists()

    listing = tinyclaw("schedule", "list")
    assert listing.exit_code == 0
    header, row = listing.stdout.splitlines()
    assert header.split()[:3] == ["ID", "ACTOR", "SCHEDULE"]
    assert row.startswith(job_id)
    assert "telegram:123" in row and "scheduled" in row and "Summarise the open" in row


def test_every_and_at_jobs(home: Home) -> None:
    every = added_id(
        tinyclaw(
            "schedule", "add", "--actor", "coder", "--every", "2h", "--to", "cli:local", "ping"
        )
    )
    at = tinyclaw(
        "schedule", "add", "--actor", "coder", "--at", "2099-12-01T09:00",
        "--tz", "America/New_York", "--to", "discord:42", "Happy holidays",
    )  # fmt: skip
    at_id = added_id(at)
    assert "at 2099-12-01T09:00:00-05:00" in at.stdout
    assert "next run 2099-12-01 15:00 CET" in at.stdout  # shown in local (Berlin) time
    stored = json.loads((home.schedules / f"{at_id}.json").read_text())
    assert stored["next_run"] == "2099-12-01T14:00:00Z"
    assert {job.id for job in JobStore.for_home(home).list()} == {every, at_id}


def test_pause_resume_and_rm(home: Home) -> None:
    job_id = added_id(
        tinyclaw("schedule", "add", "--actor", "coder", "--every", "1h", "--to", "telegram:1", "x")
    )
    paused = tinyclaw("schedule", "pause", job_id)
    assert (paused.exit_code, paused.stdout.strip()) == (0, f"paused {job_id}")
    assert "paused" in tinyclaw("schedule", "list").stdout.splitlines()[1]

    resumed = tinyclaw("schedule", "resume", job_id)
    assert resumed.exit_code == 0 and resumed.stdout.startswith(f"resumed {job_id}: next run ")
    assert "scheduled" in tinyclaw("schedule", "list").stdout.splitlines()[1]

    removed = tinyclaw("schedule", "rm", job_id)
    assert (removed.exit_code, removed.stdout.strip()) == (0, f"removed {job_id}")
    assert tinyclaw("schedule", "list").stdout.strip() == "no scheduled jobs"


def test_list_can_filter_by_actor_and_shows_rejected_files(home: Home) -> None:
    added_id(
        tinyclaw("schedule", "add", "--actor", "coder", "--every", "1h", "--to", "telegram:1", "x")
    )
    added_id(
        tinyclaw("schedule", "add", "--actor", "helper", "--every", "1h", "--to", "telegram:1", "y")
    )
    (home.schedules / "scribble.json").write_text("{")
    listing = tinyclaw("schedule", "list", "--actor", "helper")
    lines = listing.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].split()[1] == "helper"
    assert lines[2].startswith("failed/scribble.json: not valid UTF-8 JSON")


ERRORS = [
    (["--to", "telegram:1"], "error: give exactly one of --cron, --every or --at"),
    (["--every", "1h", "--cron", "0 9 * * *", "--to", "telegram:1"], "error: give exactly one of"),
    (["--cron", "0 9 * *", "--to", "telegram:1"], "error: invalid cron expression '0 9 * *'"),
    (
        ["--cron", "0 9 * * *", "--tz", "Mars/Olympus", "--to", "telegram:1"],
        "error: unknown time zone 'Mars/Olympus'",
    ),
    (
        ["--every", "1h", "--tz", "UTC", "--to", "telegram:1"],
        "error: --tz applies to --cron and --at",
    ),
    (["--every", "soon", "--to", "telegram:1"], "error: 'soon' is not a duration"),
    (
        ["--at", "2001-01-01T09:00", "--to", "telegram:1"],
        "error: at '2001-01-01T09:00' is in the past",
    ),
    (["--at", "next week", "--to", "telegram:1"], "error: 'next week' is not an ISO date-time"),
    (["--every", "1h", "--to", "123"], "error: '123' is not a target: expected channel:chat_id"),
    (["--every", "1h", "--to", "sms:123"], "error: 'sms:123' is not a target"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_every_mistake_is_one_clear_line_and_exit_1(
    home: Home, args: list[str], message: str
) -> None:
    result = tinyclaw("schedule", "add", "--actor", "coder", *args, "prompt")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(message)
    assert JobStore.for_home(home).list() == []


def test_the_actor_must_exist_when_there_is_a_config(home: Home) -> None:
    write_config(home)
    result = tinyclaw(
        "schedule", "add", "--actor", "ghost", "--every", "1h", "--to", "telegram:1", "x"
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown actor 'ghost' (defined: coder, helper)"


def test_without_a_config_only_the_name_is_checked(home: Home) -> None:
    added_id(
        tinyclaw("schedule", "add", "--actor", "ghost", "--every", "1h", "--to", "telegram:1", "x")
    )
    bad = tinyclaw(
        "schedule", "add", "--actor", "Bad Name", "--every", "1h", "--to", "telegram:1", "x"
    )
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: invalid actor name 'Bad Name'")


@pytest.mark.parametrize("command", ["pause", "resume", "rm"])
def test_an_unknown_job_id_is_an_error(home: Home, command: str) -> None:
    result = tinyclaw("schedule", command, "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no job 'nope'"


def test_list_as_json_gives_each_job_with_stable_fields(home: Home) -> None:
    write_config(home)
    job_id = added_id(
        tinyclaw("schedule", "add", "--actor", "coder", "--every", "2h", "--to", "cli:local",
                 "ping")
    )  # fmt: skip
    (home.schedules / "failed").mkdir(exist_ok=True)

    listing = tinyclaw("schedule", "list", "--json")

    assert listing.exit_code == 0, listing.output
    data = json.loads(listing.stdout)
    (job,) = data["jobs"]
    assert job["id"] == job_id and job["actor"] == "coder" and job["to"] == "cli:local"
    assert job["schedule"] == "every 2h" and job["state"] == "scheduled"
    assert job["prompt"] == "ping" and job["last_run"] is None
    assert job["next_run"].endswith("+00:00")
    assert data["rejected"] == []
