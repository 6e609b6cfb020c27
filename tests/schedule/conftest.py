"""Fixtures for the scheduling tests: a clock the test moves by hand, a store in the
isolated home, helpers to write a configuration, and the real-CLI fixtures
(``anthropic_fake``, ``claude_settings``) for the end-to-end stories. Times are chosen
in UTC and checked in the zone the story is about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.cli_fixtures import *  # noqa: F403  (the real CLIs against loopback fakes)
from tinyclaw.core.home import Home
from tinyclaw.schedule.models import Job, build_job
from tinyclaw.schedule.store import JobStore

BERLIN = ZoneInfo("Europe/Berlin")


class ManualClock:
    """``time.time`` for tests: it stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> float:
        return self.current.timestamp()

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current

    def set(self, moment: datetime) -> datetime:
        self.current = moment
        return moment


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 1, 7, 0, tzinfo=UTC))  # 09:00 in Berlin (CEST)


@pytest.fixture
def store(home: Home) -> JobStore:
    return JobStore.for_home(home)


JobFactory = Callable[..., Job]


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


CONFIG = """\
[actors.coder]
runner = "claude"
owner_chat = "telegram:123"

[actors.helper]
runner = "codex"
"""


def write_config(home: Home, text: str = CONFIG) -> None:
    home.config_file.write_text(text, encoding="utf-8")
