"""The application-command half of the Discord fake: the global command list a bot
overwrites at start-up, and the callback that acknowledges a slash command.

    PUT  /api/v10/applications/{app_id}/commands              bulk overwrite (JSON list)
    GET  /api/v10/applications/{app_id}/commands              what is registered
    POST /api/v10/interactions/{id}/{token}/callback          no bot token: the
                                                              interaction's own token

Discord's rules kept here because a real registration or answer would fail on them: a
command name is 1-32 lowercase letters, digits, ``-`` or ``_``; a description 1-100
characters; an unknown application id is a 404; a callback for an interaction the
gateway never sent (or with the wrong token) is 404 code 10062 "Unknown interaction";
a second callback for one interaction is 400 code 40060. The interactions themselves
are dispatched by :meth:`DiscordFake.push_interaction`.

Handlers return ``(status, body)``; :class:`DiscordFake` turns them into responses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_payloads import snowflake

EPHEMERAL = 1 << 6
_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
Answer = tuple[int, Any]


def _invalid(field_name: str) -> Answer:
    return 400, {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {field_name: {"_errors": [{"code": "APPLICATION_COMMAND_INVALID"}]}},
    }


@dataclass(frozen=True)
class Callback:
    """One accepted ``POST /interactions/{id}/{token}/callback``."""

    interaction_id: str
    type: int  # 4: a message now, 5: "thinking…" (deferred)
    data: dict[str, Any]

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass
class ApplicationCommands:
    """What the bot registered and which interactions it acknowledged."""

    application_id: str
    registered: list[dict[str, Any]] = field(default_factory=list)
    overwrites: int = 0
    callbacks: list[Callback] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)  # interaction id -> token

    def issue(self, interaction: dict[str, Any]) -> None:
        """Remember an interaction the gateway is about to send, so it can be answered."""
        self._tokens[str(interaction["id"])] = str(interaction["token"])

    def names(self) -> list[str]:
        return [str(command["name"]) for command in self.registered]

    def overwrite(self, application_id: str, body: Any) -> Answer:
        if application_id != self.application_id:
            return 404, {"message": "Unknown Application", "code": 10002}
        if not isinstance(body, list):
            return _invalid("_root")
        for command in body:
            if not _NAME.match(str(command.get("name") or "")):
                return _invalid("name")
            if not 1 <= len(str(command.get("description") or "")) <= 100:
                return _invalid("description")
        self.overwrites += 1
        self.registered = [
            {"id": snowflake(), "application_id": self.application_id, "version": snowflake()}
            | command
            for command in body
        ]
        return 200, self.registered

    def listing(self, application_id: str) -> Answer:
        if application_id != self.application_id:
            return 404, {"message": "Unknown Application", "code": 10002}
        return 200, self.registered

    def callback(self, interaction_id: str, token: str, body: Any) -> Answer:
        if self._tokens.get(interaction_id) != token:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if any(c.interaction_id == interaction_id for c in self.callbacks):
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        answer = Callback(interaction_id, int(body.get("type") or 0), dict(body.get("data") or {}))
        self.callbacks.append(answer)
        return 200, {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_id": snowflake(),
                "response_message_loading": answer.type == 5,
                "response_message_ephemeral": answer.ephemeral,
            }
        }
