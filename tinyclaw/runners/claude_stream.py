"""Reading ``claude -p --output-format stream-json --verbose``, one line at a time.

The stream is one JSON object per line: ``system``/``init`` (the session id), an
``assistant`` message per content block (text or ``tool_use``), ``user`` messages
carrying tool results, and a final ``result`` object, the same one
``--output-format json`` prints. Only the ``result`` decides success: on an API
error its ``subtype`` still says "success", so ``is_error``, ``api_error_status``
and the exit code are what count.
"""

from __future__ import annotations

import json
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

SESSION_NOT_FOUND = "No conversation found with session ID"
_FILE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})


def _tool_event(block: dict[str, Any]) -> RunEvent:
    name = str(block.get("name", "tool"))
    raw = block.get("input")
    tool_input: dict[str, Any] = raw if isinstance(raw, dict) else {}
    data = {"name": name, "input": tool_input, "id": block.get("id")}
    if name == "Bash":
        return RunEvent("command", str(tool_input.get("command", "")), data)
    if name in _FILE_TOOLS:
        path = tool_input.get("file_path") or tool_input.get("notebook_path") or ""
        return RunEvent("file_change", f"{name} {path}".strip(), data)
    return RunEvent("tool", f"{name} {shorten(json.dumps(tool_input), 200)}", data)


class ClaudeStream(JsonLineStream):
    """Accumulates one run's stream; ``feed`` returns the progress events of a line."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.result: dict[str, Any] | None = None
        self.bad_lines = 0
        self._tools: dict[str, str] = {}  # tool_use id -> what the window showed

    @property
    def session(self) -> str | None:
        return self.session_id

    def feed(self, line: str) -> list[RunEvent]:
        obj = self._parse(line)
        if obj is None:
            return []
        if isinstance(obj.get("session_id"), str):
            self.session_id = obj["session_id"]
        kind = obj.get("type")
        if kind == "assistant":
            return self._assistant(obj)
        if kind == "user":
            return self._tool_results(obj)
        if kind == "result":
            self.result = obj
            text = str(obj.get("result") or "; ".join(_errors(obj)))
            data = {
                "session_id": obj.get("session_id"),
                "cost_usd": obj.get("total_cost_usd"),
                "num_turns": obj.get("num_turns"),
            }
            return [RunEvent("error" if obj.get("is_error") else "result", text, data)]
        return []

    def _assistant(self, obj: dict[str, Any]) -> list[RunEvent]:
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        events = []
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                events.append(RunEvent("text", str(block["text"]), {}))
            elif block.get("type") == "tool_use":
                event = _tool_event(block)
                self._tools[str(block.get("id"))] = event.text
                events.append(event)
        return events

    def _tool_results(self, obj: dict[str, Any]) -> list[RunEvent]:
        """A tool call that did not run (denied) or failed, marked as such: the
        window must not show it like one that worked."""
        message = obj.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        events = []
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            if not block.get("is_error"):
                continue
            text = shorten(" ".join(_strings(block.get("content"))), 300)
            tool_id = block.get("tool_use_id")
            used = self._tools.get(str(tool_id), "tool")
            kind = "tool_denied" if _is_denial(text) else "tool_failed"
            events.append(RunEvent(kind, used, {"id": tool_id, "reason": text}))
        return events

    def summary(self, exit_code: int | None, stderr: str) -> Summary:
        """What the run came to, judged from the result object, exit code and stderr."""
        result = self.result
        if result is None:
            return self._no_result(exit_code, stderr)
        usage = dict(result.get("usage") or {}) if isinstance(result.get("usage"), dict) else {}
        if isinstance(result.get("num_turns"), int):
            usage["num_turns"] = result["num_turns"]
        denials = result.get("permission_denials")
        if isinstance(denials, list) and denials:
            usage["permission_denials"] = [
                str(d.get("tool_name", "?")) if isinstance(d, dict) else str(d) for d in denials
            ]
        cost = result.get("total_cost_usd")
        # Rounded to a millionth of a dollar: the CLI's sum of floats (0.032619999999999996)
        # would otherwise reach the event log, replies' meta and every total built on them.
        cost_usd = round(float(cost), 6) if isinstance(cost, (int, float)) else None
        session_id = result.get("session_id") if isinstance(result.get("session_id"), str) else None
        session_id = session_id or self.session_id
        reply = result.get("result")
        if not result.get("is_error") and (exit_code in (0, None) or killed_by_signal(exit_code)):
            return Summary(True, str(reply or ""), session_id, None, cost_usd, usage)
        errors = _errors(result)
        detail = str(reply or "; ".join(errors) or last_line(stderr) or "unknown error")
        status = result.get("api_error_status")
        if any(SESSION_NOT_FOUND in e for e in errors) or SESSION_NOT_FOUND in stderr:
            error = ERROR_SESSION
        elif status:
            error = f"api_error: {status} {shorten(detail, 200)}"
        else:
            error = with_detail(f"{ERROR_EXIT}: {exit_code}", detail)
        text = API_FAILED if status else exit_failed(exit_code)
        return Summary(False, text, session_id, error, cost_usd, usage)

    def _no_result(self, exit_code: int | None, stderr: str) -> Summary:
        line = last_line(stderr)
        if exit_code == 0:
            return Summary(
                False,
                "Sorry, the assistant finished without an answer.",
                self.session_id,
                ERROR_BAD_OUTPUT,
            )
        if SESSION_NOT_FOUND in stderr:
            error = ERROR_SESSION
        else:
            error = with_detail(f"{ERROR_EXIT}: {exit_code}", line)
        return Summary(False, exit_failed(exit_code), self.session_id, error)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _strings(item)]
    if isinstance(value, dict):
        return _strings(value.get("text"))
    return []


_DENIALS = ("haven't granted", "permission", "denied")


def _is_denial(text: str) -> bool:
    lowered = text.lower()
    return any(mark in lowered for mark in _DENIALS)


def _errors(result: dict[str, Any]) -> list[str]:
    errors = result.get("errors")
    return [str(e) for e in errors] if isinstance(errors, list) else []


def parse_claude_stream(lines: Iterable[str]) -> tuple[ClaudeStream, list[RunEvent]]:
    """Feed a whole captured stream (for tests and tools); returns the state and events."""
    stream = ClaudeStream()
    events = [event for line in lines for event in stream.feed(line)]
    return stream, events
