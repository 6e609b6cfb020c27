"""What an actor's CLI does with its outbox: write files into it. ``ACTORS`` have chats
they may write to (``owner_chat``, ``may_message``) and one has none."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tinyclaw.core.home import Home
from tinyclaw.drops.shared import SETTLE_SECONDS

ACTORS: dict[str, dict[str, object]] = {
    "coder": {"owner_chat": "telegram:1001", "may_message": ["discord:55"]},
    "helper": {"owner_chat": "telegram:1001"},
    "loner": {},
}


def write_file(path: Path, content: object) -> Path:
    """``content`` (a string, else JSON) at ``path``, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def settled() -> float:
    """A moment when every file written so far has been still for the settle time:
    a tick then decides about each file and also takes it out of the outbox."""
    return time.time() + SETTLE_SECONDS + 1


def workspace(home: Home, actor: str = "coder") -> Path:
    return home.actor_dir(actor) / "workspace"


def drop(home: Home, name: str, content: object, actor: str = "coder") -> Path:
    """What the actor's CLI does: write a file into its outbox."""
    return write_file(workspace(home, actor) / "outbox" / name, content)
