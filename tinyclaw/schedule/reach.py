"""Which chats an actor may write to on its own initiative.

An actor answers whoever wrote to it; that needs no permission. Speaking *first*
(an outbox message, a schedule it adds for itself) does, because an actor can be
talked into things by what it reads. The operator grants it in the configuration and
on the command line, never the actor itself:

* the actor's ``owner_chat``;
* its heartbeat's ``to``;
* every entry of its ``may_message`` list;
* the ``--to`` of each job the operator scheduled for it (``created_by: "cli"``).

Jobs the actor wrote itself add nothing: they were checked against this same list.
An empty list denies everything (fail closed). The order is kept, so the first
target is the natural default when a file leaves ``to`` out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tinyclaw.core.errors import ConfigError
from tinyclaw.schedule.targets import parse_target

if TYPE_CHECKING:
    from tinyclaw.config import Config
    from tinyclaw.schedule.models import Job


def _normalized(values: Iterable[str | None]) -> list[str]:
    found: list[str] = []
    for value in values:
        if not value:
            continue
        try:
            target = str(parse_target(value))
        except ConfigError:
            continue  # a broken entry grants nothing; the config check reports it
        if target not in found:
            found.append(target)
    return found


def reachable_targets(config: Config, actor: str, jobs: Iterable[Job] = ()) -> list[str]:
    """The targets (``channel:chat_id``) ``actor`` may write to first, in the order
    of the module docstring; [] for an actor that is not configured."""
    settings = config.actors.get(actor)
    if settings is None:
        return []
    heartbeat_to = settings.heartbeat.to if settings.heartbeat else None
    operator_jobs = [job.to for job in jobs if job.actor == actor and job.created_by == "cli"]
    return _normalized([settings.owner_chat, heartbeat_to, *settings.may_message, *operator_jobs])
