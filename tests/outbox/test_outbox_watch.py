"""The worker watches the actors' outbox and schedules folders: a file an actor writes
there is handled when it lands, not at the next timed scan.

The worker here scans once an hour. The first file may still be caught by its
start-up pass; the second lands while the worker sleeps, so only the file event can
explain its being handled."""

from __future__ import annotations

from tests.schedule.running import outgoing, worker_with_services, write_file
from tests.worker.conftest import fake_cli_config, wait_for, write_config
from tinyclaw.home import Home
from tinyclaw.schedule.store import JobStore

from .conftest import ACTORS, drop, workspace

HOURLY = 3600.0


def test_an_outbox_file_is_delivered_when_it_lands(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS, scan_interval=HOURLY))
    with worker_with_services(home):
        for n, text in enumerate(["The build is green.", "The deploy is done."], 1):
            drop(home, f"note-{n}.json", {"text": text})
            wait_for(lambda n=n: len(outgoing(home, "telegram")) == n, what=f"notice {n}")
        notices = sorted(outgoing(home, "telegram"), key=lambda r: r.text)
        assert [(r.chat_id, r.kind, r.text) for r in notices] == [
            ("1001", "notice", "The build is green."),
            ("1001", "notice", "The deploy is done."),
        ]
        # Sent at once, taken out once nothing can be writing them (the settle time).
        wait_for(
            lambda: list((workspace(home) / "outbox").iterdir()) == [],
            timeout=30,
            what="the sent notes to leave the outbox",
        )


def test_a_schedule_file_is_imported_when_it_lands(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS, scan_interval=HOURLY))
    folder = workspace(home) / "schedules"
    with worker_with_services(home):
        for n, prompt in enumerate(["Stand-up notes", "Weekly review"], 1):
            write_file(folder / f"job-{n}.json", {"every": "1d", "prompt": prompt})
            wait_for(lambda n=n: len(JobStore.for_home(home).list()) == n, what=f"job {n}")
    jobs = JobStore.for_home(home).list()
    assert sorted((job.actor, job.to, job.prompt) for job in jobs) == [
        ("coder", "telegram:1001", "Stand-up notes"),
        ("coder", "telegram:1001", "Weekly review"),
    ]
