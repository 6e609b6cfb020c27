"""Durations as people write them in a config file or on a command line.

``30s``, ``15m``, ``2h``, ``1d``, ``1w`` and combinations from the largest unit down
(``1h30m``, ``1d 12h``). One small grammar for every place a duration appears
(heartbeat intervals, ``--every``, pairing code lifetimes), so they all accept the same
spellings and fail with the same message.
"""

from __future__ import annotations

import re
from datetime import timedelta

from tinyclaw.core.errors import ConfigError

_UNITS: tuple[tuple[str, int], ...] = (
    ("w", 7 * 86400),
    ("d", 86400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)
# Each unit at most once and in descending order: "30m1h" is more likely a typo than
# a wish, and refusing it keeps the grammar unambiguous.
_DURATION_RE = re.compile(
    r"(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?"
)
MAX_DURATION = timedelta(days=3650)
_EXAMPLES = "e.g. 30s, 15m, 2h, 1d, 1h30m"


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` into a positive timedelta; anything else is a ConfigError that
    quotes the text and shows the accepted spellings."""
    compact = "".join(str(text).split()).lower()
    match = _DURATION_RE.fullmatch(compact)
    if not compact or match is None or not any(match.groups()):
        raise ConfigError(f"{text!r} is not a duration ({_EXAMPLES})")
    seconds = sum(
        int(value) * size
        for value, (_, size) in zip(match.groups(), _UNITS, strict=True)
        if value is not None
    )
    if seconds <= 0:
        raise ConfigError(f"{text!r}: a duration must be longer than zero ({_EXAMPLES})")
    if seconds > MAX_DURATION.total_seconds():
        raise ConfigError(f"{text!r}: a duration can be at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The canonical spelling (``5400s`` → ``1h30m``), for listings and messages."""
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
