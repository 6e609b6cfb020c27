"""``tinyclaw status`` shows the next run of every job and heartbeat, and what is
wrong with the ones that cannot run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.schedule.models import build_job
from tinyclaw.schedule.status import schedule_lines
from tinyclaw.schedule.store import JobStore

from .conftest import BERLIN, ManualClock, write_config

CONFIG = """\
[actors.coder]
owner_chat = "telegram:123"

[actors.coder.heartbeat]
every = "30m"
active_hours = "08:00-22:00"

[actors.helper]
owner_chat = "telegram:123"

[actors.helper.heartbeat]
every = "1h"
"""


@pytest.fixture(autouse=True)
def _berlin_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")


def _scheduled_home(home: Home, clock: ManualClock) -> str:
    write_config(home, CONFIG)
    home.actor_dir("coder").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("coder") / "HEARTBEAT.md").write_text("- is CI green?\n")
    store = JobStore.for_home(home)
    job = store.add(
        build_job(
            actor="coder",
            to="telegram:123",
            prompt="Summarise the open pull requests",
            now=clock.now(),
            local_tz=BERLIN,
            cron="0 9 * * 1-5",
            tz="Europe/Berlin",
        )
    )
    store.add(
        build_job(
            actor="ghost",
            to="telegram:123",
            prompt="boo",
            now=clock.now(),
            local_tz=BERLIN,
            every="1h",
            job_id="ghost-job",
        )
    )
    return job.id


def test_every_job_and_heartbeat_with_its_next_run(home: Home, clock: ManualClock) -> None:
    job_id = _scheduled_home(home, clock)

    lines = schedule_lines(home, load_config(home), now=clock.now())

    assert lines[0] == "schedules:"
    assert lines[1].split()[:4] == ["ID", "ACTOR", "SCHEDULE", "NEXT"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "2026-06-02 09:00 CEST" in rows[job_id]  # Tuesday 09:00 in Berlin
    assert "scheduled" in rows[job_id]
    assert "heartbeat every 30m, 08:00-22:00" in rows["heartbeat:coder"]
    assert "2026-06-01 09:00 CEST" in rows["heartbeat:coder"] and "due" in rows["heartbeat:coder"]
    assert "idle (no HEARTBEAT.md)" in rows["heartbeat:helper"]
    assert "error: no actor 'ghost' in tinyclaw.toml" in rows["ghost-job"]


def test_nothing_scheduled_says_how_to_schedule(home: Home) -> None:
    write_config(home, "[actors.coder]\n")
    assert schedule_lines(home, load_config(home)) == [
        "schedules: none (tinyclaw schedule add, or a heartbeat in tinyclaw.toml)"
    ]


def test_tinyclaw_status_ends_with_the_schedules(home: Home, clock: ManualClock) -> None:
    job_id = _scheduled_home(home, clock)
    result = subprocess.run(
        [sys.executable, "-m", "tinyclaw", "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/nonexistent"},  # files only, no tmux
        check=False,
    )
    assert result.returncode == 3, result.stderr  # nothing runs: exit 3 ("stopped")
    schedules = result.stdout.split("schedules:\n", 1)[1]
    assert job_id in schedules and "heartbeat:coder" in schedules
