"""Chat commands (``/help``, ``/actors``, ``/reset``, ``/status``, ``/cancel``).

Listeners forward them as ``kind="command"`` messages; the worker answers them at
routing time, never behind an actor's queue, so ``/cancel`` works while that actor is
busy. The answers are plain text and identical on every platform.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinyclaw.config import Config
from tinyclaw.messages import Inbound
from tinyclaw.worker.addressing import parse_address

HELP = """\
Talk to me in plain text; start with @name to pick an actor or team.
/actors - who is here and what each does
/reset [@actor] - start a fresh conversation with an actor
/status - what is queued and running for this chat
/cancel - stop what is running for this chat
/pair CODE - link this account with a pairing code
/help - this text"""


@dataclass(frozen=True)
class CommandContext:
    """What a command may look at or change, passed in by the worker."""

    config: Config
    reset_session: Callable[[str, str], None]
    chat_status: Callable[[Inbound], str]
    cancel_chat: Callable[[Inbound], list[str]]


def describe_actors(config: Config) -> str:
    lines = []
    for name, actor in config.actors.items():
        what = actor.description or f"{actor.runner} assistant"
        marker = " (default)" if name == config.default_actor else ""
        lines.append(f"@{name}{marker} - {what}")
    for name, team in config.teams.items():
        what = team.description or "team"
        members = ", ".join("@" + m for m in team.members)
        marker = " (default)" if name == config.default_actor else ""
        lines.append(f"@{name}{marker} - {what}; leader @{team.leader}; members {members}")
    return "\n".join(lines)


def resolve_actor(config: Config, name: str | None) -> str | None:
    """An actor or team name to the actor that receives its messages."""
    name = name or config.default_actor
    if name in config.actors:
        return name
    team = config.teams.get(name)
    return team.leader if team else None


def handle_command(message: Inbound, ctx: CommandContext) -> str:
    command, _, rest = message.text.strip().partition(" ")
    command = command.lower().split("@", 1)[0]  # Telegram's "/reset@MyBot" form
    rest = rest.strip()
    if command in ("/help", "/start"):
        return HELP
    if command == "/actors":
        return describe_actors(ctx.config)
    if command == "/reset":
        target, _ = parse_address(rest) if rest else (None, "")
        actor = resolve_actor(ctx.config, target)
        if actor is None:
            return f"No actor called @{target}. Try /actors."
        ctx.reset_session(actor, message.conversation_key)
        return f"Started a fresh conversation with @{actor}."
    if command == "/status":
        return ctx.chat_status(message)
    if command == "/cancel":
        stopped = ctx.cancel_chat(message)
        if not stopped:
            return "Nothing is running for this chat."
        return "Stopping " + ", ".join("@" + a for a in stopped) + "."
    return f"Unknown command {command}. Try /help."
