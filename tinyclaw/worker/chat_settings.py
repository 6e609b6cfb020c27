"""``/model`` and ``/cost``: what a chat may see of and change about its own runs.

``/model [@actor] [name|default]`` shows or sets the model an actor uses in this chat.
The names come from the actor's ``models`` list in ``tinyclaw.toml``; nothing else is
accepted, so a chat user can never run a model the owner did not offer. Anyone who
may use the actor may switch it in their own direct chat; in a group chat the choice
changes the model for everyone there, so only an owner may. Showing is open to all.
``/model default`` of an actor without a ``model`` of its own starts a fresh claude
conversation: claude resumes a conversation with the model it last used.

A live claude run of the same actor and chat that is working when the switch comes
switches at once (``switch_running``), and the answer says so; otherwise (codex, a
one-shot run, nothing running) the choice applies from the next message on.

``/cost`` shows this chat's spend per actor, today and this month; ``/cost all``
(owners only) shows everyone's, per person and per actor, with the limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tinyclaw.config import Config
from tinyclaw.core import Inbound, PairingError
from tinyclaw.costs import CostLedger, build_report, periods_at, render_chat, render_report
from tinyclaw.worker.model_choice import ModelChoices, effective_model
from tinyclaw.worker.spending import owner_check

if TYPE_CHECKING:
    from tinyclaw.pairing import PairingService

DEFAULT_WORD = "default"
RUNNING_TOO = "; the turn that is running switched to it too."
Switch = Callable[[str, str, str], bool]  # (actor, conversation, model) -> switched now


def model_command(
    message: Inbound,
    actor: str,
    name: str,
    wanted: str,
    config: Config,
    models: ModelChoices,
    pairing: PairingService | None,
    reset_session: Callable[[str, str], None],
    switch_running: Switch | None = None,
) -> str:
    """The answer to ``/model``: ``actor`` is who gets the chat's messages when
    addressed as ``name`` (an actor, or a team whose leader it is)."""
    from tinyclaw.pairing import ONLY_OWNER, is_owner

    def switched(model: str) -> bool:
        return switch_running is not None and switch_running(actor, conversation, model)

    if not _may_use(pairing, message, actor, name):
        return f"Sorry, you may not use @{name}."
    settings = config.actors[actor]
    conversation = message.conversation_key
    offered = ", ".join(settings.models)
    default = settings.model or "the CLI's default model"
    if not wanted:
        chosen = models.get(actor, conversation)
        current = effective_model(settings, chosen)
        lines = [f"@{actor} uses {current or default} in this chat."]
        if current is not None and current == chosen:
            lines[0] += f" Its default is {default}."
        if offered:
            lines.append(
                f"You may pick: {offered}. /model NAME switches, /model default goes back."
            )
        else:
            lines.append(
                f"It offers no other models (the owner can list some in [actors.{actor}] models)."
            )
        return "\n".join(lines)
    if message.is_group and not is_owner(pairing, message):
        return f"{ONLY_OWNER} In a group, only an owner may switch the model for everyone."
    if wanted.lower() == DEFAULT_WORD:
        had = models.get(actor, conversation)
        models.set(actor, conversation, None)
        answer = f"@{actor} is back to its default model ({default}) in this chat"
        if had is not None and settings.model is not None and switched(settings.model):
            return answer + RUNNING_TOO
        answer += "."
        if had is not None and settings.model is None and settings.runner == "claude":
            # claude resumes a conversation with the model it last ran; without a model
            # of our own to pass, only a fresh conversation gets the CLI's default.
            reset_session(actor, conversation)
            answer += " This starts a fresh conversation."
        return answer
    if wanted not in settings.models:
        if not offered:
            return f"@{actor} offers no models to pick from; it uses {default}."
        asked = wanted[:64]  # echoed back: a chat message can be long
        return f"@{actor} has no model called {asked!r}. You may pick: {offered} (or default)."
    models.set(actor, conversation, wanted)
    if switched(wanted):
        return f"@{actor} now uses {wanted} in this chat{RUNNING_TOO}"
    return f"@{actor} now uses {wanted} in this chat, from the next message on."


def cost_command(
    message: Inbound,
    args: str,
    config: Config,
    ledger: CostLedger,
    pairing: PairingService | None,
    clock: Callable[[], float] = time.time,
) -> str:
    from tinyclaw.pairing import ONLY_OWNER, is_owner

    periods = periods_at(clock())
    entries = ledger.entries(periods.month_start, periods.month_end)
    if args.strip().lower() == "all":
        if not is_owner(pairing, message):
            return ONLY_OWNER
        return render_report(build_report(config, entries, periods, owner_check(pairing)))
    if args.strip():
        return "Usage: /cost (this chat) or /cost all (everyone; owners only)"
    return render_chat(config, entries, f"{message.channel}:{message.chat_id}", periods)


def _may_use(pairing: PairingService | None, message: Inbound, actor: str, name: str) -> bool:
    """Whether the sender may talk to ``actor`` (reached as ``name``, maybe a team)."""
    from tinyclaw.pairing import sender_identity

    try:
        ident = sender_identity(message)
    except PairingError:
        return False
    if ident is None:
        return True  # the host's own terminal
    if pairing is None:
        return False
    return pairing.may_use(ident, actor) or pairing.may_use(ident, name)
