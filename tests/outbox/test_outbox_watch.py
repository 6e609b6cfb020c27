"""The worker watches the actors' outbox and schedules folders: a file an actor writes
there is handled when it lands, not at the next timed scan.

The worker here scans once an hour. The first file may still be caught by its
start-up pass; the second lands while the worker sleeps, so only the file event can
explain its being handled."""

from __future__ import annotations

import time

from tests.schedule.running import outgoing, worker_with_services, write_file
from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_process,
    write_config,
)
from tinyclaw.actors.shared import SETTLE_SECONDS
from tinyclaw.core.home import Home
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

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


def test_the_worker_process_sends_a_note_mid_run_and_takes_the_file_after_the_run(
    home: Home,
) -> None:
    """``tinyclaw worker`` as the launcher starts it: a note the CLI writes while it
    works goes out at once, and its file stays put for as long as the run lasts, even
    past the settle time."""
    write_config(
        home,
        fake_cli_config(
            ACTORS, env={"FAKE_CLI_WRITE": "outbox/progress.json", "FAKE_CLI_SLEEP": "10"}
        ),
    )
    note = workspace(home) / "outbox" / "progress.json"
    asked = message("@coder Build started, back soon.")
    answer = Spool(home).outgoing("cli") / f"{asked.id}.json"
    with worker_process(home):
        Spool(home).put(asked)
        wait_for(lambda: outgoing(home, "telegram"), 30, "the note, sent mid-run")
        written = note.stat().st_mtime
        wait_for(lambda: time.time() > written + SETTLE_SECONDS + 1, 30, "the settle time")
        assert note.exists() and not answer.exists()  # the run goes on: the file stays
        reply_for(home, asked, 60)
        wait_for(lambda: not note.exists(), 30, "the file to leave once the run ended")
    [sent] = outgoing(home, "telegram")
    assert sent.kind == "notice" and "Build started" in sent.text
