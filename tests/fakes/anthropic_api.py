"""A loopback fake of the Anthropic Messages API, enough for the real ``claude`` CLI.

Claude Code calls only ``POST /v1/messages?beta=true`` with ``stream: true`` and reads
server-sent events: ``message_start``, ``content_block_start/delta/stop`` (``text_delta``
or, for a tool call, ``input_json_delta``), ``message_delta`` with the stop reason,
``message_stop``. An error is an HTTP status with
``{"type": "error", "error": {"type": ..., "message": ...}}`` and
``x-should-retry: false`` so the CLI gives up at once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from tests.fakes.providers import FakeProvider, Handler, RecordedRequest, Reply, iter_strings

_ids = itertools.count(1)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _is_reminder(text: str) -> bool:
    """Claude Code prepends ``<system-reminder>`` blocks to user turns; skip them."""
    return text.lstrip().startswith("<system-reminder>")


def _content_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


class AnthropicFake(FakeProvider):
    """``POST /v1/messages`` streaming scripted replies; see ``tests.fakes.providers``."""

    def is_model_request(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path.split("?")[0] == "/v1/messages"

    # -- reading requests ----------------------------------------------------------------

    @staticmethod
    def messages(body: Any) -> list[dict[str, Any]]:
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]

    def user_text(self, body: Any) -> str:
        parts: list[str] = []
        for message in self.messages(body):
            if message.get("role") == "user":
                parts.extend(iter_strings(message.get("content")))
        return "\n".join(parts)

    def last_user_text(self, body: Any) -> str:
        users = [m for m in self.messages(body) if m.get("role") == "user"]
        if not users:
            return ""
        texts = [
            str(block.get("text", ""))
            for block in _content_blocks(users[-1])
            if block.get("type") == "text" and not _is_reminder(str(block.get("text", "")))
        ]
        return texts[-1].strip() if texts else ""

    def last_turn_is_tool_result(self, body: Any) -> bool:
        users = [m for m in self.messages(body) if m.get("role") == "user"]
        return bool(users) and any(
            block.get("type") == "tool_result" for block in _content_blocks(users[-1])
        )

    def tool_results(self) -> list[str]:
        """The text of every tool result the CLI sent back, across all requests."""
        results: list[str] = []
        for request in self.model_requests():
            for message in self.messages(request.body):
                for block in _content_blocks(message):
                    if block.get("type") == "tool_result":
                        results.append("\n".join(iter_strings(block.get("content"))))
        return results

    def images(self, body: Any) -> list[tuple[str, str]]:
        """``(media_type, base64 data)`` of every image block in the users' turns."""
        found: list[tuple[str, str]] = []
        for message in self.messages(body):
            if message.get("role") != "user":
                continue
            for block in _content_blocks(message):
                source = block.get("source")
                if block.get("type") == "image" and isinstance(source, dict):
                    found.append((str(source.get("media_type")), str(source.get("data"))))
        return found

    # -- writing replies -----------------------------------------------------------------

    def respond(self, handler: Handler, body: Any, reply: Reply) -> None:
        if reply.kind == "error":
            error_type = _ERROR_TYPES.get(reply.status, "api_error")
            handler.send_json(
                reply.status,
                {"type": "error", "error": {"type": error_type, "message": reply.text}},
                headers={"x-should-retry": "false"},
            )
            return
        handler.send_sse(self._events(body, reply))

    def _events(self, body: Any, reply: Reply) -> Iterator[tuple[str, Any]]:
        model = str(body.get("model", "claude-fake")) if isinstance(body, dict) else "claude-fake"
        number = next(_ids)
        yield (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_fake_{number:06d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 10,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            },
        )
        if reply.kind == "stream_error":
            yield (
                "error",
                {"type": "error", "error": {"type": "api_error", "message": reply.text}},
            )
            return
        index = 0
        if reply.text:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": reply.text},
                },
            )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        if reply.kind == "tool":
            tool_input = reply.tool_input
            arguments = tool_input if isinstance(tool_input, str) else json.dumps(dict(tool_input))
            half = len(arguments) // 2
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": f"toolu_fake_{number:06d}",
                        "name": reply.tool_name,
                        "input": {},
                    },
                },
            )
            # Two deltas, as the real API splits the JSON: the CLI must join them.
            for piece in (arguments[:half], arguments[half:]):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        stop_reason = "tool_use" if reply.kind == "tool" else "end_turn"
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
        yield "message_stop", {"type": "message_stop"}
