"""Pure next-run arithmetic: no files, no clock of its own.

Every function takes the moment it reasons about (``after``, ``now``) as an argument,
so tests can walk a job through years of calendar in microseconds. All returned
instants are timezone-aware UTC; wall-clock reasoning happens only inside, in the
job's zone.

Cron in a zone with daylight saving time follows what people expect of their alarm
clock, not what a naive UTC conversion would do:

* cron fields are matched against the *wall clock* of the job's zone (``0 9 * * *``
  in Europe/Berlin is 09:00 in Berlin in winter and in summer);
* a wall time skipped by the spring change (02:30 on the last Sunday of March in
  Berlin) runs once, shifted by the size of the gap (03:30 CEST), as PEP 495 maps it;
* a wall time that happens twice in autumn runs once, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tinyclaw.core import ConfigError, ScheduleError, parse_duration

if TYPE_CHECKING:
    from tinyclaw.schedule.jobs import Job

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time`` (the clock every tinyclaw part takes)."""

MIN_INTERVAL = timedelta(minutes=1)
# A fold repeats at most an hour of minutes; this bounds the walk past candidates that
# lie before ``after`` in absolute time (only possible inside an autumn fold).
_MAX_CRON_STEPS = 2000


def from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def aware_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is a programming error (which zone was it?)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone such as ``Europe/Berlin``; anything else is a ConfigError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from None


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of a naive wall-clock time in ``zone``: the first occurrence
    when it is ambiguous, shifted forward by the gap when it does not exist."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def check_cron(expr: str) -> str:
    """Validate a five-field cron expression (or ``@daily``-style macro) and return it
    with normalized spacing.

    Six- and seven-field forms are refused: croniter reads the extra field as
    seconds, and a job that can fire every second is never what was meant.
    """
    # croniter (and dateutil under it) is imported where a cron expression is read:
    # a worker without cron jobs starts without it.
    from croniter import CroniterBadDateError, CroniterError, croniter

    normalized = " ".join(expr.split())
    fields = normalized.split(" ")
    if not normalized or (len(fields) != 5 and not normalized.startswith("@")):
        raise ConfigError(
            f"invalid cron expression {expr!r}: expected five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9 * * 1-5'"
        )
    try:
        croniter(normalized, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ConfigError(f"cron expression {expr!r} never matches a date") from None
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"invalid cron expression {expr!r}: {exc}") from None
    return normalized


def next_cron(expr: str, zone: tzinfo, after: datetime) -> datetime | None:
    """The first instant strictly after ``after`` whose wall time in ``zone`` matches
    ``expr``; None if the expression never matches again."""
    from croniter import CroniterBadDateError, croniter

    after = aware_utc(after)
    wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
    # croniter walks naive wall time, so its own DST handling never comes into play;
    # we map each candidate to an instant ourselves.
    iterator = croniter(expr, wall)
    for _ in range(_MAX_CRON_STEPS):
        try:
            candidate = iterator.get_next(datetime)
        except CroniterBadDateError:
            return None
        instant = wall_to_instant(candidate, zone)
        if instant > after:
            return instant
    return None


def check_interval(text: str) -> timedelta:
    """An ``every`` interval: a duration of at least a minute (cron's granularity;
    anything shorter would queue runs faster than an actor can answer them)."""
    interval = parse_duration(text)
    if interval < MIN_INTERVAL:
        raise ConfigError(f"interval {text!r} is too short: the minimum is 1m")
    return interval


def next_every(anchor: datetime, interval: timedelta, after: datetime) -> datetime:
    """The first ``anchor + k * interval`` (k ≥ 1) strictly after ``after``.

    Slots sit on a grid fixed by the anchor (the job's creation), so a worker that
    wakes a few milliseconds late does not push every later run back by as much.
    """
    anchor, after = aware_utc(anchor), aware_utc(after)
    first = anchor + interval
    if after < first:
        return first
    return anchor + ((after - anchor) // interval + 1) * interval


def parse_at(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date-time; a naive one is wall time in ``zone``. Returns UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ConfigError(
            f"{text!r} is not an ISO date-time (e.g. 2026-12-01T09:00 or 2026-12-01T09:00+01:00)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        return wall_to_instant(value, zone)
    return value.astimezone(UTC)


def job_zone(job: Job, local_tz: tzinfo) -> tzinfo:
    """A job without ``tz`` follows the machine's zone, as system cron does."""
    return ZoneInfo(job.tz) if job.tz else local_tz


def first_run(job: Job, local_tz: tzinfo) -> datetime | None:
    """When a newly created job runs first (None: never)."""
    if job.kind == "cron":
        return next_cron(job.expr, job_zone(job, local_tz), job.created_at)
    if job.kind == "every":
        return aware_utc(job.created_at) + parse_duration(job.expr)
    return parse_at(job.expr, job_zone(job, local_tz))


def following_run(job: Job, after: datetime, local_tz: tzinfo) -> datetime | None:
    """The first slot of ``job`` strictly after ``after``; None for a one-shot ``at``
    job, which has no second slot."""
    if job.kind == "cron":
        return next_cron(job.expr, job_zone(job, local_tz), after)
    if job.kind == "every":
        return next_every(job.created_at, parse_duration(job.expr), after)
    return None
