"""An actor schedules work for itself by writing a file into its workspace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.schedule.actor_jobs import ImportResult, import_actor_jobs, import_all_actor_jobs
from tinyclaw.schedule.scheduler import Scheduler
from tinyclaw.schedule.store import JobStore

from .conftest import BERLIN, ManualClock, write_config


@pytest.fixture
def folder(home: Home) -> Path:
    path = home.actor_dir("coder") / "workspace" / "schedules"
    path.mkdir(parents=True)
    return path


def write(folder: Path, name: str, content: object) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def run_import(
    store: JobStore, folder: Path, clock: ManualClock, **kwargs: object
) -> list[ImportResult]:
    params: dict[str, object] = {
        "local_tz": BERLIN,
        "default_to": "telegram:123",
        "allowed_to": {"telegram:123"},
        "settle": 0.0,  # the clock is not the file system's: judge every file at once
    }
    params.update(kwargs)
    return import_actor_jobs(store, "coder", folder, clock.now(), **params)  # type: ignore[arg-type]


def test_a_valid_file_becomes_a_job_of_that_actor(
    store: JobStore, folder: Path, clock: ManualClock
) -> None:
    write(
        folder,
        "standup.json",
        {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin", "prompt": "Standup notes"},
    )
    [result] = run_import(store, folder, clock)
    assert result.ok and result.error is None
    [job] = store.list()
    assert job == result.job
    assert (job.actor, job.kind, job.to, job.created_by) == (
        "coder",
        "cron",
        "telegram:123",
        "actor",
    )
    assert not (folder / "standup.json").exists()  # consumed
    # And from now on the scheduler runs it like any other job.
    assert Scheduler(store, clock, local_tz=BERLIN).next_wakeup() == job.next_run


def test_naming_itself_is_fine_naming_another_actor_is_not(
    store: JobStore, folder: Path, clock: ManualClock
) -> None:
    write(folder, "a.json", {"actor": "coder", "every": "1d", "prompt": "ok"})
    write(folder, "b.json", {"actor": "boss", "every": "1d", "prompt": "do my bidding"})
    ok, bad = run_import(store, folder, clock)
    assert ok.ok
    assert bad.source == "b.json"
    assert bad.error == "actor must be 'coder': an actor can only schedule itself"
    assert [job.actor for job in store.list()] == ["coder"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"cron": "0 9 * *", "prompt": "x"}, "invalid cron expression"),
        ({"cron": "0 9 * * *", "tz": "Moon/Base", "prompt": "x"}, "unknown time zone"),
        ({"every": "often", "prompt": "x"}, "is not a duration"),
        ({"at": "2020-01-01T09:00", "prompt": "x"}, "in the past"),
        ({"every": "1h", "cron": "0 9 * * *", "prompt": "x"}, "exactly one of"),
        ({"every": "1h", "prompt": "   "}, "the prompt is empty"),
        ({"every": "1h"}, "prompt: Field required"),
        ({"every": "1h", "prompt": "x", "paused": True}, "paused: unknown key"),
        ({"every": "1h", "prompt": "x", "to": "telegram:666"}, "not allowed for this actor"),
        ({"every": "1h", "prompt": "x", "to": "fax:1"}, "is not a target"),
        ("not json", "not valid UTF-8 JSON"),
        ([], "expected a JSON object"),
    ],
)
def test_an_invalid_file_is_set_aside_with_its_reason(
    store: JobStore, folder: Path, clock: ManualClock, content: object, reason: str
) -> None:
    write(folder, "job.json", content)
    [result] = run_import(store, folder, clock)
    assert not result.ok
    assert result.error is not None and reason in result.error
    assert store.list() == []
    assert not (folder / "job.json").exists()
    assert (folder / "failed" / "job.json").exists()
    assert reason in (folder / "failed" / "job.json.reason").read_text()


def test_without_an_owner_chat_an_actor_cannot_schedule_anywhere(
    store: JobStore, folder: Path, clock: ManualClock
) -> None:
    write(folder, "job.json", {"every": "1h", "prompt": "x", "to": "telegram:123"})
    [result] = run_import(store, folder, clock, default_to=None, allowed_to=frozenset())
    assert result.error is not None and "allowed: none" in result.error
    write(folder, "job2.json", {"every": "1h", "prompt": "x"})
    [result] = run_import(store, folder, clock, default_to=None, allowed_to=frozenset())
    assert result.error == 'no target: add "to": "channel:chat_id"'


def test_an_actor_cannot_flood_the_store(store: JobStore, folder: Path, clock: ManualClock) -> None:
    for number in range(4):
        write(folder, f"{number}.json", {"every": "1h", "prompt": f"job {number}"})
    results = run_import(store, folder, clock, max_jobs=3)
    assert [result.ok for result in results] == [True, True, True, False]
    assert "the limit is 3" in (results[3].error or "")


def test_other_files_and_a_missing_folder_are_ignored(
    home: Home, store: JobStore, folder: Path, clock: ManualClock
) -> None:
    write(folder, "notes.txt", "not a job")
    write(folder, ".draft.json", "{")
    assert run_import(store, folder, clock) == []
    assert run_import(store, home.root / "nowhere", clock) == []
    assert (folder / "notes.txt").exists() and (folder / ".draft.json").exists()


def test_a_symlink_is_refused(
    store: JobStore, folder: Path, clock: ManualClock, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"every": "1h", "prompt": "x"}))
    (folder / "link.json").symlink_to(outside)
    [result] = run_import(store, folder, clock)
    assert result.error is not None and "symlink" in result.error
    assert outside.exists()


def test_every_configured_actor_is_imported_with_its_own_rules(
    home: Home, store: JobStore, folder: Path, clock: ManualClock
) -> None:
    write_config(home)  # coder has owner_chat telegram:123; helper has none
    write(folder, "mine.json", {"every": "2h", "prompt": "hello"})
    helper = home.actor_dir("helper") / "workspace" / "schedules"
    helper.mkdir(parents=True)
    write(helper, "mine.json", {"every": "2h", "prompt": "hello"})

    results = import_all_actor_jobs(home, load_config(home), store, clock.now(), local_tz=BERLIN)
    by_actor = {result.actor: result for result in results}
    assert by_actor["coder"].ok
    assert by_actor["coder"].job is not None and by_actor["coder"].job.to == "telegram:123"
    assert not by_actor["helper"].ok
    assert [job.actor for job in store.list()] == ["coder"]


def test_a_file_written_in_chunks_is_imported_once_it_is_complete(
    store: JobStore, folder: Path, clock: ManualClock
) -> None:
    """The CLI's Write tool truncates the file and writes it; a scan can land between
    the two, or between two chunks. Such a file is left alone, not refused."""
    path = folder / "later.json"
    path.write_text("")  # opened and truncated, nothing written yet
    clock.set(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    [waiting] = run_import(store, folder, clock, settle=5.0)
    assert (waiting.job, waiting.error) == (None, None)
    assert waiting.retry_at == path.stat().st_mtime + 5.0
    with path.open("a") as handle:  # the first chunk
        handle.write('{"every": "2h", "prom')
    [waiting] = run_import(store, folder, clock, settle=5.0)
    assert waiting.retry_at is not None and path.exists() and store.list() == []
    with path.open("a") as handle:  # and the rest
        handle.write('pt": "Look at the inbox"}')
    [result] = run_import(store, folder, clock, settle=5.0)
    assert result.ok and [job.prompt for job in store.list()] == ["Look at the inbox"]
    assert path.exists()  # the writer may still be at work on it
    clock.set(datetime.fromtimestamp(path.stat().st_mtime + 5.01, UTC))
    [result] = run_import(store, folder, clock, settle=5.0)  # found again: the same job
    assert result.ok and [job.prompt for job in store.list()] == ["Look at the inbox"]
    assert not path.exists() and not (folder / "failed").exists()


def test_a_file_that_never_becomes_json_is_refused_once_it_settles(
    store: JobStore, folder: Path, clock: ManualClock
) -> None:
    path = write(folder, "stuck.json", '{"every": "2h"')
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    clock.set(written + timedelta(seconds=4.9))
    [waiting] = run_import(store, folder, clock, settle=5.0)
    assert waiting.retry_at is not None and path.exists()
    clock.set(written + timedelta(seconds=5.01))
    [result] = run_import(store, folder, clock, settle=5.0)
    assert result.error is not None and "not valid UTF-8 JSON" in result.error
    assert (folder / "failed" / "stuck.json").exists()
