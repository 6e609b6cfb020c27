"""Reading ``codex exec --json``, one JSONL event at a time.

``thread.started`` carries the thread id (the session to resume);
``item.started``/``item.completed`` carry ``agent_message``, ``command_execution``,
``file_change`` (and ``reasoning``, ``error`` notices, …); the turn ends with
``turn.completed`` (usage) or ``turn.failed`` (exit code 1). The reply is the last
completed ``agent_message``. Top-level ``error`` events are not fatal by themselves
(codex reports reconnects that way); ``turn.failed`` and the exit code are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinyclaw.runners.contract import (
    ERROR_BAD_OUTPUT,
    ERROR_EXIT,
    ERROR_SESSION,
    JsonLineStream,
    RunEvent,
)
from tinyclaw.runners.summary import (
    API_FAILED,
    Summary,
    exit_failed,
    killed_by_signal,
    last_line,
    shorten,
    with_detail,
)

# stderr of `codex exec resume <unknown id>`
SESSION_NOT_FOUND = "no rollout found for thread id"
_OUTPUT_LIMIT = 2000


# stderr lines codex prints on every run; never the reason it failed.
_NOISE = ("Reading additional input from stdin", "WARNING: proceeding, even though")


def _without_noise(stderr: str) -> str:
    return "\n".join(line for line in stderr.splitlines() if not line.startswith(_NOISE))


def _message(obj: dict[str, Any]) -> str:
    error = obj.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(obj.get("message") or error or "unknown error")


def _item_event(item: dict[str, Any], started: bool) -> RunEvent | None:
    kind = item.get("type")
    if kind == "agent_message":
        return None if started else RunEvent("text", str(item.get("text", "")), {})
    if kind == "command_execution":
        # Shown once, when it starts; its end only says how it went (the window marks
        # a failed or declined command, and prints nothing more for one that worked).
        if started:
            return RunEvent("command", str(item.get("command", "")), {"status": "in_progress"})
        output = str(item.get("aggregated_output") or "")
        data = {
            "status": item.get("status"),
            "exit_code": item.get("exit_code"),
            "output": output[-_OUTPUT_LIMIT:],
        }
        return RunEvent("command_done", str(item.get("command", "")), data)
    if kind == "file_change":
        if started:
            return None
        changes = [c for c in item.get("changes") or [] if isinstance(c, dict)]
        text = ", ".join(f"{c.get('kind', 'change')} {c.get('path', '?')}" for c in changes)
        return RunEvent("file_change", text, {"changes": changes, "status": item.get("status")})
    if kind == "error":
        return None if started else RunEvent("error", str(item.get("message", "")), {})
    if kind in ("reasoning", "todo_list") or started:
        return None
    return RunEvent("tool", str(kind), {"item": item})


class CodexStream(JsonLineStream):
    """Accumulates one run's events; ``feed`` returns the progress events of a line."""

    def __init__(self) -> None:
        self.thread_id: str | None = None
        self.reply: str | None = None
        self.usage: dict[str, Any] = {}
        self.completed = False
        self.failure: str | None = None
        self.last_error: str | None = None
        self.bad_lines = 0

    @property
    def session(self) -> str | None:
        return self.thread_id

    def feed(self, line: str) -> list[RunEvent]:
        obj = self._parse(line)
        if obj is None:
            return []
        kind = obj.get("type")
        if kind == "thread.started" and isinstance(obj.get("thread_id"), str):
            self.thread_id = obj["thread_id"]
        elif kind in ("item.started", "item.completed") and isinstance(obj.get("item"), dict):
            item = obj["item"]
            if kind == "item.completed" and item.get("type") == "agent_message":
                self.reply = str(item.get("text", ""))
            event = _item_event(item, started=kind == "item.started")
            return [event] if event is not None else []
        elif kind == "turn.completed":
            self.completed = True
            if isinstance(obj.get("usage"), dict):
                self.usage = dict(obj["usage"])
            return [RunEvent("result", self.reply or "", {"usage": self.usage})]
        elif kind == "turn.failed":
            self.failure = _message(obj)
            return [RunEvent("error", self.failure, {})]
        elif kind == "error":
            self.last_error = _message(obj)
            return [RunEvent("error", self.last_error, {})]
        return []

    def summary(self, exit_code: int | None, stderr: str) -> Summary:
        """What the run came to, judged from the events, exit code and stderr."""
        if self.failure is not None:
            error = f"api_error: {shorten(self.failure, 200)}"
            return Summary(False, API_FAILED, self.thread_id, error, None, self.usage)
        finished = self.completed and killed_by_signal(exit_code)
        if exit_code not in (0, None) and not finished:
            if SESSION_NOT_FOUND in stderr:
                return Summary(
                    False,
                    "Sorry, the previous conversation could not be found.",
                    self.thread_id,
                    ERROR_SESSION,
                )
            detail = self.last_error or last_line(_without_noise(stderr))
            error = with_detail(f"{ERROR_EXIT}: {exit_code}", detail)
            return Summary(False, exit_failed(exit_code), self.thread_id, error, None, self.usage)
        if not self.completed:
            return Summary(
                False,
                "Sorry, the assistant finished without an answer.",
                self.thread_id,
                ERROR_BAD_OUTPUT,
            )
        return Summary(True, self.reply or "", self.thread_id, None, None, self.usage)


def parse_codex_stream(lines: Iterable[str]) -> tuple[CodexStream, list[RunEvent]]:
    """Feed a whole captured stream (for tests and tools); returns the state and events."""
    stream = CodexStream()
    events = [event for line in lines for event in stream.feed(line)]
    return stream, events
