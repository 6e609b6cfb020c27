"""The provider fakes themselves, spoken to with plain httpx: which reply a request
gets (marker, FIFO, echo), and what the request log keeps."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.openai_api import OpenAIFake
from tests.fakes.providers import Reply


def sse(response: httpx.Response) -> list[tuple[str, Any]]:
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def claude_text(fake: AnthropicFake, text: str) -> str:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]}
    response = httpx.post(f"{fake.url}/v1/messages?beta=true", json=body)
    deltas = [d["delta"] for name, d in sse(response) if name == "content_block_delta"]
    return "".join(d.get("text", "") for d in deltas)


def test_marker_beats_fifo_beats_echo(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(Reply.say("first in line"))
    anthropic_fake.on_marker("ZULU", Reply.say("for zulu"))
    assert claude_text(anthropic_fake, "hello ZULU") == "for zulu"
    assert claude_text(anthropic_fake, "hello ZULU") == "first in line"  # marker used up
    assert claude_text(anthropic_fake, "hello ZULU") == "echo: hello ZULU"
    assert anthropic_fake.script.pending == 0
    assert [r.body["messages"][0]["content"] for r in anthropic_fake.requests] == ["hello ZULU"] * 3


def test_the_latest_marker_in_the_conversation_wins(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.on_marker("OLD", Reply.say("old"))
    anthropic_fake.on_marker("NEW", Reply.say("new"))
    assert claude_text(anthropic_fake, "OLD then NEW") == "new"


def test_anthropic_tool_call_and_error_wire_format(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(Reply.tool("Bash", {"command": "env"}), Reply.error(529, "busy"))
    body = {"messages": [{"role": "user", "content": "x"}]}
    events = sse(httpx.post(f"{anthropic_fake.url}/v1/messages", json=body))
    partial = "".join(
        d["delta"]["partial_json"] for n, d in events if d.get("delta", {}).get("partial_json")
    )
    assert json.loads(partial) == {"command": "env"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    error = httpx.post(f"{anthropic_fake.url}/v1/messages", json=body)
    assert error.status_code == 529 and error.headers["x-should-retry"] == "false"
    assert error.json()["error"] == {"type": "overloaded_error", "message": "busy"}


def test_openai_function_call_and_echo(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(Reply.tool("exec_command", {"cmd": "ls"}))
    body = {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ]
    }
    events = sse(httpx.post(f"{openai_fake.url}/v1/responses", json=body))
    (item,) = [d["item"] for name, d in events if name == "response.output_item.done"]
    assert item["type"] == "function_call" and json.loads(item["arguments"]) == {"cmd": "ls"}
    events = sse(httpx.post(f"{openai_fake.url}/v1/responses", json=body))
    assert events[1][1]["item"]["content"][0]["text"] == "echo: hi"
    assert events[-1][0] == "response.completed"


def test_unknown_routes_are_404_and_logged_but_not_model_requests(openai_fake: OpenAIFake) -> None:
    assert httpx.get(f"{openai_fake.url}/v1/models").status_code == 404
    assert len(openai_fake.requests) == 1 and openai_fake.model_requests() == []
