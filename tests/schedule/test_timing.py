"""Next-run arithmetic, walked through the calendar with explicit instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tinyclaw.core.errors import ConfigError, ScheduleError
from tinyclaw.schedule.timing import (
    check_cron,
    check_interval,
    local_zone,
    next_cron,
    next_every,
    parse_at,
    parse_zone,
)

from .conftest import BERLIN


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def walk(expr: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    runs = []
    moment = start
    for _ in range(count):
        upcoming = next_cron(expr, zone, moment)
        assert upcoming is not None
        runs.append(upcoming)
        moment = upcoming
    return runs


def test_a_weekday_cron_job_runs_at_nine_berlin_time() -> None:
    # Friday 2026-06-05 10:00 Berlin: the next runs are Monday to Wednesday at 09:00.
    runs = walk("0 9 * * 1-5", BERLIN, utc(2026, 6, 5, 8, 0), 3)
    assert [run.astimezone(BERLIN).strftime("%a %H:%M") for run in runs] == [
        "Mon 09:00",
        "Tue 09:00",
        "Wed 09:00",
    ]
    assert runs[0] == utc(2026, 6, 8, 7, 0)  # CEST is UTC+2


def test_nine_oclock_stays_nine_oclock_across_the_spring_change() -> None:
    runs = walk("0 9 * * *", BERLIN, utc(2026, 3, 28, 0, 0), 2)
    assert runs == [utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0)]  # CET, then CEST
    assert {run.astimezone(BERLIN).hour for run in runs} == {9}


def test_nine_oclock_stays_nine_oclock_across_the_autumn_change() -> None:
    runs = walk("0 9 * * *", BERLIN, utc(2026, 10, 24, 0, 0), 2)
    assert runs == [utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 8, 0)]


def test_a_time_skipped_in_spring_runs_once_an_hour_later() -> None:
    # 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    runs = walk("30 2 * * *", BERLIN, utc(2026, 3, 28, 12, 0), 3)
    local = [run.astimezone(BERLIN).isoformat() for run in runs]
    assert local == [
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_a_time_repeated_in_autumn_runs_once() -> None:
    # 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET; 02:30 happens twice.
    runs = walk("30 2 * * *", BERLIN, utc(2026, 10, 24, 12, 0), 2)
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_from_inside_the_repeated_hour_the_next_run_is_after_it() -> None:
    second_pass = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=BERLIN)  # 02:10 CET
    upcoming = next_cron("0 * * * *", BERLIN, second_pass)
    assert upcoming is not None
    assert upcoming > second_pass
    assert upcoming.astimezone(BERLIN).isoformat() == "2026-10-25T03:00:00+01:00"


def test_the_same_expression_means_different_instants_in_different_zones() -> None:
    start = utc(2026, 1, 10, 0, 0)
    tokyo = next_cron("0 9 * * *", ZoneInfo("Asia/Tokyo"), start)
    new_york = next_cron("0 9 * * *", ZoneInfo("America/New_York"), start)
    assert tokyo == utc(2026, 1, 10, 0, 0) + timedelta(days=1)  # 09:00 JST = 00:00 UTC
    assert new_york == utc(2026, 1, 10, 14, 0)


def test_a_cron_match_is_strictly_after_the_given_moment() -> None:
    assert next_cron("0 9 * * *", UTC, utc(2026, 1, 1, 9, 0)) == utc(2026, 1, 2, 9, 0)


def test_leap_day_jobs_wait_for_the_next_leap_year() -> None:
    assert next_cron("0 0 29 2 *", UTC, utc(2026, 3, 1, 0, 0)) == utc(2028, 2, 29, 0, 0)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("0 9 * *", "five fields"),
        ("0 0 9 * * *", "five fields"),
        ("61 * * * *", "invalid cron expression"),
        ("0 9 * * funday", "invalid cron expression"),
        ("0 0 30 2 *", "never matches"),
        ("", "five fields"),
    ],
)
def test_bad_cron_expressions_are_one_clear_error(expr: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        check_cron(expr)


def test_cron_spacing_and_macros_are_accepted() -> None:
    assert check_cron("  0   9 * *   1-5 ") == "0 9 * * 1-5"
    assert check_cron("@daily") == "@daily"


def test_every_runs_on_a_grid_fixed_at_creation() -> None:
    created = utc(2026, 6, 1, 9, 0)
    two_hours = timedelta(hours=2)
    assert next_every(created, two_hours, created) == utc(2026, 6, 1, 11, 0)
    # A worker that woke a little late does not shift the following slots.
    assert next_every(created, two_hours, utc(2026, 6, 1, 11, 0, 3)) == utc(2026, 6, 1, 13, 0)
    assert next_every(created, two_hours, utc(2026, 6, 1, 13, 0)) == utc(2026, 6, 1, 15, 0)


def test_every_needs_at_least_a_minute() -> None:
    assert check_interval("1m") == timedelta(minutes=1)
    with pytest.raises(ConfigError, match="minimum is 1m"):
        check_interval("30s")


def test_a_naive_at_is_wall_time_in_the_given_zone() -> None:
    assert parse_at("2026-12-01T09:00", BERLIN) == utc(2026, 12, 1, 8, 0)
    assert parse_at("2026-07-01T09:00", BERLIN) == utc(2026, 7, 1, 7, 0)
    assert parse_at("2026-12-01T09:00+05:30", BERLIN) == utc(2026, 12, 1, 3, 30)
    assert parse_at("2026-12-01T09:00Z", BERLIN) == utc(2026, 12, 1, 9, 0)
    with pytest.raises(ConfigError, match="ISO date-time"):
        parse_at("tomorrow at nine", BERLIN)


def test_zones_are_iana_names() -> None:
    assert parse_zone("Europe/Berlin") == BERLIN
    for bad in ["Mars/Olympus", "CEST+2", "../etc/passwd", ""]:
        with pytest.raises(ConfigError, match="unknown time zone"):
            parse_zone(bad)


def test_naive_moments_are_refused_rather_than_guessed() -> None:
    with pytest.raises(ScheduleError, match="no time zone"):
        next_cron("0 9 * * *", BERLIN, datetime(2026, 1, 1, 9, 0))


def test_the_local_zone_follows_tz_with_its_daylight_saving_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    zone = local_zone()
    assert utc(2026, 1, 1, 12, 0).astimezone(zone).utcoffset() == timedelta(hours=1)
    assert utc(2026, 7, 1, 12, 0).astimezone(zone).utcoffset() == timedelta(hours=2)
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_zone() is not None  # falls back to /etc/localtime or UTC
