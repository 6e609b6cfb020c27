"""Heartbeats: the actor checks in on its own, inside its active hours, and stays
quiet when there is nothing to say."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from tinyclaw.config import load_config
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.schedule.durations import parse_duration
from tinyclaw.schedule.heartbeat import (
    HeartbeatLog,
    HeartbeatProblem,
    HeartbeatSpec,
    heartbeats_from_config,
    is_heartbeat_ok,
    next_heartbeat,
    parse_active_hours,
)
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.scheduler import Scheduler
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.schedule.store import JobStore
from tinyclaw.spool import Spool

from .conftest import BERLIN, ManualClock, write_config


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "answer",
    [
        "HEARTBEAT_OK",
        "  HEARTBEAT_OK\n",
        "HEARTBEAT_OK.",
        "**HEARTBEAT_OK**",
        "`HEARTBEAT_OK`",
        '"HEARTBEAT_OK"',
        "heartbeat_ok!",
        "__HEARTBEAT_OK__",
        "«HEARTBEAT_OK»…",
    ],
)
def test_the_token_means_nothing_to_report(answer: str) -> None:
    assert is_heartbeat_ok(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "HEARTBEAT",
        "HEARTBEAT OK",
        "HEARTBEAT_OK, but the disk is 95% full",
        "The build is red.\n\nHEARTBEAT_OK",
        "Not HEARTBEAT_OK",
    ],
)
def test_anything_more_is_a_report(answer: str) -> None:
    assert not is_heartbeat_ok(answer)


def test_active_hours_contain_their_start_but_not_their_end() -> None:
    day = parse_active_hours("08:00-22:00")
    assert str(day) == "08:00-22:00"
    assert day.contains(time(8, 0))
    assert day.contains(time(21, 59, 59))
    assert not day.contains(time(22, 0))
    assert not day.contains(time(7, 59))


def test_active_hours_may_cross_midnight() -> None:
    night = parse_active_hours("22:00-06:00")
    assert night.contains(time(23, 30))
    assert night.contains(time(0, 0))
    assert night.contains(time(5, 59))
    assert not night.contains(time(6, 0))
    assert not night.contains(time(12, 0))
    assert parse_active_hours("00:00-24:00").contains(time(23, 59, 59))


@pytest.mark.parametrize(
    "text", ["8-22", "08:00", "25:00-26:00", "08:60-09:00", "09:00-09:00", "x"]
)
def test_bad_active_hours_are_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="active_hours"):
        parse_active_hours(text)


def spec(tmp_path: Path, hours: str | None = None, every: str = "30m") -> HeartbeatSpec:
    return HeartbeatSpec(
        actor="coder",
        every=parse_duration(every),
        to="telegram:123",
        zone=BERLIN,
        active_hours=parse_active_hours(hours) if hours else None,
        files=(tmp_path / "HEARTBEAT.md",),
    )


def test_a_heartbeat_runs_every_interval_after_the_last(tmp_path: Path) -> None:
    beat = spec(tmp_path)
    now = berlin(2026, 6, 1, 10, 0)
    assert next_heartbeat(beat, None, now) == now  # never ran: now
    assert next_heartbeat(beat, now, now) == now + timedelta(minutes=30)
    # Down for a day: once, right away (not 48 times).
    assert next_heartbeat(beat, now, now + timedelta(days=1)) == now + timedelta(days=1)


def test_outside_active_hours_the_heartbeat_waits_for_the_morning(tmp_path: Path) -> None:
    beat = spec(tmp_path, "08:00-22:00")
    last = berlin(2026, 6, 1, 21, 50)
    assert next_heartbeat(beat, last, last) == berlin(2026, 6, 2, 8, 0)
    assert next_heartbeat(beat, None, berlin(2026, 6, 1, 23, 0)) == berlin(2026, 6, 2, 8, 0)
    assert next_heartbeat(beat, None, berlin(2026, 6, 1, 3, 0)) == berlin(2026, 6, 1, 8, 0)


def test_a_night_window_across_midnight(tmp_path: Path) -> None:
    beat = spec(tmp_path, "22:00-06:00", every="2h")
    assert next_heartbeat(beat, berlin(2026, 6, 1, 23, 0), berlin(2026, 6, 1, 23, 0)) == berlin(
        2026, 6, 2, 1, 0
    )
    last = berlin(2026, 6, 2, 5, 0)  # 07:00 is outside: wait for 22:00 that evening
    assert next_heartbeat(beat, last, last) == berlin(2026, 6, 2, 22, 0)
    assert next_heartbeat(beat, None, berlin(2026, 6, 2, 12, 0)) == berlin(2026, 6, 2, 22, 0)


def test_active_hours_are_wall_time_across_a_dst_change(tmp_path: Path) -> None:
    beat = spec(tmp_path, "08:00-22:00")
    saturday_night = berlin(2026, 3, 28, 23, 0)
    opening = next_heartbeat(beat, None, saturday_night)
    assert opening.astimezone(BERLIN).isoformat() == "2026-03-29T08:00:00+02:00"


HEARTBEAT_CONFIG = """\
[actors.coder]
owner_chat = "telegram:123"

[actors.coder.heartbeat]
every = "30m"
active_hours = "08:00-22:00"

[actors.helper]
owner_chat = "discord:9"

[actors.helper.heartbeat]
every = "2h"
to = "whatsapp:4915100000"

[actors.mute]
[actors.mute.heartbeat]
every = "1h"

