"""Where the answer of a scheduled run goes: ``channel:chat_id``.

A target is validated where it enters (the command line, a job file, the
configuration), so the worker never has to wonder whether ``to`` names a real
channel. Chat ids are opaque to us: a Telegram group id is negative, a WhatsApp id is
a phone number, the terminal uses a name; we only check that they are short and
free of separators and spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinyclaw.core.errors import ConfigError

CHANNELS: tuple[str, ...] = ("telegram", "discord", "whatsapp", "cli")
_TARGET_RE = re.compile(r"^([a-z]+):([A-Za-z0-9_.@+-]{1,128})$")


@dataclass(frozen=True)
class Target:
    channel: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}"


def parse_target(text: str) -> Target:
    """``"telegram:123"`` → ``Target("telegram", "123")``; anything else is a
    ConfigError naming the expected form and the known channels."""
    match = _TARGET_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or match.group(1) not in CHANNELS:
        raise ConfigError(
            f"{text!r} is not a target: expected channel:chat_id with channel one of "
            f"{', '.join(CHANNELS)} (e.g. telegram:123456)"
        )
    return Target(match.group(1), match.group(2))
