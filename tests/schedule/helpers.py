"""The scheduling tests' clock, time zone and configuration. Times are chosen in UTC
and checked in the zone the story is about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tinyclaw.core.home import Home
from tinyclaw.schedule.jobs import Job

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


JobFactory = Callable[..., Job]

CONFIG = """\
[actors.coder]
runner = "claude"
owner_chat = "telegram:123"

[actors.helper]
runner = "codex"
"""


def write_config(home: Home, text: str = CONFIG) -> None:
    home.config_file.write_text(text, encoding="utf-8")
