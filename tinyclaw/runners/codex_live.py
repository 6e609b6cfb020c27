"""Codex's live protocol: ``codex app-server``, JSON-RPC 2.0 over stdio, one line each.

A run is: ``initialize`` (+ ``initialized``), then ``thread/start`` (a new
conversation) or ``thread/resume`` (the session id is the thread id), then
``turn/start`` with the prompt (and the message's images, as ``localImage`` items).
While the turn runs:

* a steering line is ``turn/steer`` (``expectedTurnId`` = the running turn): codex
  adds it to the turn as a user message, so the answer reflects it;
* an interrupt is ``turn/interrupt``: the turn ends ``interrupted``, the thread stays;
* codex asks before a command or a file change (``item/commandExecution/
  requestApproval``, ``item/fileChange/requestApproval``, requests from the server
  with an ``id``) when the approval policy says so; we answer ``accept``,
  ``acceptForSession`` or ``decline``. Any other request from the server gets a
  JSON-RPC error, so codex never waits on something we do not speak.

``turn/completed`` is the end: stdin is closed and app-server exits. The reply is the
turn's last ``agentMessage``. The official Python SDK (``codex_app_server``) is not
used for the same reason as claude's: it spawns the binary itself, without the
process group, ledger and scrubbed environment every run here gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyclaw.runners.contract import (
    ERROR_API,
    ERROR_BAD_OUTPUT,
    ERROR_EXIT,
    ERROR_SESSION,
    EventSink,
    JsonLineStream,
    RunEvent,
    RunRequest,
)
from tinyclaw.runners.images import sniff
from tinyclaw.runners.live_protocol import ApprovalAsk, Decision, RunControls, Send
from tinyclaw.runners.summary import (
    API_FAILED,
    Summary,
    exit_failed,
    last_line,
    shorten,
    with_detail,
)

CLIENT = {"name": "tinyclaw", "title": "tinyclaw", "version": "1"}
APPROVALS = {
    "item/commandExecution/requestApproval": "command",
    "item/fileChange/requestApproval": "file_change",
}
ANSWERS: dict[Decision, str] = {
    "allow": "accept",
    "allow_session": "acceptForSession",
    "deny": "decline",
    "timeout": "decline",
}
_OUTPUT_LIMIT = 2_000
USAGE_KEYS = {
    "input_tokens": "inputTokens",
    "cached_input_tokens": "cachedInputTokens",
    "output_tokens": "outputTokens",
}


def _text_input(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text, "text_elements": []}]


def _turn_input(text: str, images: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The first turn's input: each image codex can show as one (``localImage``: codex
    reads the file itself, which the sandbox lets it), then the text."""
    shown = [{"type": "localImage", "path": str(path)} for path in images if sniff(path)]
    return [*shown, *_text_input(text)]


def _item_event(item: dict[str, Any], started: bool) -> RunEvent | None:
    """An app-server item as the same events ``codex exec`` gives (one per command)."""
    kind = item.get("type")
    if kind == "agentMessage":
        return None if started else RunEvent("text", str(item.get("text", "")), {})
    if kind == "commandExecution":
        command = str(item.get("command", ""))
        if started:
            return RunEvent("command", command, {"status": "in_progress"})
        data = {
            "status": item.get("status"),
            "exit_code": item.get("exitCode"),
            "output": str(item.get("aggregatedOutput") or "")[-_OUTPUT_LIMIT:],
        }
        return RunEvent("command_done", command, data)
    if kind == "fileChange":
        if started:
            return None
        changes = [c for c in item.get("changes") or [] if isinstance(c, dict)]
        text = ", ".join(f"{_change_kind(c)} {c.get('path', '?')}" for c in changes)
        status = item.get("status")
        if status in ("declined", "failed"):
            kind_out = "tool_denied" if status == "declined" else "tool_failed"
            return RunEvent(kind_out, text, {"reason": str(status)})
        return RunEvent("file_change", text, {"changes": changes, "status": status})
    return None


def _change_kind(change: dict[str, Any]) -> str:
    kind = change.get("kind")
    if isinstance(kind, dict):
        return str(kind.get("type", "change"))
    return str(kind or "change")


