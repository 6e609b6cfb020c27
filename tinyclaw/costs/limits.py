"""Which spend limits apply to a run, and whether one is already reached.

Two kinds, each per day and per month (``max_usd_per_day``, ``max_usd_per_month``):

* an **actor**'s, in ``[actors.NAME]``: everything that actor runs, for anyone;
* a **person**'s: ``[pairing.profiles.NAME]`` for one pairing profile, else the
  defaults in ``[pairing]`` for every paired person who is not an owner. A person
  allowed by ``allow_from`` without a profile is counted by their identity.

A limit is reached when what was spent in its period is at least the limit; a run that
starts below it may end above it (its cost is known only at the end), and the next
one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tinyclaw.config import Config, SpendLimits
from tinyclaw.costs.ledger import CostEntry
from tinyclaw.costs.periods import Periods, money

Scope = Literal["actor", "profile"]
Period = Literal["day", "month"]


@dataclass(frozen=True)
class Limit:
    scope: Scope
    name: str  # the actor, or the payer (profile name, or identity without a profile)
    period: Period
    max_usd: float

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.name}:{self.period}"

    def describe(self) -> str:
        whose = f"@{self.name}'s" if self.scope == "actor" else f"{self.name}'s"
        return f"{whose} limit of {money(self.max_usd)} a {self.period}"


@dataclass(frozen=True)
class Breach:
    """A reached limit: what was spent in its period, and when the period ends."""

    limit: Limit
    spent: float
    resets_at: float


def payer_of(entry: CostEntry) -> str | None:
    """Whom a run is charged to: the profile, else the identity; None: the home."""
    return entry.profile or entry.identity


def _limits(scope: Scope, name: str, caps: SpendLimits) -> list[Limit]:
    found = []
    if caps.max_usd_per_day is not None:
        found.append(Limit(scope, name, "day", caps.max_usd_per_day))
    if caps.max_usd_per_month is not None:
        found.append(Limit(scope, name, "month", caps.max_usd_per_month))
    return found


def person_caps(config: Config, profile: str | None, owner: bool) -> SpendLimits:
    """A person's caps: their profile's section, else the defaults (none for owners)."""
    if profile is not None and profile in config.pairing.profiles:
        return config.pairing.profiles[profile]
    if owner:
        return SpendLimits()
    return config.pairing


def limits_for(
    config: Config, actor: str, payer: str | None, profile: str | None, owner: bool
) -> list[Limit]:
    """The limits a run of ``actor`` for ``payer`` must stay under."""
    found = _limits("actor", actor, config.actors[actor])
    if payer is not None:
        found += _limits("profile", payer, person_caps(config, profile, owner))
    return found


def spent(entries: list[CostEntry], limit: Limit, periods: Periods) -> float:
    start = periods.day_start if limit.period == "day" else periods.month_start
    total = 0.0
    for entry in entries:
        if entry.ts < start:
            continue
        name = entry.actor if limit.scope == "actor" else payer_of(entry)
        if name == limit.name:
            total += entry.cost_usd
    return total


def first_breach(entries: list[CostEntry], limits: list[Limit], periods: Periods) -> Breach | None:
    """The first limit already reached (``entries``: this month's runs), or None."""
    for limit in limits:
        used = spent(entries, limit, periods)
        if used >= limit.max_usd:
            end = periods.day_end if limit.period == "day" else periods.month_end
            return Breach(limit, used, end)
    return None
