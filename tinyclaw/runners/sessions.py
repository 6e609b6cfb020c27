"""Which CLI session continues which conversation, per actor, on disk.

One small JSON file per actor (``<dir>/<actor>.json``), replaced atomically on every
change (tmp → fsync → rename), so a crash leaves the old mapping or the new one and a
restart resumes every conversation. A lock serialises the read-modify-write of the
threads of one process; processes do not share a store (the worker owns it).

A file that cannot be read counts as empty: losing a session id only means the next
message starts a new conversation, which is better than not answering at all.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from tinyclaw.config import NAME_RE
from tinyclaw.errors import UnsafePathError
from tinyclaw.fsutil import atomic_write

log = logging.getLogger("tinyclaw.runner")

_VERSION = 1


class SessionStore:
    """``get``/``set``/``reset`` of session ids keyed by (actor, conversation)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _file(self, actor: str) -> Path:
        if not NAME_RE.match(actor):
            raise UnsafePathError(f"{actor!r} is not a valid actor name")
        return self.path / f"{actor}.json"

    def _load(self, file: Path) -> dict[str, str]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable session file, starting fresh: %s", file, exc)
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            log.warning("%s: no sessions mapping, starting fresh", file)
            return {}
        return {str(k): v for k, v in sessions.items() if isinstance(v, str)}

    def _save(self, file: Path, sessions: dict[str, str]) -> None:
        if not sessions:
            file.unlink(missing_ok=True)
            return
        payload = {"version": _VERSION, "sessions": dict(sorted(sessions.items()))}
        atomic_write(file, json.dumps(payload, indent=2, ensure_ascii=False).encode() + b"\n")

    def get(self, actor: str, conversation: str) -> str | None:
        file = self._file(actor)
        with self._lock:
            return self._load(file).get(conversation)

    def set(self, actor: str, conversation: str, session_id: str) -> None:
        file = self._file(actor)
        with self._lock:
            sessions = self._load(file)
            if sessions.get(conversation) == session_id:
                return
            sessions[conversation] = session_id
            self._save(file, sessions)

    def reset(self, actor: str, conversation: str | None = None) -> None:
        """Forget one conversation's session, or (``None``) all of the actor's."""
        file = self._file(actor)
        with self._lock:
            if conversation is None:
                file.unlink(missing_ok=True)
                return
            sessions = self._load(file)
            if sessions.pop(conversation, None) is not None:
                self._save(file, sessions)
