"""The worker's view: what is due now, mark it as run, when to wake up next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, dump, load_inbound
from tinyclaw.schedule.scheduler import Scheduler
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

from .conftest import BERLIN, JobFactory, ManualClock


def make_scheduler(store: JobStore, clock: ManualClock) -> Scheduler:
    return Scheduler(store, clock, local_tz=BERLIN)


def test_an_every_job_is_due_once_per_interval(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="2h")
    scheduler = make_scheduler(store, clock)
    assert scheduler.due() == []
    assert scheduler.next_wakeup() == clock.now() + timedelta(hours=2)

    clock.advance(timedelta(hours=2))
    [run] = scheduler.due()
    assert (run.key, run.actor, run.to, run.prompt) == (job.id, "coder", "telegram:123", job.prompt)
    scheduler.mark_ran(run)
    assert scheduler.due() == []
    assert scheduler.next_wakeup() == clock.now() + timedelta(hours=2)
    assert store.get(job.id).runs == 1
    assert store.get(job.id).last_run == clock.now()


def test_the_worker_can_sleep_exactly_until_a_cron_job_is_due(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    # 2026-06-01 is a Monday; the clock shows 09:00 Berlin, so 09:30 is next.
    add_job(cron="30 9 * * 1-5", tz="Europe/Berlin")
    scheduler = make_scheduler(store, clock)
    wake = scheduler.next_wakeup()
    assert wake == datetime(2026, 6, 1, 7, 30, tzinfo=UTC)
    assert scheduler.due(wake - timedelta(seconds=1)) == []
    assert len(scheduler.due(wake)) == 1


def test_a_daily_job_missed_for_three_days_runs_once(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(cron="0 10 * * *", tz="Europe/Berlin")
    scheduler = make_scheduler(store, clock)
    # The worker is down from Monday 09:00 until Thursday 12:00 (Berlin).
    back = clock.set(datetime(2026, 6, 4, 10, 0, tzinfo=UTC))
    due = scheduler.due()
    assert [run.key for run in due] == [job.id]
    assert due[0].scheduled_for == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # the first missed
    scheduler.mark_ran(due[0], back)
    assert scheduler.due() == []
    # Next is Friday 10:00 Berlin, not another of the missed days.
    assert store.get(job.id).next_run == datetime(2026, 6, 5, 8, 0, tzinfo=UTC)


def test_an_interval_job_missed_for_three_days_runs_once(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="1h")
    scheduler = make_scheduler(store, clock)
    clock.advance(timedelta(days=3, minutes=20))
    assert len(scheduler.due()) == 1
    scheduler.mark_ran(scheduler.due()[0])
    assert scheduler.due() == []
    assert store.get(job.id).next_run == job.created_at + timedelta(days=3, hours=1)


def test_an_at_job_runs_once_and_is_then_done(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(at="2026-06-01T12:00", tz="Europe/Berlin")
    assert job.next_run == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    scheduler = make_scheduler(store, clock)
    assert scheduler.next_wakeup() == job.next_run
    clock.set(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    [run] = scheduler.due()
    scheduler.mark_ran(run)
    finished = store.get(job.id)
    assert finished.done and finished.next_run is None and finished.runs == 1
    clock.advance(timedelta(days=30))
    assert scheduler.due() == []
    assert scheduler.next_wakeup() is None


def test_an_at_job_whose_time_passed_while_down_runs_once_at_start_up(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(at="2026-06-01T12:00", tz="Europe/Berlin")
    clock.advance(timedelta(days=5))  # the machine was off
    restarted = make_scheduler(store, clock)
    [run] = restarted.due()
    assert run.key == job.id
    restarted.mark_ran(run)
    assert restarted.due() == []
    assert store.get(job.id).done


def test_a_cron_job_keeps_local_time_across_the_spring_change(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    add_job(cron="0 9 * * *", tz="Europe/Berlin")
    scheduler = make_scheduler(store, clock)
    seen = []
    for _ in range(3):
        wake = scheduler.next_wakeup()
        assert wake is not None
        clock.set(wake)
        [run] = scheduler.due()
        scheduler.mark_ran(run)
        seen.append(run.scheduled_for.astimezone(BERLIN).isoformat())
    assert seen == [
        "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00",
        "2026-03-30T09:00:00+02:00",
    ]


def test_a_cron_job_without_a_zone_follows_the_machines_zone(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    add_job(cron="0 12 * * *")
    assert make_scheduler(store, clock).next_wakeup() == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    in_utc = Scheduler(store, clock, local_tz=UTC)
    assert in_utc.status()[0].schedule == "cron 0 12 * * * (local time)"


def test_a_paused_job_is_never_due_until_resumed(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="1h")
    scheduler = make_scheduler(store, clock)
    store.pause(job.id)
    clock.advance(timedelta(hours=5))
    assert scheduler.due() == []
    assert scheduler.next_wakeup() is None
    store.resume(job.id, clock.now(), BERLIN)
    assert scheduler.due() == []  # the paused slots are skipped
    assert scheduler.next_wakeup() == job.created_at + timedelta(hours=6)


def test_a_removed_job_is_gone_and_marking_it_is_harmless(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="1h")
    scheduler = make_scheduler(store, clock)
    clock.advance(timedelta(hours=1))
    [run] = scheduler.due()
    store.remove(job.id)  # `tinyclaw schedule rm` while the run is being queued
    scheduler.mark_ran(run)
    assert scheduler.due() == []
    assert store.list() == []


def test_marking_the_same_run_twice_does_not_skip_a_slot(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="1h")
    scheduler = make_scheduler(store, clock)
    clock.advance(timedelta(hours=1))
    [run] = scheduler.due()
    scheduler.mark_ran(run)
    scheduler.mark_ran(run)
    assert store.get(job.id).runs == 1
    assert store.get(job.id).next_run == job.created_at + timedelta(hours=2)


def test_a_due_run_becomes_a_queue_message_for_the_actor(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    job = add_job(every="1h", to="discord:42")
    clock.advance(timedelta(hours=1))
    [run] = make_scheduler(store, clock).due()
    message = run.to_inbound()
    assert isinstance(message, Inbound)
    assert (message.channel, message.chat_id, message.actor) == ("discord", "42", "coder")
    assert message.kind == "schedule"
    assert message.text == job.prompt
    assert message.conversation == f"schedule:{job.id}"  # never the user's session
    assert load_inbound(dump(message)) == message
    assert run.run_id == f"job-{job.id}-20260601T080000Z"
    assert run.should_deliver("Three new issues.")
    assert not run.should_deliver("   ")


def test_status_shows_the_next_run_of_every_job(
    store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    daily = add_job(cron="0 10 * * *", tz="Europe/Berlin")
    hourly = add_job(every="1h")
    paused = add_job(every="1d")
    store.pause(paused.id)
    (store.root / "junk.json").write_text("junk")
    rows = {row.key: row for row in make_scheduler(store, clock).status()}
    assert rows[daily.id].next_run == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert rows[daily.id].state == "scheduled"
    assert rows[hourly.id].schedule == "every 1h"
    assert rows[paused.id].state == "paused"
    assert rows["junk.json"].state.startswith("failed: not valid UTF-8 JSON")


def test_nothing_scheduled_means_no_wakeup(store: JobStore, clock: ManualClock) -> None:
    assert make_scheduler(store, clock).next_wakeup() is None
    assert make_scheduler(store, clock).due() == []


def test_a_crash_between_queueing_and_marking_does_not_double_the_run(
    home: Home, store: JobStore, add_job: JobFactory, clock: ManualClock
) -> None:
    add_job(every="1h")
    spool = Spool(home, durable=False)
    clock.advance(timedelta(hours=1))
    [run] = make_scheduler(store, clock).due()
    assert spool.put(run.to_inbound(), dedupe_key=run.run_id) is not None
    # ... the worker dies here, before mark_ran; after the restart:
    clock.advance(timedelta(minutes=3))
    restarted = make_scheduler(store, clock)
    [again] = restarted.due()
    assert again.run_id == run.run_id
    assert spool.put(again.to_inbound(), dedupe_key=again.run_id) is None
    restarted.mark_ran(again)
    assert restarted.due() == []
    assert len(Spool.list_box(spool.incoming)) == 1
