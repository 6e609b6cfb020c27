"""What the Discord fake records and answers with: the requests it saw, the messages
it accepted, the errors a test scripts. Plain data, shared by :mod:`discord_api`'s
handlers and read by the tests (re-exported there)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON body with the exact Content-Type discord.py checks for."""
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass(frozen=True)
class SentFile:
    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class SentMessage:
    """One ``POST /channels/{id}/messages`` the fake accepted."""

    channel_id: str
    content: str
    files: list[SentFile]
    reference_id: str | None  # message_reference.message_id: what it replies to
    payload: dict[str, Any]  # what the client sent
    response: dict[str, Any]  # the message as the fake answered (usable as reply_to)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class ScriptedError:
    status: int
    message: str = "scripted failure"
    code: int = 0
    retry_after: float | None = None


@dataclass
class RestLog:
    """Everything REST clients did; appended to only on the fake's loop."""

    requests: list[Recorded] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    typing: list[str] = field(default_factory=list)  # channel ids
    downloads: list[str] = field(default_factory=list)  # attachment ids
    edits: list[tuple[str, str, float]] = field(default_factory=list)  # channel, message, when
