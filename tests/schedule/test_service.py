"""The scheduler inside the worker: due runs become queue messages, go to the actor,
and the answers reach the target chat; an actor schedules itself with a file."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from tests.worker.conftest import fake_cli_config, wait_for, write_config
from tinyclaw.actors.shared import SETTLE_SECONDS
from tinyclaw.cli.app import app
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_inbound
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

from .conftest import BERLIN, ManualClock
from .running import OffsetClock, events, outgoing, worker_with_services, write_file

ACTORS: dict[str, dict[str, object]] = {
    "assistant": {},
    "coder": {"owner_chat": "telegram:1001", "may_message": ["discord:55"]},
}


def service(home: Home, clock: ManualClock) -> SchedulerService:
    return SchedulerService(home, load_config(home), Spool(home), clock=clock, local_tz=BERLIN)


def queued(home: Home) -> list[str]:
    spool = Spool(home)
    return [load_inbound(p.read_bytes()).id for p in spool.list_box(spool.incoming)]


def test_an_every_job_runs_through_the_queue_and_answers_the_target_chat(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS))
    added = CliRunner().invoke(
        app,
        ["schedule", "add", "--actor", "coder", "--every", "1m", "--to", "telegram:1001",
         "Any new issues?"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    match = re.match(r"added (\S+):", added.stdout)
    assert match
    job_id = match.group(1)
    clock = OffsetClock()
    with worker_with_services(home, clock) as worker:
        clock.advance(61)  # a minute later
        worker.wake.set()
        wait_for(lambda: outgoing(home, "telegram"), what="the job's answer in outgoing/telegram")
    [reply] = outgoing(home, "telegram")
    assert (reply.chat_id, reply.actor, reply.kind) == ("1001", "coder", "reply")
    assert reply.text == "echo: [tinyclaw job via telegram]\n\nAny new issues?"
    assert reply.id.startswith(f"job-{job_id}-")

    [routed] = [e for e in events(home, "routed") if e["id"] == reply.id]
    assert routed["actor"] == "coder"  # through the queue, to the job's actor
    [run] = [e for e in events(home, "run.start") if e["id"] == reply.id]
    assert run["conversation"] == f"schedule:{job_id}"  # never the user's session
    job = JobStore.for_home(home).get(job_id)
    assert job.runs == 1 and job.next_run is not None and job.last_run is not None
    assert job.next_run - job.last_run <= timedelta(minutes=1)


def test_a_due_run_is_queued_once_and_the_service_sleeps_until_the_next(
    home: Home, clock: ManualClock
) -> None:
    write_config(home, fake_cli_config(ACTORS))
    job = JobStore.for_home(home).add(
        build_job(
            actor="coder",
            to="telegram:1001",
            prompt="news?",
            now=clock.now(),
            local_tz=BERLIN,
            every="10m",
        )
    )
    scheduler = service(home, clock)
    first_slot = clock.now() + timedelta(minutes=10)
    assert scheduler.tick(clock()) == first_slot.timestamp()
    assert queued(home) == []

    clock.advance(timedelta(minutes=10))
    assert scheduler.tick(clock()) == (first_slot + timedelta(minutes=10)).timestamp()
    [message_id] = queued(home)
    [message] = [load_inbound(p.read_bytes()) for p in Spool(home).list_box(Spool(home).incoming)]
    assert (message.actor, message.channel, message.chat_id) == ("coder", "telegram", "1001")
    assert message.kind == "schedule" and message.conversation == f"schedule:{job.id}"

    clock.advance(timedelta(seconds=5))
    scheduler.tick(clock())
    assert queued(home) == [message_id]  # not twice


def test_a_crash_between_queueing_and_marking_does_not_double_the_run(
    home: Home, clock: ManualClock
) -> None:
    write_config(home, fake_cli_config(ACTORS))
    JobStore.for_home(home).add(
        build_job(
            actor="coder",
            to="telegram:1001",
            prompt="news?",
            now=clock.now(),
            local_tz=BERLIN,
            every="10m",
        )
    )
    clock.advance(timedelta(minutes=10))
    before_crash = service(home, clock)
    [run] = before_crash.scheduler.due()
    Spool(home).put(run.to_inbound(), dedupe_key=run.run_id)  # ... and the worker died here

    after_restart = service(home, clock)
    after_restart.tick(clock())
    assert queued(home) == [run.run_id]
    assert JobStore.for_home(home).get(run.key).runs == 1


def test_an_actor_schedules_itself_with_a_file_but_only_to_chats_it_may_reach(
    home: Home, clock: ManualClock
) -> None:
    write_config(home, fake_cli_config(ACTORS))
    scheduler = service(home, clock)  # creates the schedules/ folder
    folder = home.actor_dir("coder") / "workspace" / "schedules"
    assert folder.is_dir()
    write_file(folder / "standup.json", {"cron": "0 9 * * 1-5", "prompt": "Stand-up notes"})
    write_file(folder / "discord.json", {"every": "1h", "to": "discord:55", "prompt": "Ping"})
    write_file(folder / "stranger.json", {"every": "1h", "to": "telegram:666", "prompt": "Spam"})

    scheduler.tick(clock())

    jobs = {job.prompt: job for job in JobStore.for_home(home).list()}
    assert set(jobs) == {"Stand-up notes", "Ping"}
    assert jobs["Stand-up notes"].to == "telegram:1001"  # the owner chat by default
    assert jobs["Ping"].to == "discord:55"  # may_message
    assert all(job.created_by == "actor" for job in jobs.values())
    # The files leave once nothing can still be writing them (the settle time).
    clock.set(datetime.fromtimestamp(time.time() + SETTLE_SECONDS + 1, UTC))
    scheduler.tick(clock())
    assert len(JobStore.for_home(home).list()) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["failed"]
    reason = (folder / "failed" / "stranger.json.reason").read_text()
    assert "'telegram:666' is not allowed" in reason


def test_the_worker_builds_the_services_and_imports_actor_jobs(home: Home) -> None:
    write_config(home, fake_cli_config(ACTORS))
    with worker_with_services(home):
        folder = home.actor_dir("coder") / "workspace" / "schedules"
        write_file(folder / "later.json", {"every": "2h", "prompt": "Look around"})
        wait_for(lambda: JobStore.for_home(home).list(), what="the actor's job imported")
    [job] = JobStore.for_home(home).list()
    assert (job.actor, job.to, job.created_by) == ("coder", "telegram:1001", "actor")
    [added] = events(home, "schedule.added")
    assert added["job"] == job.id
