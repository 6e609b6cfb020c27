"""Which model a chat picked for an actor with ``/model``, on disk.

One small JSON file per actor beside its sessions (``actors/<actor>/models.json``),
keyed by conversation like the sessions are, replaced atomically on every change
under a file lock (the worker writes it from its command handler; a second writer
would be a second worker, which the worker lock forbids, but the lock keeps a hand
edit or a future CLI safe). ``/reset`` starts a new session and keeps the choice; only
``/model default`` clears it.

A choice is only ever taken from the actor's ``models`` list in ``tinyclaw.toml``; if
the owner later removes that model from the list, :func:`effective_model` ignores the
stale choice and the actor's own ``model`` applies again.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from filelock import FileLock

from tinyclaw.config import NAME_RE, ActorConfig
from tinyclaw.core.errors import UnsafePathError
from tinyclaw.core.fsutil import atomic_write

log = logging.getLogger("tinyclaw.worker")

FILE_NAME = "models.json"


class ModelChoices:
    """``get``/``set``/``clear`` of the model picked per (actor, conversation)."""

    def __init__(self, root: Path) -> None:
        self.root = root  # the home's actors/ folder
        self._lock = threading.Lock()

    def _file(self, actor: str) -> Path:
        if not NAME_RE.fullmatch(actor):
            raise UnsafePathError(f"{actor!r} is not a valid actor name")
        return self.root / actor / FILE_NAME

    def _load(self, actor: str) -> dict[str, str]:
        file = self._file(actor)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable model choices, using the defaults: %s", file, exc)
            return {}
        chosen = data.get("models") if isinstance(data, dict) else None
        if not isinstance(chosen, dict):
            return {}
        return {str(k): v for k, v in chosen.items() if isinstance(v, str)}

    def get(self, actor: str, conversation: str) -> str | None:
        with self._lock:
            return self._load(actor).get(conversation)

    def set(self, actor: str, conversation: str, model: str | None) -> None:
        """Remember ``model`` for the conversation; None forgets the choice."""
        file = self._file(actor)
        file.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, FileLock(str(file.with_suffix(".lock")), timeout=30):
            chosen = self._load(actor)
            if model is None:
                if chosen.pop(conversation, None) is None:
                    return
            else:
                chosen[conversation] = model
            body = {"version": 1, "models": dict(sorted(chosen.items()))}
            atomic_write(file, json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n")


def effective_model(actor: ActorConfig, chosen: str | None) -> str | None:
    """The ``--model`` of a run: the chat's choice while the actor still allows it,
    else the actor's ``model`` (None: the CLI's own default)."""
    if chosen is not None and chosen in actor.models:
        return chosen
    return actor.model
