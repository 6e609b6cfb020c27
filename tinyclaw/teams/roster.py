"""Who may hand work to whom, read from the configuration. Pure functions.

An actor may address the members of every team it belongs to, and nobody else: a
team is the unit of trust and of shared context. An actor in no team has no
teammates, so its replies are never read for handoff tags.
"""

from __future__ import annotations

from tinyclaw.config import Config


def teams_of(config: Config, actor: str) -> list[str]:
    """The teams ``actor`` is a member of, in configuration order."""
    return [name for name, team in config.teams.items() if actor in team.members]


def teammates(config: Config, actor: str) -> list[str]:
    """Everyone ``actor`` may hand work to (itself excluded), in configuration order."""
    found: dict[str, None] = {}
    for name in teams_of(config, actor):
        for member in config.teams[name].members:
            if member != actor:
                found.setdefault(member, None)
    return list(found)


def conversation_team(config: Config, actor: str, addressed: str | None) -> str | None:
    """The team a conversation started by ``actor`` belongs to (for its settings).

    The team the user addressed, if ``actor`` leads or is in it; else the first team
    ``actor`` leads; else the first it belongs to.
    """
    mine = teams_of(config, actor)
    if addressed in mine:
        return addressed
    led = [name for name in mine if config.teams[name].leader == actor]
    if led:
        return led[0]
    return mine[0] if mine else None


def describe(config: Config, actor: str) -> str:
    """One line for a teammate: ``@name - what it does``."""
    what = config.actors[actor].description if actor in config.actors else ""
    return f"@{actor} - {what or 'no description'}"


def addressable_hint(config: Config, actor: str) -> str:
    """What to tell an actor that addressed someone it may not."""
    mates = teammates(config, actor)
    if not mates:
        return "You have no teammates, so you cannot hand work to anyone."
    lines = "\n".join(describe(config, m) for m in mates)
    return f"You can hand work to your teammates only:\n{lines}"
