"""Chat commands (``/help``, ``/actors``, ``/reset``, ``/status``, ``/cancel``,
``/model``, ``/cost``, and for owners ``/approve``, ``/deny``, ``/pending``, ``/cost all``).

Listeners forward them as ``kind="command"`` messages; the worker answers them at
routing time, never behind an actor's queue, so ``/cancel`` works while that actor is
busy. The answers are plain text and identical on every platform.

Owner commands check the sender's role in pairing (:mod:`tinyclaw.pairing.owner_side`);
``/status`` shows an owner everything the worker does, anyone else only their chat.
The worker passes the pairing service and that overview in :class:`CommandContext`;
without them (a worker built without pairing) owner commands answer that only the
owner may, and ``/status`` stays per chat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tinyclaw.config import Config
from tinyclaw.core import Inbound, InvalidMessageError, parse_address
from tinyclaw.costs import CostLedger
from tinyclaw.pairing import OWNER_COMMANDS
from tinyclaw.worker.chat_settings import cost_command, model_command
from tinyclaw.worker.inflight import Running, same_chat
from tinyclaw.worker.model_choice import ModelChoices

if TYPE_CHECKING:
    from tinyclaw.pairing import PairingService
    from tinyclaw.spool import Spool

HELP = """\
Talk to me in plain text; start with @name to pick an actor or team.
/actors - who is here and what each does
/reset [@actor] - start a fresh conversation with an actor
/status - what is queued and running for this chat
/cancel - stop what is running for this chat
/model [@actor] [name|default] - show or switch the model for this chat
/cost - what this chat has spent today and this month
/pair CODE - link this account with a pairing code
/help - this text"""


@dataclass(frozen=True)
class CommandContext:
    """What a command may look at or change, passed in by the worker."""

    config: Config
    reset_session: Callable[[str, str], None]
    chat_status: Callable[[Inbound], str]
    cancel_chat: Callable[[Inbound], list[str]]
    pairing: PairingService | None = None  # who is an owner; answers owner commands
    # Everything the worker does, for owners; given the /status message asking.
    overview: Callable[[Inbound], str] | None = None
    models: ModelChoices | None = None  # /model: the chats' choices
    # /model: (actor, conversation, model) -> True if a running run switched at once
    switch_running: Callable[[str, str, str], bool] | None = None
    ledger: CostLedger | None = None  # /cost: what runs cost
    clock: Callable[[], float] = time.time  # what "today" is for /cost
    # (message, actor, name typed) -> a refusal if the sender may not use that actor
    refuse_reset: Callable[[Inbound, str, str | None], str | None] | None = None


class WorkerView(Protocol):
    """What :func:`overview` reads from the worker (``Worker`` provides it)."""

    config: Config
    spool: Spool

    def running_snapshot(self) -> list[tuple[str, str, float]]: ...


def overview(worker: WorkerView, asking: Inbound | None = None) -> str:
    """Everything in flight, for an owner's ``/status``: runs, inboxes, queue boxes.

    ``asking`` is the ``/status`` message being answered: it still sits in
    ``incoming/`` while it is answered, and is not work anyone waits for."""
    lines = ["Everything (owner view):"]
    running = sorted(worker.running_snapshot())
    for actor, message_id, seconds in running:
        lines.append(f"@{actor} running {message_id} ({seconds:.0f}s)")
    if not running:
        lines.append("No actor is running.")
    spool = worker.spool
    waiting = [
        f"@{name} {count}"
        for name in worker.config.actors
        if (count := len(spool.list_box(spool.inbox(name))))
    ]
    lines.append("Waiting: " + (", ".join(waiting) if waiting else "nothing"))
    depths = spool.depths()
    incoming = max(0, depths["incoming"] - (1 if asking is not None else 0))
    lines.append(
        f"Queue: {incoming} incoming, {depths['outgoing']} outgoing, {depths['failed']} failed"
    )
    return "\n".join(lines)


def chat_status(
    config: Config, spool: Spool, running: list[Running], message: Inbound, now: float
) -> str:
    """``/status`` for one chat: its runs in flight (``running``) and how many of its
    messages wait in the actors' inboxes."""
    lines = [
        f"@{r.actor} is working on: {r.message.text[:60]!r} ({now - r.started:.0f}s)"
        for r in running
    ]
    queued = 0
    for actor in config.actors:
        for path in spool.list_box(spool.inbox(actor)):
            try:
                other = spool.load(path)
            except (OSError, InvalidMessageError):
                continue
            if same_chat(other, message):
                queued += 1
    lines.append(f"{queued} message(s) waiting." if queued else "Nothing waiting.")
    return "\n".join(lines)


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
    from tinyclaw.pairing import OWNER_HELP, is_owner, owner_command

    command, _, rest = message.text.strip().partition(" ")
    command = command.lower().split("@", 1)[0]  # Telegram's "/reset@MyBot" form
    rest = rest.strip()
    if command in ("/help", "/start"):
        return HELP + ("\n\n" + OWNER_HELP if is_owner(ctx.pairing, message) else "")
    if command in OWNER_COMMANDS:
        return owner_command(ctx.pairing, message, command, rest)
    if command == "/actors":
        return describe_actors(ctx.config)
    if command == "/reset":
        target, _ = parse_address(rest) if rest else (None, "")
        actor = resolve_actor(ctx.config, target)
        if actor is None:
            return f"No actor called @{target}. Try /actors."
        refused = ctx.refuse_reset(message, actor, target) if ctx.refuse_reset else None
        if refused is not None:
            return refused
        ctx.reset_session(actor, message.conversation_key)
        return f"Started a fresh conversation with @{actor}."
    if command == "/status":
        status = ctx.chat_status(message)
        if ctx.overview is not None and is_owner(ctx.pairing, message):
            status += "\n\n" + ctx.overview(message)
        return status
    if command == "/model":
        if ctx.models is None:
            return "Switching models is not available here."
        target, wanted = parse_address(rest) if rest.startswith("@") else (None, rest)
        name = target or ctx.config.default_actor
        actor = resolve_actor(ctx.config, name)
        if actor is None:
            return f"No actor called @{name}. Try /actors."
        settings = (ctx.config, ctx.models, ctx.pairing, ctx.reset_session, ctx.switch_running)
        return model_command(message, actor, name, wanted.strip(), *settings)
    if command == "/cost":
        if ctx.ledger is None:
            return "Cost reports are not available here."
        return cost_command(message, rest, ctx.config, ctx.ledger, ctx.pairing, ctx.clock)
    if command == "/cancel":
        stopped = ctx.cancel_chat(message)
        if not stopped:
            return "Nothing is running for this chat."
        return "Stopping " + ", ".join("@" + a for a in stopped) + "."
    return f"Unknown command {command}. Try /help."
