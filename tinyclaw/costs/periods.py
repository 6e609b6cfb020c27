"""Today and this month, as spend limits and reports count them.

Both are counted in the host's local time zone (``$TZ`` when it names a zone, else
``/etc/localtime``, else UTC): the owner runs the host, and "today" should end at
their midnight, not at UTC's. Every answer that names a reset time names the zone too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from tinyclaw.core import local_zone


@dataclass(frozen=True)
class Periods:
    """The day and the month around one instant, with their bounds as epoch seconds."""

    zone: tzinfo
    day: str  # 2026-12-07
    month: str  # 2026-12
    day_start: float
    month_start: float
    day_end: float
    month_end: float

    def zone_name(self) -> str:
        key = getattr(self.zone, "key", None)
        if isinstance(key, str) and key != "localtime":
            return key
        return datetime.fromtimestamp(self.day_start, self.zone).tzname() or "UTC"

    def when(self, ts: float) -> str:
        """``2026-12-08 00:00 CET``: a reset time as the owner reads it."""
        local = datetime.fromtimestamp(ts, self.zone)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname() or self.zone_name()}"


def _midnight(day: date, zone: tzinfo) -> float:
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def periods_at(now: float, zone: tzinfo | None = None) -> Periods:
    zone = zone or local_zone()
    today = datetime.fromtimestamp(now, zone).date()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Periods(
        zone=zone,
        day=today.isoformat(),
        month=today.strftime("%Y-%m"),
        day_start=_midnight(today, zone),
        month_start=_midnight(first, zone),
        day_end=_midnight(today + timedelta(days=1), zone),
        month_end=_midnight(following, zone),
    )


def money(usd: float) -> str:
    """``$1.25``; amounts under a cent keep four places (``$0.0042``), not ``$0.00``."""
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"