[actors.typo]
owner_chat = "telegram:1"
[actors.typo.heartbeat]
every = "often"
"""


def heartbeat_scheduler(home: Home, clock: ManualClock) -> Scheduler:
    write_config(home, HEARTBEAT_CONFIG)
    return Scheduler.for_home(home, load_config(home), clock, local_tz=BERLIN)


def test_heartbeat_settings_come_from_the_config(home: Home) -> None:
    write_config(home, HEARTBEAT_CONFIG)
    items = {item.actor: item for item in heartbeats_from_config(load_config(home), home, BERLIN)}
    coder, helper = items["coder"], items["helper"]
    assert isinstance(coder, HeartbeatSpec) and isinstance(helper, HeartbeatSpec)
    assert coder.to == "telegram:123"  # the owner chat
    assert helper.to == "whatsapp:4915100000"  # its own target wins
    assert coder.files[0] == home.actor_dir("coder") / "HEARTBEAT.md"
    assert isinstance(items["mute"], HeartbeatProblem)
    assert "no target" in items["mute"].reason
    assert isinstance(items["typo"], HeartbeatProblem)
    assert "'often' is not a duration" in items["typo"].reason


def test_without_heartbeat_md_there_is_nothing_to_check(home: Home, clock: ManualClock) -> None:
    scheduler = heartbeat_scheduler(home, clock)
    assert scheduler.due() == []
    assert scheduler.next_wakeup() is None
    rows = {row.key: row for row in scheduler.status()}
    assert rows["heartbeat:coder"].state == "idle (no HEARTBEAT.md)"
    assert rows["heartbeat:mute"].state.startswith("error: actors.mute.heartbeat: no target")


def test_a_heartbeat_runs_in_its_own_session_and_can_stay_quiet(
    home: Home, clock: ManualClock
) -> None:
    scheduler = heartbeat_scheduler(home, clock)
    home.actor_dir("coder").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("coder") / "HEARTBEAT.md").write_text("- Is CI green?\n")

    [run] = scheduler.due()  # 09:00 Berlin, inside the active hours, never ran
    assert (run.key, run.kind, run.actor, run.to) == (
        "heartbeat:coder",
        "heartbeat",
        "coder",
        "telegram:123",
    )
    assert "- Is CI green?" in run.prompt and "HEARTBEAT_OK" in run.prompt
    assert run.conversation == "heartbeat"
    assert run.to_inbound().kind == "heartbeat"
    assert not run.should_deliver("HEARTBEAT_OK")
    assert run.should_deliver("CI has been red since 07:12.")

    scheduler.mark_ran(run)
    assert scheduler.due() == []
    assert scheduler.next_wakeup() == clock.now() + timedelta(minutes=30)

    clock.set(datetime(2026, 6, 1, 20, 45, tzinfo=UTC))  # 22:45 Berlin: closed
    assert scheduler.due() == []
    assert scheduler.next_wakeup() == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)


def test_the_workspace_may_hold_the_checklist(home: Home, clock: ManualClock) -> None:
    scheduler = heartbeat_scheduler(home, clock)
    workspace = home.actor_dir("helper") / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "HEARTBEAT.md").write_text("Check the mailbox.")
    assert [run.key for run in scheduler.due()] == ["heartbeat:helper"]


def test_heartbeat_state_survives_a_restart_and_a_corrupt_file(
    home: Home, clock: ManualClock
) -> None:
    scheduler = heartbeat_scheduler(home, clock)
    home.actor_dir("coder").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("coder") / "HEARTBEAT.md").write_text("- check")
    scheduler.mark_ran(scheduler.due()[0])

    restarted = Scheduler.for_home(home, load_config(home), clock, local_tz=BERLIN)
    assert restarted.due() == []

    (home.state / "heartbeats" / "coder.json").write_text("{garbage")
    assert HeartbeatLog.for_home(home).last_run("coder") is None
    assert [run.key for run in restarted.due()] == ["heartbeat:coder"]


def test_jobs_and_heartbeats_share_one_wakeup(home: Home, clock: ManualClock) -> None:
    scheduler = heartbeat_scheduler(home, clock)
    home.actor_dir("coder").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("coder") / "HEARTBEAT.md").write_text("- check")
    scheduler.mark_ran(scheduler.due()[0])
    JobStore.for_home(home).add(
        build_job(
            actor="coder",
            to="telegram:123",
            prompt="news",
            now=clock.now(),
            local_tz=BERLIN,
            every="10m",
        )
    )
    assert scheduler.next_wakeup() == clock.now() + timedelta(minutes=10)


CRASHING_TICK = """
import sys, time
from pathlib import Path
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.schedule.service import SchedulerService
from tinyclaw.spool import Spool
home = Home(Path(sys.argv[1]))
SchedulerService(home, load_config(home), Spool(home)).tick(time.time())
"""


def test_a_kill_between_queueing_and_recording_does_not_run_a_heartbeat_twice(
    home: Home,
) -> None:
    """An overdue heartbeat's slot is "now": were it not stored before queueing, the
    restart would make a new slot, a new id, and run the heartbeat a second time."""
    write_config(home, HEARTBEAT_CONFIG.replace('active_hours = "08:00-22:00"\n', ""))
    home.actor_dir("coder").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("coder") / "HEARTBEAT.md").write_text("- check")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_TICK, str(home.root)],
        env={**os.environ, "TINYCLAW_FAILPOINT": "schedule.queued"},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    spool = Spool(home)
    [queued] = spool.list_box(spool.incoming)
    assert HeartbeatLog.for_home(home).last_run("coder") is None  # never recorded

    restarted = SchedulerService(home, load_config(home), spool)
    restarted.tick(datetime.now(UTC).timestamp() + 90)  # later: "now" is another slot by then
    assert spool.list_box(spool.incoming) == [queued]  # the same run, not a second one
    assert HeartbeatLog.for_home(home).last_run("coder") is not None
    assert HeartbeatLog.for_home(home).planned("coder") is None
