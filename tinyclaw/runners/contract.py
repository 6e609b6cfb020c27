"""The runner contract: one request in, one result out, progress events on the way.

A runner wraps one coding CLI (``claude`` or ``codex``). It never raises for anything
the CLI does wrong (missing binary, non-zero exit, API error, garbage output, timeout,
cancel): the worker would only turn the exception into a reply anyway, so the runner
does it once, here, and returns ``RunResult(ok=False, text=<a sentence for the chat
user>, error=<a short machine-ish reason>)``. Exceptions are left for bugs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tinyclaw.runners.live_protocol import RunControls

EventKind = str  # "start" | "text" | "tool" | "command" | "file_change" | "result" | "error"

# Short reasons in RunResult.error; an API error is "api_error: <status> <message>".
ERROR_NOT_FOUND = "not_found"
ERROR_TIMEOUT = "timeout"
ERROR_CANCELLED = "cancelled"
ERROR_EXIT = "exit"
ERROR_BAD_OUTPUT = "bad_output"
ERROR_SPAWN = "spawn_failed"
ERROR_API = "api_error"
ERROR_SESSION = "session_not_found"
# Killed by a signal from outside (the OOM killer, kill -9) before any result line.
ERROR_KILLED = "killed"


@dataclass(frozen=True)
class RunEvent:
    """Live progress of a run, for the operator's actor window (never for the user)."""

    kind: EventKind
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRequest:
    """One prompt for one actor, with everything the CLI needs to answer it."""

    prompt: str
    actor: str
    workspace: Path  # cwd of the CLI; created if missing
    readable: tuple[Path, ...] = ()  # files outside it the run needs (attachments)
    images: tuple[Path, ...] = ()  # of those, the ones the model is shown as images
    model: str | None = None
    persona: str = ""  # claude: --append-system-prompt; codex: developer_instructions
    permission_mode: str | None = None  # claude: --permission-mode; codex: sandbox mode
    timeout: float = 600.0
    session_id: str | None = None  # a session to resume, or None to start a new one
    approval_policy: str | None = None  # codex (live): when to ask; None: never
    ask_permissions: bool = True  # claude (live): let it ask (RunControls answer)


@dataclass(frozen=True)
class RunResult:
    """What came of a run. ``text`` is always fit to send to the chat user."""

    text: str
    session_id: str | None
    ok: bool
    exit_code: int | None
    duration_s: float
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


EventSink = Callable[[RunEvent], None]


class Runner(Protocol):
    """A coding CLI behind one method. Implementations: ClaudeRunner, CodexRunner."""

    kind: str

    def run(
        self,
        request: RunRequest,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        controls: RunControls | None = None,
    ) -> RunResult: ...


class JsonLineStream:
    """What both CLIs' stream parsers share: one JSON object per line of stdout;
    anything else (a blank line, a stray log line) is counted in ``bad_lines``."""

    bad_lines: int = 0

    def _parse(self, line: str) -> dict[str, Any] | None:
        line = line.strip()
        if not line:
            return None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            self.bad_lines += 1
            return None
        if not isinstance(obj, dict):
            self.bad_lines += 1
            return None
        return obj
