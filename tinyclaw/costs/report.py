"""Spend totals for people: ``/cost`` (one chat), ``/cost all`` and ``tinyclaw cost``
(per person and per actor), as text and as JSON with stable field names.

Every total covers today and this month (see :mod:`tinyclaw.costs.periods`); a row
carries its limits so the owner sees how close each one is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from tinyclaw.config import Config, SpendLimits
from tinyclaw.costs.ledger import CostEntry
from tinyclaw.costs.limits import payer_of, person_caps
from tinyclaw.costs.periods import Periods, money

HOME_NAME = "(home)"  # what the terminal, schedules and heartbeats are charged to


@dataclass
class Row:
    """One actor's or one person's spend. ``name`` None: the home itself."""

    name: str | None
    today_usd: float = 0.0
    today_runs: int = 0
    month_usd: float = 0.0
    month_runs: int = 0
    max_usd_per_day: float | None = None
    max_usd_per_month: float | None = None

    def add(self, entry: CostEntry, periods: Periods) -> None:
        self.month_usd += entry.cost_usd
        self.month_runs += 1
        if entry.ts >= periods.day_start:
            self.today_usd += entry.cost_usd
            self.today_runs += 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("today_usd", "month_usd"):
            data[key] = round(data[key], 6)
        return data


@dataclass
class CostReport:
    periods: Periods
    total: Row
    actors: list[Row]
    profiles: list[Row]

    def to_json(self) -> dict[str, Any]:
        total = self.total.to_json()
        for key in ("name", "max_usd_per_day", "max_usd_per_month"):
            total.pop(key)
        return {
            "v": 1,
            "currency": "USD",
            "timezone": self.periods.zone_name(),
            "day": self.periods.day,
            "month": self.periods.month,
            "total": total,
            "actors": [row.to_json() for row in self.actors],
            "profiles": [row.to_json() for row in self.profiles],
        }


def _group(
    entries: Iterable[CostEntry], periods: Periods, key: Callable[[CostEntry], str | None]
) -> dict[str | None, Row]:
    rows: dict[str | None, Row] = {}
    for entry in entries:
        name = key(entry)
        rows.setdefault(name, Row(name)).add(entry, periods)
    return rows


def _with_caps(row: Row, caps: SpendLimits) -> Row:
    row.max_usd_per_day, row.max_usd_per_month = caps.max_usd_per_day, caps.max_usd_per_month
    return row


def build_report(
    config: Config,
    entries: list[CostEntry],
    periods: Periods,
    owners: Callable[[str], bool] = lambda _name: False,
) -> CostReport:
    """Every configured actor (spent or not) and every person who spent this month or
    has limits of their own. ``owners(name)`` says whether a payer is an owner (whose
    default limits do not apply)."""
    total = Row(None)
    for entry in entries:
        total.add(entry, periods)
    by_actor = _group(entries, periods, lambda e: e.actor)
    actors = [
        _with_caps(by_actor.get(name) or Row(name), caps) for name, caps in config.actors.items()
    ]
    actors += [row for name, row in sorted(by_actor.items()) if name not in config.actors]
    by_payer = _group(entries, periods, payer_of)
    for configured in config.pairing.profiles:
        by_payer.setdefault(configured, Row(configured))
    profiles = []
    for payer, row in sorted(by_payer.items(), key=lambda item: (item[0] is None, item[0] or "")):
        if payer is not None:
            profile = payer if ":" not in payer else None  # an identity has no profile section
            _with_caps(row, person_caps(config, profile, owners(payer)))
        profiles.append(row)
    return CostReport(periods, total, actors, profiles)


def _caps(row: Row) -> str:
    caps = []
    if row.max_usd_per_day is not None:
        caps.append(f"{money(row.max_usd_per_day)}/day")
    if row.max_usd_per_month is not None:
        caps.append(f"{money(row.max_usd_per_month)}/month")
    return f" (limit {', '.join(caps)})" if caps else ""


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


def row_line(label: str, row: Row) -> str:
    return (
        f"{label}: today {money(row.today_usd)} ({_runs(row.today_runs)}), "
        f"this month {money(row.month_usd)} ({_runs(row.month_runs)}){_caps(row)}"
    )


def render_report(report: CostReport) -> str:
    """``/cost all`` and ``tinyclaw cost``: per actor, then per person."""
    p = report.periods
    lines = [f"Spend today ({p.day}) and this month ({p.month}), {p.zone_name()}:"]
    lines.append(row_line("Total", report.total))
    lines.append("By actor:")
    lines += ["  " + row_line("@" + str(row.name), row) for row in report.actors]
    lines.append("By person:")
    lines += ["  " + row_line(row.name or HOME_NAME, row) for row in report.profiles]
    if not report.profiles:
        lines.append("  nobody yet")
    return "\n".join(lines)


def render_chat(config: Config, entries: list[CostEntry], chat: str, periods: Periods) -> str:
    """``/cost``: this chat's spend per actor, today and this month."""
    mine = [e for e in entries if e.chat == chat]
    header = f"This chat's spend today ({periods.day}) and this month ({periods.month}), "
    header += f"{periods.zone_name()}:"
    if not mine:
        return header + "\nNothing yet."
    total = Row(None)
    for entry in mine:
        total.add(entry, periods)
    rows = _group(mine, periods, lambda e: e.actor)
    lines = [header]
    lines += [row_line(f"@{name}", row) for name, row in sorted(rows.items(), key=str)]
    if len(rows) > 1:
        lines.append(row_line("Total", total))
    return "\n".join(lines)
