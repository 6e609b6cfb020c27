"""Rows for ``tinyclaw status`` and ``tinyclaw schedule list``, and their text form.

The scheduler produces :class:`StatusRow` values (data, not text), so the status view,
the command line and tests each render or check them as they need.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.core.home import Home

RowKind = Literal["job", "heartbeat", "failed"]


@dataclass(frozen=True)
class StatusRow:
    """One job, heartbeat or rejected file. ``state`` is one of ``scheduled``,
    ``due``, ``paused``, ``done``, ``idle (no HEARTBEAT.md)``, or a sentence
    starting with ``error:`` or ``failed:``."""

    kind: RowKind
    key: str
    actor: str
    schedule: str
    to: str
    next_run: datetime | None
    last_run: datetime | None
    state: str
    prompt: str = ""


def format_time(value: datetime | None, zone: tzinfo) -> str:
    if value is None:
        return "-"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def _excerpt(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_rows(rows: list[StatusRow], zone: tzinfo) -> str:
    """A plain aligned table (no colour codes: it also goes to logs and pipes)."""
    header = ("ID", "ACTOR", "SCHEDULE", "NEXT RUN", "LAST RUN", "TO", "STATE", "PROMPT")
    table = [header] + [
        (
            row.key,
            row.actor,
            row.schedule,
            format_time(row.next_run, zone),
            format_time(row.last_run, zone),
            row.to,
            row.state,
            _excerpt(row.prompt),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def schedule_lines(home: Home, config: Config | None, now: datetime | None = None) -> list[str]:
    """The ``schedules:`` block of ``tinyclaw status``: every job and heartbeat with
    its next run in the machine's zone, rejected job files, and a job whose actor is
    no longer configured (its runs would only land in ``failed/``)."""
    from tinyclaw.schedule.scheduler import Scheduler  # the scheduler imports this module
    from tinyclaw.schedule.timing import local_zone

    zone = local_zone()
    scheduler = Scheduler.for_home(home, config, local_tz=zone)
    rows = scheduler.status(now)
    if config is not None:
        rows = [
            row
            if row.kind != "job" or row.actor in config.actors
            else replace(row, state=f"error: no actor {row.actor!r} in tinyclaw.toml")
            for row in rows
        ]
    if not rows:
        return ["schedules: none (tinyclaw schedule add, or a heartbeat in tinyclaw.toml)"]
    return ["schedules:"] + ["  " + line for line in format_rows(rows, zone).splitlines()]
