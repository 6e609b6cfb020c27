"""Fixtures for the scheduling tests: a clock the test moves by hand and a store in
the isolated home (the real-CLI fixtures come from ``tests.fakes.cli_fixtures``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tinyclaw.core.home import Home
from tinyclaw.schedule.jobs import Job, build_job
from tinyclaw.schedule.store import JobStore

from .helpers import BERLIN, JobFactory, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 1, 7, 0, tzinfo=UTC))  # 09:00 in Berlin (CEST)


@pytest.fixture
def store(home: Home) -> JobStore:
    return JobStore.for_home(home)


@pytest.fixture
def add_job(store: JobStore, clock: ManualClock) -> JobFactory:
    """Add a job the way the command line does, created at the clock's now."""

    def add(**kwargs: object) -> Job:
        params: dict[str, object] = {
            "actor": "coder",
            "to": "telegram:123",
            "prompt": "What happened on GitHub?",
            "now": clock.now(),
            "local_tz": BERLIN,
        }
        params.update(kwargs)
        job = build_job(**params)  # type: ignore[arg-type]
        return store.add(job)

    return add
