"""The chat commands every platform understands, parsed the same way everywhere.

The listener does not answer them (it knows no actors or runs): ``/help``,
``/actors``, ``/reset [@actor]``, ``/status``, ``/cancel``, ``/model [name]``,
``/cost [all]`` and the owner's
``/approve CODE``, ``/deny CODE``, ``/pending`` travel to the worker as
``Inbound(kind="command")`` with the normalized text (``"/reset @coder"``). Only
``/pair CODE`` stays in the listener, because it must reach the gate before the
sender is allowed anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChatCommand:
    name: str
    description: str


# The order is the order of the platform's command menu.
CHAT_COMMANDS: tuple[ChatCommand, ...] = (
    ChatCommand("help", "What this assistant can do"),
    ChatCommand("actors", "Who is here and what each one does"),
    ChatCommand("status", "What is queued and running for this chat"),
    ChatCommand("reset", "Start a fresh conversation: /reset [@actor]"),
    ChatCommand("cancel", "Stop this chat's running task"),
    ChatCommand("model", "Show or switch the model: /model [name|default]"),
    ChatCommand("cost", "What this chat has spent today and this month"),
    ChatCommand("pair", "Pair this account: /pair CODE"),
)
# Owner-only commands (``/approve``, ``/deny``, ``/pending``) travel too, but stay out
# of the public menu: the worker checks the sender's role and answers everyone else
# that only the owner may.
OWNER_COMMANDS = frozenset({"approve", "deny", "pending"})
WORKER_COMMANDS = (
    frozenset({"help", "actors", "reset", "status", "cancel", "model", "cost"}) | OWNER_COMMANDS
)
# Telegram sends /start when someone opens the bot; it means "what is this?".
ALIASES = {"start": "help"}

_COMMAND_RE = re.compile(r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    args: str

    @property
    def text(self) -> str:
        """The normalized form the worker receives: ``/reset @coder``."""
        return f"/{self.name} {self.args}".rstrip()


def parse_command(text: str) -> ParsedCommand | None:
    """``"/Reset@my_bot  @coder"`` -> ParsedCommand("reset", "@coder"); None if the
    text is not one of ours (unknown commands are ordinary chat for the actor)."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return None
    name = match.group(1).lower()
    name = ALIASES.get(name, name)
    if name not in WORKER_COMMANDS and name != "pair":
        return None
    args = " ".join((match.group(2) or "").split())
    return ParsedCommand(name, args)
