"""Claude Code's live protocol: ``-p --input-format stream-json`` with control requests.

The prompt goes to stdin as the first ``{"type": "user", …}`` line (with the
message's images as ``image`` content blocks before its text), and stdin stays open
until the final ``result``. What else travels on it (the same JSON lines the
official ``claude-agent-sdk`` writes):

* a steering line is one more user message; written mid-turn, claude shows it to the
  model in the turn that is running ("The user sent a new message while you were
  working"), so the answer reflects it;
* ``{"type": "control_request", "request": {"subtype": "interrupt"}}`` stops the turn:
  claude ends it with a ``result`` and the session stays resumable;
* with ``--permission-prompt-tool stdio`` claude asks before a tool it may not use
  with ``{"type": "control_request", "request": {"subtype": "can_use_tool", …}}`` and
  waits for our ``control_response`` (``behavior`` ``allow`` with ``updatedInput``, or
  ``deny`` with a ``message``);
* ``{"type": "control_request", "request": {"subtype": "set_model", "model": NAME}}``
  switches the model at once: the next request claude makes to the API, within the
  turn that is running, uses ``NAME`` (``/model`` in the run's chat sends it).

The SDK is not used because it cannot be given tinyclaw's process control: it spawns
claude itself, inheriting the whole environment, in our process group, without the
run ledger; the protocol is a handful of JSON lines, spoken here directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyclaw.runners.claude_stream import ClaudeStream
from tinyclaw.runners.contract import EventSink, RunEvent
from tinyclaw.runners.images import Image, load_images
from tinyclaw.runners.live_protocol import ApprovalAsk, Decision, RunControls, Send
from tinyclaw.runners.summary import shorten

DENIED = "The owner denied this tool use."
TIMED_OUT = "Nobody approved this tool use in time, so it was denied."


def user_line(text: str, images: Sequence[Image] = ()) -> dict[str, Any]:
    """A user turn; with ``images``, content blocks: each image (base64, its media
    type), then the text, the order Anthropic recommends."""
    content: str | list[dict[str, Any]] = text
    if images:
        content = [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": i.media_type, "data": i.base64},
            }
            for i in images
        ]
        content.append({"type": "text", "text": text})
    return {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
    }


def set_model_line(request_id: str, model: str) -> dict[str, Any]:
    """The control request that switches the running session to ``model``."""
    return {
        "type": "control_request",
        "request_id": request_id,
        "request": {"subtype": "set_model", "model": model},
    }


def _detail(tool: str, tool_input: dict[str, Any]) -> str:
    for key in ("command", "file_path", "notebook_path", "path", "url", "pattern"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return shorten(value, 300)
    return shorten(json.dumps(tool_input, ensure_ascii=False), 300)


class ClaudeLive(ClaudeStream):
    """A :class:`ClaudeStream` that also drives the run: a ``Duplex`` for the
    process runner. ``emit`` receives the events of what it did (steer delivered,
    approval asked and decided) in the order they happened."""

    def __init__(
        self,
        prompt: str,
        controls: RunControls,
        emit: EventSink,
        images: tuple[Path, ...] = (),
    ) -> None:
        super().__init__()
        self._prompt = prompt
        self._images = images
        self._controls = controls
        self._emit = emit
        self._send: Send | None = None
        self._pending: dict[str, dict[str, Any]] = {}  # request id -> can_use_tool request
        self._interrupts = 0
        self._switches = 0
        self._switching: dict[str, str] = {}  # set_model request id -> the model asked for
        self.steered = 0

    # -- Duplex --------------------------------------------------------------------------

    def started(self, send: Send) -> None:
        self._send = send
        send(user_line(self._prompt, load_images(self._images)))

    @property
    def finished(self) -> bool:
        return self.result is not None and not self._pending

    def tick(self) -> None:
        if self._send is None:
            return
        for request_id in list(self._pending):
            decision = self._controls.decision(request_id)
            if decision is not None:
                self._answer(request_id, decision)
        if self.result is not None:
            return  # the turn is over: a late line becomes the conversation's next turn
        model = self._controls.take_model()
        if model is not None:
            self._switches += 1
            request_id = f"tinyclaw-model-{self._switches}"
            self._switching[request_id] = model
            self._send(set_model_line(request_id, model))
        for steer in self._controls.take_steers():
            if self._send(user_line(steer.text)):
                self._controls.delivered(steer)
                self.steered += 1
                self._emit(RunEvent("steer", steer.text, {"by": steer.by, "id": steer.id}))

    def interrupt(self) -> bool:
        if self._send is None:
            return False
        for request_id in list(self._pending):  # a tool waiting for an answer: no
            self._answer(request_id, "deny")
        self._interrupts += 1
        return self._send(
            {
                "type": "control_request",
                "request_id": f"tinyclaw-interrupt-{self._interrupts}",
                "request": {"subtype": "interrupt"},
            }
        )

    # -- the stream ----------------------------------------------------------------------

    def feed(self, line: str) -> list[RunEvent]:
        obj = self._peek(line)
        if obj is not None and obj.get("type") == "control_request":
            return self._control_request(obj)
        if obj is not None and obj.get("type") == "control_response":
            return self._control_response(obj)
        if obj is not None and obj.get("type") == "control_cancel_request":
            return []
        return super().feed(line)

    @staticmethod
    def _peek(line: str) -> dict[str, Any] | None:
        if '"control_' not in line:
            return None
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    def _control_response(self, obj: dict[str, Any]) -> list[RunEvent]:
        """claude's answer to one of our requests: a model switch it made, or refused
        (it checks a name it does not know with a request of its own; refused, the run
        goes on with the model it had)."""
        response = obj.get("response")
        if not isinstance(response, dict):
            return []
        model = self._switching.pop(str(response.get("request_id") or ""), None)
        if model is None:
            return []
        if response.get("subtype") != "error":
            return [RunEvent("model", model, {"model": model})]
        error = shorten(str(response.get("error") or "refused"), 300)
        return [RunEvent("model.refused", f"{model}: {error}", {"model": model, "error": error})]

    def _control_request(self, obj: dict[str, Any]) -> list[RunEvent]:
        request_id = obj.get("request_id")
        request = obj.get("request")
        if not isinstance(request_id, str) or not isinstance(request, dict):
            return []
        if request.get("subtype") != "can_use_tool":
            self._reply(request_id, None, error=f"unsupported request {request.get('subtype')}")
            return []
        tool = str(request.get("tool_name") or "tool")
        raw = request.get("input")
        tool_input: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self._pending[request_id] = {"tool": tool, "input": tool_input}
        ask = ApprovalAsk(
            key=request_id,
            tool=tool,
            detail=_detail(tool, tool_input),
            data={"tool_use_id": request.get("tool_use_id"), "input": tool_input},
        )
        self._controls.ask(ask)
        return [RunEvent("approval", f"{tool} {ask.detail}", {"key": request_id, "tool": tool})]

    def _answer(self, request_id: str, decision: Decision) -> None:
        pending = self._pending.pop(request_id)
        if decision in ("deny", "timeout"):
            message = TIMED_OUT if decision == "timeout" else DENIED
            body: dict[str, Any] = {"behavior": "deny", "message": message}
        else:
            body = {"behavior": "allow", "updatedInput": pending["input"]}
        self._reply(request_id, body)
        self._controls.settled(request_id, decision)
        self._emit(
            RunEvent(
                "approval.decided",
                f"{decision} {pending['tool']}",
                {"key": request_id, "tool": pending["tool"], "decision": decision},
            )
        )

    def _reply(self, request_id: str, body: dict[str, Any] | None, error: str = "") -> None:
        if self._send is None:
            return
        if body is None:
            response: dict[str, Any] = {
                "subtype": "error",
                "request_id": request_id,
                "error": error,
            }
        else:
            response = {"subtype": "success", "request_id": request_id, "response": body}
        self._send({"type": "control_response", "response": response})
