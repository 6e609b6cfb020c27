"""Durations read the same everywhere: config, --every, heartbeats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tinyclaw.core.errors import ConfigError
from tinyclaw.schedule.durations import format_duration, parse_duration
from tinyclaw.schedule.targets import parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1d 12h ", timedelta(days=1, hours=12)),
        ("90M", timedelta(minutes=90)),
    ],
)
def test_people_write_durations_with_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "h", "2 hours", "30m1h", "1.5h", "-5m", "1h1h", "0m"])
def test_anything_else_is_one_clear_error(text: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_duration(text)
    assert repr(text) in str(error.value)
    assert "30s" in str(error.value) or "zero" in str(error.value)


def test_absurdly_long_durations_are_refused() -> None:
    with pytest.raises(ConfigError, match="at most"):
        parse_duration("999999w")


def test_durations_print_in_their_canonical_form() -> None:
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(parse_duration("1d 0h 5s")) == "1d5s"


def test_a_target_names_a_known_channel_and_a_chat() -> None:
    target = parse_target("telegram:-1001234")
    assert (target.channel, target.chat_id) == ("telegram", "-1001234")
    assert str(parse_target("cli:local")) == "cli:local"
    for bad in ["telegram", "sms:123", "telegram:", "telegram:12 3", "Telegram:1", "discord:a/b"]:
        with pytest.raises(ConfigError, match="channel:chat_id"):
            parse_target(bad)
