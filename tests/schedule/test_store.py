"""The folder of job files: what ``ls schedules/`` shows is the truth."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tinyclaw.core.errors import JobNotFoundError, ScheduleError
from tinyclaw.core.home import Home
from tinyclaw.schedule.scheduler import Scheduler
from tinyclaw.schedule.store import JobStore

from .conftest import BERLIN, JobFactory, ManualClock


def test_a_job_is_one_json_file_named_by_its_id(
    home: Home, store: JobStore, add_job: JobFactory
) -> None:
    job = add_job(cron="0 9 * * 1-5", tz="Europe/Berlin")
    path = home.schedules / f"{job.id}.json"
    raw = json.loads(path.read_text())
    assert raw["actor"] == "coder"
    assert raw["kind"] == "cron"
    assert raw["expr"] == "0 9 * * 1-5"
    assert raw["tz"] == "Europe/Berlin"
    assert raw["to"] == "telegram:123"
    assert raw["paused"] is False
    assert raw["next_run"] is not None
    assert store.get(job.id) == job
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert list((home.schedules / "tmp").iterdir()) == []  # nothing half-written left


def test_jobs_list_oldest_first(store: JobStore, add_job: JobFactory, clock: ManualClock) -> None:
    first = add_job(every="2h")
    clock.advance(timedelta(minutes=1))
    second = add_job(every="1d", actor="helper")
    assert [job.id for job in store.list()] == [first.id, second.id]


def test_an_empty_or_missing_folder_lists_nothing(tmp_path: Path) -> None:
    assert JobStore(tmp_path / "nowhere").list() == []
    assert JobStore(tmp_path / "nowhere").failures() == []


def test_pause_and_resume_are_written_to_the_file(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="2h")
    assert store.pause(job.id).paused is True
    assert store.get(job.id).paused is True
    resumed = store.resume(job.id, clock.now(), BERLIN)
    assert resumed.paused is False
    assert resumed.next_run == job.next_run  # nothing was missed


def test_resuming_skips_the_slots_that_passed_while_paused(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="2h")
    store.pause(job.id)
    now = clock.advance(timedelta(hours=9))
    resumed = store.resume(job.id, now, BERLIN)
    assert resumed.next_run == job.created_at + timedelta(hours=10)
    assert resumed.next_run is not None and resumed.next_run > now


def test_rm_deletes_the_file_and_unknown_ids_are_an_error(
    home: Home, store: JobStore, add_job: JobFactory
) -> None:
    job = add_job(every="2h")
    assert store.remove(job.id).id == job.id
    assert not (home.schedules / f"{job.id}.json").exists()
    for action in (store.remove, store.pause, store.get):
        with pytest.raises(JobNotFoundError, match=job.id):
            action(job.id)


def test_an_id_from_outside_cannot_reach_beyond_the_folder(home: Home, store: JobStore) -> None:
    (home.root / "secret.json").write_text("{}")
    for bad in ["../secret", "/etc/passwd", "a/b", "", ".hidden"]:
        with pytest.raises(JobNotFoundError):
            store.remove(bad)
    assert (home.root / "secret.json").exists()


def test_an_id_is_never_reused(store: JobStore, add_job: JobFactory) -> None:
    job = add_job(every="2h")
    with pytest.raises(ScheduleError, match="already exists"):
        store.add(job)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid UTF-8 JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"v": 1, "id": "broken"}', "not a valid job"),
        ('{"v": 7}', "unknown format version"),
    ],
)
def test_a_corrupt_job_file_goes_to_failed_and_the_rest_still_work(
    home: Home,
    store: JobStore,
    add_job: JobFactory,
    clock: ManualClock,
    content: str,
    reason: str,
) -> None:
    good = add_job(every="1h")
    (home.schedules / "broken.json").write_text(content)

    assert [job.id for job in store.list()] == [good.id]
    assert not (home.schedules / "broken.json").exists()
    assert (home.schedules / "failed" / "broken.json").read_text() == content
    [failure] = store.failures()
    assert failure.name == "broken.json"
    assert reason in failure.reason
    assert reason in (home.schedules / "failed" / "broken.json.reason").read_text()

    # The worker keeps scheduling the good job.
    scheduler = Scheduler(store, clock, local_tz=BERLIN)
    assert [run.key for run in scheduler.due(clock.advance(timedelta(hours=1)))] == [good.id]


def test_a_job_with_a_bad_field_is_rejected_with_the_field_named(
    home: Home, store: JobStore, add_job: JobFactory
) -> None:
    job = add_job(cron="0 9 * * *", tz="Europe/Berlin")
    path = home.schedules / f"{job.id}.json"
    raw = json.loads(path.read_text())
    raw["tz"] = "Mars/Olympus"
    path.write_text(json.dumps(raw))
    assert store.list() == []
    assert "tz: unknown time zone 'Mars/Olympus'" in store.failures()[0].reason


def test_a_file_whose_name_is_not_its_id_is_rejected(
    home: Home, store: JobStore, add_job: JobFactory
) -> None:
    job = add_job(every="2h")
    (home.schedules / f"{job.id}.json").rename(home.schedules / "copy.json")
    assert store.list() == []
    assert "does not match the job id" in store.failures()[0].reason


def test_a_second_bad_file_with_the_same_name_keeps_both(home: Home, store: JobStore) -> None:
    for _ in range(2):
        (home.schedules).mkdir(exist_ok=True)
        (home.schedules / "junk.json").write_text("junk")
        store.list()
    assert len(store.failures()) == 2


def test_concurrent_changes_are_not_lost(store: JobStore, add_job: JobFactory) -> None:
    """Two processes' worth of read-modify-write on one job: every change survives."""
    job = add_job(every="2h")
    other = JobStore(store.root)  # a second process's view of the same folder

    def bump(which: JobStore) -> None:
        for _ in range(20):
            which.update(job.id, lambda j: j.model_copy(update={"runs": j.runs + 1}))

    threads = [threading.Thread(target=bump, args=(s,)) for s in (store, other, store)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get(job.id).runs == 60


def test_clean_removes_only_stale_temporary_files(store: JobStore, add_job: JobFactory) -> None:
    add_job(every="2h")
    store.tmp.mkdir(exist_ok=True)
    (store.tmp / "left-by-a-crash.tmp").write_text("x")
    assert store.clean(now=datetime.now(UTC).timestamp()) == 0
    assert store.clean(now=datetime.now(UTC).timestamp() + 37 * 3600) == 1
