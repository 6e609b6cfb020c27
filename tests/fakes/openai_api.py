"""A loopback fake of the OpenAI Responses API, enough for the real ``codex`` CLI.

Codex (with a custom provider, ``wire_api = "responses"``) calls only
``POST {base_url}/responses`` with ``stream: true`` and resends the whole history in
``input`` every turn. The minimal stream it accepts: ``response.created``, one
``response.output_item.done`` per output item (an assistant ``message`` with
``output_text``, or a ``function_call`` whose ``arguments`` is a JSON *string*), then
``response.completed`` with the response id and usage. A failure inside the stream is
``response.failed``; an HTTP error carries ``{"error": {...}}``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from tests.fakes.providers import FakeProvider, Handler, RecordedRequest, Reply, iter_strings

_ids = itertools.count(1)

# Context codex injects as user messages; not what the user typed.
_INJECTED_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md", "<permissions")


_TOOL_OUTPUTS = ("function_call_output", "custom_tool_call_output")


def _is_injected(text: str) -> bool:
    return text.lstrip().startswith(_INJECTED_PREFIXES)


class OpenAIFake(FakeProvider):
    """``POST /v1/responses`` streaming scripted replies; see ``tests.fakes.providers``."""

    def is_model_request(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path.split("?")[0].endswith("/responses")

    # -- reading requests ----------------------------------------------------------------

    @staticmethod
    def items(body: Any) -> list[dict[str, Any]]:
        items = body.get("input") if isinstance(body, dict) else None
        if isinstance(items, str):
            return [{"type": "message", "role": "user", "content": items}]
        return [item for item in items or [] if isinstance(item, dict)]

    def user_text(self, body: Any) -> str:
        parts: list[str] = []
        for item in self.items(body):
            if item.get("role") == "user":
                parts.extend(iter_strings(item.get("content")))
            elif item.get("type") in _TOOL_OUTPUTS:
                parts.extend(iter_strings(item.get("output")))
        return "\n".join(parts)

    @staticmethod
    def _texts(item: dict[str, Any]) -> list[str]:
        content = item.get("content")
        if isinstance(content, str):
            return [content]
        return [
            str(part.get("text", ""))
            for part in content or []
            if isinstance(part, dict) and part.get("type") in ("input_text", "text")
        ]

    def last_user_text(self, body: Any) -> str:
        for item in reversed(self.items(body)):
            if item.get("role") != "user":
                continue
            texts = [t for t in self._texts(item) if not _is_injected(t)]
            if texts:
                return texts[-1].strip()
        return ""

    def last_turn_is_tool_result(self, body: Any) -> bool:
        items = self.items(body)
        return bool(items) and items[-1].get("type") in _TOOL_OUTPUTS

    def tool_results(self) -> list[str]:
        """The output of every tool call the CLI sent back, across all requests."""
        results: list[str] = []
        for request in self.model_requests():
            for item in self.items(request.body):
                if item.get("type") in _TOOL_OUTPUTS:
                    results.append("\n".join(iter_strings(item.get("output"))))
        return results

    def images(self, body: Any) -> list[tuple[str, str]]:
        """``(media_type, base64 data)`` of every ``input_image`` in the users' items
        (codex sends an image as a ``data:`` URL)."""
        found: list[tuple[str, str]] = []
        for item in self.items(body):
            content = item.get("content")
            if item.get("role") != "user" or not isinstance(content, list):
                continue
            for part in content:
                if isinstance(part, dict) and part.get("type") == "input_image":
                    url = str(part.get("image_url", ""))
                    head, _, data = url.partition(",")
                    found.append((head.removeprefix("data:").removesuffix(";base64"), data))
        return found

    # -- writing replies -----------------------------------------------------------------

    def respond(self, handler: Handler, body: Any, reply: Reply) -> None:
        if reply.kind == "error":
            handler.send_json(
                reply.status,
                {"error": {"message": reply.text, "type": "server_error", "code": None}},
            )
            return
        handler.send_sse(self._events(body, reply))

    def _events(self, body: Any, reply: Reply) -> Iterator[tuple[str, Any]]:
        number = next(_ids)
        response_id = f"resp_fake_{number:06d}"
        model = str(body.get("model", "gpt-fake")) if isinstance(body, dict) else "gpt-fake"
        shell = {"id": response_id, "object": "response", "model": model, "output": []}
        yield (
            "response.created",
            {"type": "response.created", "response": {**shell, "status": "in_progress"}},
        )
        if reply.kind == "stream_error":
            failed = {
                **shell,
                "status": "failed",
                "error": {"code": "server_error", "message": reply.text},
            }
            yield "response.failed", {"type": "response.failed", "response": failed}
            return
        index = 0
        if reply.text:
            message = {
                "type": "message",
                "id": f"msg_fake_{number:06d}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
            yield (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": index, "item": message},
            )
            index += 1
        if reply.kind == "tool":
            call: dict[str, Any] = {
                "id": f"fc_fake_{number:06d}",
                "call_id": f"call_fake_{number:06d}",
                "name": reply.tool_name,
                "status": "completed",
            }
            if isinstance(reply.tool_input, str):  # freeform tool such as apply_patch
                call.update(type="custom_tool_call", input=reply.tool_input)
            else:
                call.update(type="function_call", arguments=json.dumps(dict(reply.tool_input)))
            yield (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": index, "item": call},
            )
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }
        completed = {**shell, "status": "completed", "usage": usage}
        yield "response.completed", {"type": "response.completed", "response": completed}
