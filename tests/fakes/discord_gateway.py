"""The gateway half of the Discord fake: one websocket endpoint speaking Discord's
opcodes, as discord.py 2.x drives them.

    server → HELLO (op 10, heartbeat_interval)
    client → HEARTBEAT (op 1)            server → HEARTBEAT_ACK (op 11)
    client → IDENTIFY (op 2, token, intents)
             server → READY (session_id, resume_gateway_url), GUILD_CREATE per guild
             wrong token: close 4004; message_content intent not allowed: close 4014
    client → RESUME (op 6, session_id, seq) after a drop
             server → RESUMED, or INVALID_SESSION (op 9, false) for an unknown session

Frames go out as plain text JSON; discord.py asks for zlib/zstd compression in the URL
but reads text frames as they are. Every dispatch carries a sequence number kept per
session, so a resumed session continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_payloads import FakeGuild, FakeUser, snowflake

MESSAGE_CONTENT_INTENT = 1 << 15
HEARTBEAT_INTERVAL_MS = 41250


@dataclass
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    session_id: str | None = None
    seq: int = 0
    ready: bool = False


@dataclass
class GatewayLog:
    """What clients did on the gateway, for assertions."""

    identifies: list[dict[str, Any]] = field(default_factory=list)  # without the token
    resumes: int = 0
    connections_opened: int = 0


class Gateway:
    """Runs on the fake's event loop; every method here must be called there."""

    def __init__(
        self,
        *,
        token: Callable[[], str],
        bot: FakeUser,
        application_id: str,
        url: Callable[[], str],
        guilds: Callable[[], list[FakeGuild]],
        guild_payload: Callable[[FakeGuild], dict[str, Any]],
        message_content_allowed: bool,
    ) -> None:
        self._token = token
        self._bot = bot
        self._application_id = application_id
        self._url = url
        self._guilds = guilds
        self._guild_payload = guild_payload
        self.message_content_allowed = message_content_allowed
        self.log = GatewayLog()
        self.connections: list[Connection] = []
        self._sessions: dict[str, int] = {}  # session id -> last sequence number

    @property
    def ready_connections(self) -> int:
        return sum(1 for c in self.connections if c.ready and not c.ws.closed)

    def live(self) -> Connection:
        live = [c for c in self.connections if c.ready and not c.ws.closed]
        if not live:
            raise RuntimeError("no READY gateway connection (is the client connected?)")
        return live[-1]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request)
        self.connections.append(conn)
        self.log.connections_opened += 1
        await self.send_op(conn, 10, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, data = frame.get("op"), frame.get("d")
            if op == 1:
                await self.send_op(conn, 11, None)
            elif op == 2:
                await self._identify(conn, data)
            elif op == 6:
                await self._resume(conn, data)
        conn.ready = False
        return ws

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        self.log.identifies.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != self._token():
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if int(data.get("intents") or 0) & MESSAGE_CONTENT_INTENT and not (
            self.message_content_allowed
        ):
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        conn.session_id = snowflake()
        guilds = self._guilds()
        ready = {
            "v": 10,
            "user": self._bot.payload(),
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": conn.session_id,
            "resume_gateway_url": self._url(),
            "application": {"id": self._application_id, "flags": 0},
        }
        conn.ready = True
        await self.dispatch(conn, "READY", ready)
        for guild in guilds:
            await self.dispatch(conn, "GUILD_CREATE", self._guild_payload(guild))

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = str(data.get("session_id"))
        if data.get("token") != self._token() or session not in self._sessions:
            await self.send_op(conn, 9, False)
            return
        self.log.resumes += 1
        conn.session_id, conn.seq, conn.ready = session, self._sessions[session], True
        await self.dispatch(conn, "RESUMED", {})

    async def dispatch(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        conn.seq += 1
        if conn.session_id is not None:
            self._sessions[conn.session_id] = conn.seq
        await conn.ws.send_str(json.dumps({"op": 0, "t": event, "s": conn.seq, "d": data}))

    @staticmethod
    async def send_op(conn: Connection, op: int, d: Any) -> None:
        await conn.ws.send_str(json.dumps({"op": op, "d": d, "s": None, "t": None}))

    async def drop(self, code: int | None) -> None:
        """Cut the live connection: abort the TCP stream (no close frame), or close
        with ``code``. discord.py treats both as "reconnect and RESUME"."""
        conn = self.live()
        conn.ready = False
        if code is None:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        else:
            await conn.ws.close(code=code)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001)