class CodexLive(JsonLineStream):
    """Drives one app-server run and reads it; a ``LiveStream`` for the runner."""

    def __init__(
        self, request: RunRequest, controls: RunControls, emit: EventSink, approval_policy: str
    ) -> None:
        self.request = request
        self._controls = controls
        self._emit = emit
        self._policy = approval_policy
        self._send: Send | None = None
        self._next_id = 10
        self._calls: dict[int, str] = {}  # our request id -> method
        self._pending: dict[str, tuple[Any, str]] = {}  # key -> (server request id, tool)
        self._changes: dict[str, str] = {}  # fileChange item id -> "add path, …"
        self.thread_id: str | None = request.session_id
        self.turn_id: str | None = None
        self.reply: str | None = None
        self.usage: dict[str, Any] = {}
        self.status: str | None = None  # of the turn, once completed
        self.failure: str | None = None
        self.session_lost = False
        self.bad_lines = 0

    # -- Duplex --------------------------------------------------------------------------

    def started(self, send: Send) -> None:
        self._send = send
        self._call("initialize", {"clientInfo": CLIENT})
        send({"jsonrpc": "2.0", "method": "initialized"})
        params: dict[str, Any] = {"cwd": str(self.request.workspace)}
        params["approvalPolicy"] = self._policy
        if self.request.model:
            params["model"] = self.request.model
        if self.request.permission_mode:
            params["sandbox"] = self.request.permission_mode
        if self.request.persona:
            params["developerInstructions"] = self.request.persona
        if self.request.session_id:
            self._call("thread/resume", {**params, "threadId": self.request.session_id})
        else:
            self._call("thread/start", params)

    @property
    def finished(self) -> bool:
        return self.status is not None or self.failure is not None or self.session_lost

    def tick(self) -> None:
        for key in list(self._pending):
            decision = self._controls.decision(key)
            if decision is not None:
                self._answer(key, decision)
        if self.turn_id is None or self.finished:
            return
        for steer in self._controls.take_steers():
            params = {
                "threadId": self.thread_id,
                "expectedTurnId": self.turn_id,
                "input": _text_input(steer.text),
            }
            if self._call("turn/steer", params):
                self._controls.delivered(steer)
                self._emit(RunEvent("steer", steer.text, {"by": steer.by, "id": steer.id}))

    def interrupt(self) -> bool:
        if self._send is None or self.thread_id is None or self.turn_id is None:
            return False
        for key in list(self._pending):
            self._answer(key, "deny")
        return self._call("turn/interrupt", {"threadId": self.thread_id, "turnId": self.turn_id})

    # -- the stream ----------------------------------------------------------------------

    @property
    def session(self) -> str | None:
        return self.thread_id

    def feed(self, line: str) -> list[RunEvent]:
        obj = self._parse(line)
        if obj is None:
            return []
        method = obj.get("method")
        if "id" in obj and isinstance(method, str):
            return self._server_request(obj["id"], method, obj.get("params"))
        if "id" in obj:
            return self._response(obj)
        params = obj.get("params") if isinstance(obj.get("params"), dict) else {}
        assert isinstance(params, dict)
        if method in ("item/started", "item/completed") and isinstance(params.get("item"), dict):
            item = params["item"]
            if item.get("type") == "fileChange" and isinstance(item.get("changes"), list):
                changes = [c for c in item["changes"] if isinstance(c, dict)]
                self._changes[str(item.get("id"))] = ", ".join(
                    f"{_change_kind(c)} {c.get('path', '?')}" for c in changes
                )
            if method == "item/completed" and item.get("type") == "agentMessage":
                self.reply = str(item.get("text", ""))
            event = _item_event(item, started=method == "item/started")
            return [event] if event is not None else []
        if method == "thread/tokenUsage/updated":
            self._usage(params.get("tokenUsage"))
        elif method == "turn/completed" and isinstance(params.get("turn"), dict):
            return self._completed(params["turn"])
        elif method == "error" and isinstance(params.get("error"), dict):
            message = str(params["error"].get("message") or "unknown error")
            if not params.get("willRetry"):
                return [RunEvent("error", message, {})]
        return []

    def _response(self, obj: dict[str, Any]) -> list[RunEvent]:
        method = self._calls.pop(obj["id"], None) if isinstance(obj.get("id"), int) else None
        error = obj.get("error")
        result = obj.get("result") if isinstance(obj.get("result"), dict) else {}
        assert isinstance(result, dict)
        if error is not None:
            message = str(error.get("message") if isinstance(error, dict) else error)
            if method == "thread/resume":
                self.session_lost = True
                return []
            if method in ("thread/start", "turn/start", "initialize"):
                self.failure = message
                return [RunEvent("error", message, {})]
            return []  # a steer that came too late, an interrupt after the end
        if method in ("thread/start", "thread/resume"):
            thread = result.get("thread")
            if isinstance(thread, dict) and isinstance(thread.get("id"), str):
                self.thread_id = thread["id"]
            params = {
                "threadId": self.thread_id,
                "input": _turn_input(self.request.prompt, self.request.images),
            }
            self._call("turn/start", params)
        elif method == "turn/start":
            turn = result.get("turn")
            if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                self.turn_id = turn["id"]
        return []

    def _completed(self, turn: dict[str, Any]) -> list[RunEvent]:
        self.status = str(turn.get("status") or "completed")
        error = turn.get("error")
        if self.status == "failed":
            self.failure = str(error.get("message") if isinstance(error, dict) else error)
            return [RunEvent("error", self.failure, {})]
        if self.status == "completed":
            return [RunEvent("result", self.reply or "", {"usage": self.usage})]
        return []

    def _usage(self, raw: Any) -> None:
        """This run's tokens: the sum of each model call's (``last``), as exec's
        ``turn.completed`` reports them."""
        last = raw.get("last") if isinstance(raw, dict) else None
        if not isinstance(last, dict):
            return
        for ours, theirs in USAGE_KEYS.items():
            value = last.get(theirs)
            if isinstance(value, int):
                self.usage[ours] = int(self.usage.get(ours, 0)) + value

    def _server_request(self, request_id: Any, method: str, params: Any) -> list[RunEvent]:
        tool = APPROVALS.get(method)
        if tool is None or not isinstance(params, dict):
            self._raw({"id": request_id, "error": {"code": -32601, "message": "not supported"}})
            return []
        # A file change names no file in its request: its item, announced before, does.
        changes = self._changes.get(str(params.get("itemId")), "")
        detail = str(params.get("command") or changes or params.get("reason") or "")
        key = f"codex-{request_id}-{params.get('itemId', '')}"
        self._pending[key] = (request_id, tool)
        self._controls.ask(ApprovalAsk(key, tool, shorten(detail, 300), {"params": params}))
        return [RunEvent("approval", f"{tool} {shorten(detail, 300)}", {"key": key, "tool": tool})]

    def _answer(self, key: str, decision: Decision) -> None:
        request_id, tool = self._pending.pop(key)
        self._raw({"id": request_id, "result": {"decision": ANSWERS[decision]}})
        self._controls.settled(key, decision)
        self._emit(
            RunEvent(
                "approval.decided",
                f"{decision} {tool}",
                {"key": key, "tool": tool, "decision": decision},
            )
        )

    def _call(self, method: str, params: dict[str, Any]) -> bool:
        self._next_id += 1
        self._calls[self._next_id] = method
        return self._raw({"id": self._next_id, "method": method, "params": params})

    def _raw(self, obj: dict[str, Any]) -> bool:
        if self._send is None:
            return False
        return self._send({"jsonrpc": "2.0", **obj})

    # -- the verdict ---------------------------------------------------------------------

    def summary(self, exit_code: int | None, stderr: str) -> Summary:
        if self.session_lost:
            text = "Sorry, the previous conversation could not be found."
            return Summary(False, text, self.thread_id, ERROR_SESSION)
        if self.failure is not None:  # the reason is the owner's (it may name hosts)
            error = f"{ERROR_API}: {shorten(self.failure, 200)}"
            return Summary(False, API_FAILED, self.thread_id, error, None, self.usage)
        if self.status == "completed":  # a complete answer, whatever the exit signal
            return Summary(True, self.reply or "", self.thread_id, None, None, self.usage)
        if exit_code not in (0, None):
            error = with_detail(f"{ERROR_EXIT}: {exit_code}", last_line(stderr))
            return Summary(False, exit_failed(exit_code), self.thread_id, error, None, {})
        return Summary(
            False,
            "Sorry, the assistant finished without an answer.",
            self.thread_id,
            ERROR_BAD_OUTPUT,
        )
