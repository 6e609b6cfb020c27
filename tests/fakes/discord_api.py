"""A loopback fake of Discord: the REST API and the gateway websocket, enough for the
real discord.py to log in, receive messages and send replies.

What discord.py does against it::

    GET  /api/v10/users/@me                  login; 401 if the token is wrong
    GET  /api/v10/oauth2/applications/@me    application info
    GET  /api/v10/gateway(/bot)              served, though discord.py 2.x skips it
    WS   /gateway/                           see tests/fakes/discord_gateway.py
    GET  /api/v10/channels/{id}              a guild channel, thread or DM the fake knows
    GET  /api/v10/channels/{id}/messages     history, newest first (tests/fakes/discord_history.py)
    POST /api/v10/channels/{id}/messages     JSON, or multipart (payload_json + files[n])
    POST /api/v10/channels/{id}/typing       204
    PUT  /api/v10/applications/{id}/commands the slash commands (tests/fakes/discord_commands.py)
    POST /api/v10/interactions/{id}/{token}/callback   acknowledging a slash command
                                             or a button press
    PATCH  /api/v10/channels/{id}/messages/{mid}   edit; 404 code 10008 "Unknown Message"
                                             for a message the bot did not send (or
                                             deleted); ``components: []`` removes buttons
    DELETE /api/v10/channels/{id}/messages/{mid}   204; 404 code 10008 the same way
    components (on send and edit)            at most 5 action rows of at most 5 buttons;
                                             a button needs a label (≤ 80) and a
                                             custom_id of 1-100 characters, else 400 50035
    GET  /attachments/{channel}/{id}/{name}  the bytes of an attachment the test added

Discord quirks kept on purpose, because the library depends on them: JSON responses
carry ``Content-Type: application/json`` exactly (discord.py compares the header
verbatim; aiohttp's ``json_response`` would add a charset and turn every body into a
string); a 429 carries ``retry_after`` in the body, the ``Retry-After`` and
``X-RateLimit-*`` headers and ``Via`` (without ``Via`` discord.py takes a 429 for a
Cloudflare ban and raises); a message over 2000 characters is a 400 with code 50035.

The server runs in its own thread with its own event loop, so a test (async or not,
in-process listener or a ``tinyclaw listen`` subprocess) drives it through plain
thread-safe methods: :meth:`DiscordFake.push_message` dispatches a MESSAGE_CREATE,
:meth:`DiscordFake.write_offline` only stores one (written while no bot was connected),
:meth:`DiscordFake.push_interaction` an INTERACTION_CREATE (a slash command),
:meth:`DiscordFake.fail` scripts errors, :meth:`DiscordFake.drop_connection` cuts the
gateway.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from tests.fakes import discord_payloads as payloads
from tests.fakes.discord_commands import ApplicationCommands, Callback
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_history import ChannelHistory
from tests.fakes.discord_payloads import FakeGuild, FakeUser, snowflake
from tests.fakes.discord_records import (
    Recorded,
    RestLog,
    ScriptedError,
    SentFile,
    SentMessage,
    json_response,
)

MAX_CONTENT = 2000
T = TypeVar("T")
_TOO_LONG = {
    "message": "Invalid Form Body",
    "code": 50035,
    "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
}

__all__ = [
    "Callback",
    "DiscordFake",
    "FakeGuild",
    "FakeUser",
    "ScriptedError",
    "SentFile",
    "SentMessage",
]
_NO_BOT_TOKEN = frozenset({"download", "callback"})  # public URLs; the token is in the path


class DiscordFake:
    """Discord on 127.0.0.1: start it, point discord.py at :attr:`api_base` and
    :attr:`gateway_url`, push messages, read what the bot sent."""

    def __init__(
        self,
        *,
        token: str = "fake-discord-token",
        bot_name: str = "tinybot",
        message_content_allowed: bool = True,
        max_upload_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.token = token
        self.bot = FakeUser(snowflake(), bot_name, bot=True)
        self.owner = FakeUser(snowflake(), "owner")
        self.application_id = snowflake()
        self.max_upload_bytes = max_upload_bytes
        self.state = RestLog()
        self.commands = ApplicationCommands(self.application_id)
        self.guilds: list[FakeGuild] = []
        self.history = ChannelHistory()
        self.gateway = Gateway(
            token=lambda: self.token,
            bot=self.bot,
            application_id=self.application_id,
            url=lambda: self.gateway_url,
            guilds=lambda: list(self.guilds),
            guild_payload=lambda g: payloads.guild(g, bot=self.bot, owner=self.owner),
            message_content_allowed=message_content_allowed,
        )
        self._errors: dict[str, deque[ScriptedError]] = defaultdict(deque)
        # (channel, message id) -> {"content", "components", "deleted", "response"}
        self.shown: dict[tuple[str, str], dict[str, Any]] = {}
        self._files: dict[str, tuple[bytes, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> DiscordFake:
        started = threading.Event()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="discord-fake", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Discord fake did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> DiscordFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE`` (config ``api_base``)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (config ``gateway_url``)."""
        return f"ws://127.0.0.1:{self.port}/gateway/"

    async def _serve(self) -> None:
        app = web.Application(client_max_size=self.max_upload_bytes + 1024 * 1024)
        api = "/api/v{version}"
        app.router.add_get(api + "/users/@me", self._users_me)
        app.router.add_get(api + "/oauth2/applications/@me", self._application)
        app.router.add_get(api + "/gateway", self._gateway_info)
        app.router.add_get(api + "/gateway/bot", self._gateway_info)
        app.router.add_post(api + "/channels/{channel_id}/messages", self._send_message)
        app.router.add_get(api + "/channels/{channel_id}/messages", self._get_messages)
        app.router.add_get(api + "/channels/{channel_id}", self._get_channel)
        one = api + "/channels/{channel_id}/messages/{message_id}"
        app.router.add_patch(one, self._edit_message)
        app.router.add_delete(one, self._delete_message)
        app.router.add_post(api + "/channels/{channel_id}/typing", self._typing)
        commands = api + "/applications/{application_id}/commands"
        app.router.add_put(commands, self._put_commands)
        app.router.add_get(commands, self._get_commands)
        callback = api + "/interactions/{interaction_id}/{token}/callback"
        app.router.add_post(callback, self._callback)
        app.router.add_get("/attachments/{channel_id}/{file_id}/{filename}", self._download)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run ``coro`` on the fake's loop from any thread and return its result."""
        assert self._loop is not None, "start() the fake first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- test-side setup -----------------------------------------------------------------

    def user(self, username: str = "alice") -> FakeUser:
        return FakeUser(snowflake(), username)

    def add_guild(
        self,
        name: str = "guild",
        channels: Iterable[str] = ("general",),
        threads: Mapping[str, str] | None = None,
    ) -> FakeGuild:
        """A guild the bot is in; sent as GUILD_CREATE after READY (add it before
        connecting). ``threads`` maps a thread's name to its parent channel's name."""
        guild = FakeGuild(
            snowflake(),
            name,
            {ch: snowflake() for ch in channels},
            {t: (snowflake(), parent) for t, parent in (threads or {}).items()},
        )
        self.guilds.append(guild)
        return guild

    def add_attachment(
        self,
        channel_id: str,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """An attachment payload whose ``url`` the fake serves (downloads are recorded)."""
        file_id = snowflake()
        self._files[file_id] = (data, content_type)
        url = f"{self.base_url}/attachments/{channel_id}/{file_id}/{quote(filename, safe='')}"
        return {
            "id": file_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def fail(self, route: str, *errors: ScriptedError) -> None:
        """Answer the next requests to ``route`` with these errors, in order. Routes:
        ``me``, ``application``, ``gateway``, ``send_message``, ``typing``, ``download``,
        ``commands`` (registering slash commands), ``callback`` (acknowledging one),
        ``channel`` (reading a channel), ``history`` (reading its messages)."""
        self._errors[route].extend(errors)

    @staticmethod
    def rate_limited(retry_after: float) -> ScriptedError:
        return ScriptedError(429, "You are being rate limited.", 0, retry_after)

    # -- what the test reads -------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        return list(self.state.messages)

    def requests_to(self, method: str, path_part: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == method and path_part in r.path]

    @property
    def ready_connections(self) -> int:
        return self.gateway.ready_connections

    # -- gateway control (thread-safe) ---------------------------------------------------

    def message_payload(self, **kwargs: Any) -> dict[str, Any]:
        """A message payload; see :func:`tests.fakes.discord_payloads.message`."""
        return payloads.message(**kwargs)

    def push_message(self, **kwargs: Any) -> dict[str, Any]:
        """Dispatch a MESSAGE_CREATE (arguments as :meth:`message_payload`); returns it."""
        payload = payloads.message(**kwargs)
        self.history.add(payload)
        self.dispatch("MESSAGE_CREATE", payload)
        return payload

    def write_offline(self, **kwargs: Any) -> dict[str, Any]:
        """A message written while no bot is connected (arguments as
        :meth:`message_payload`): only the channel's history has it. Returns it."""
        payload = payloads.message(**kwargs)
        self.history.add(payload)
        return payload

    def push_interaction(
        self,
        name: str,
        *,
        user: FakeUser,
        channel_id: str,
        guild: FakeGuild | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Dispatch an INTERACTION_CREATE: ``user`` picked the slash command ``name``
        in ``channel_id`` (a channel or thread of ``guild``, or their DM with the bot
        when ``guild`` is None). Returns the payload; its acknowledgement shows up in
        :attr:`callbacks`."""
        if guild is None:
            channel = payloads.dm_channel(channel_id, user)
        else:
            channel = payloads.guild_channel(guild, channel_id, owner=self.owner)
        payload = payloads.interaction(
            application_id=self.application_id,
            name=name,
            user=user,
            channel=channel,
            guild_id=guild.id if guild is not None else None,
            options=options,
        )
        self.commands.issue(payload)
        self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def push_press(
        self, *, user: FakeUser, channel_id: str, message_id: str, custom_id: str
    ) -> dict[str, Any]:
        """Dispatch an INTERACTION_CREATE of type 3: ``user`` pressed the button
        ``custom_id`` under the message ``message_id`` of their DM ``channel_id`` (any
        custom_id: a forged press is a test too). Returns the payload."""
        shown = self.shown.get((channel_id, message_id))
        message = (
            dict(shown["response"])
            if shown
            else payloads.message(channel_id=channel_id, content="?", author=self.bot)
        )
        if shown:
            message.update(content=shown["content"], components=shown["components"])
        message["id"] = message_id
        channel = payloads.dm_channel(channel_id, user)
        payload: dict[str, Any] = {
            "id": snowflake(),
            "application_id": self.application_id,
            "type": 3,
            "token": "interaction-token-" + snowflake(),
            "version": 1,
            "data": {"custom_id": custom_id, "component_type": 2},
            "message": message,
            "channel": channel,
            "channel_id": channel_id,
            "user": user.payload(),
            "app_permissions": payloads.ALL_PERMISSIONS,
            "locale": "en-US",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
        }
        self.commands.issue(payload)
        self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def callback_for(self, interaction_id: str) -> Callback | None:
        return next((c for c in self.callbacks if c.interaction_id == interaction_id), None)

    def buttons(self, channel_id: str, message_id: str) -> list[dict[str, Any]]:
        shown = self.shown.get((channel_id, message_id)) or {}
        return [c for row in shown.get("components") or [] for c in row.get("components", [])]

    @property
    def callbacks(self) -> list[Callback]:
        """The interaction acknowledgements the fake accepted, oldest first."""
        return list(self.commands.callbacks)

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one dispatch (op 0) on the live, READY gateway connection."""

        async def send() -> None:
            await self.gateway.dispatch(self.gateway.live(), event, data)

        self._call(send())

    def drop_connection(self, code: int | None = None) -> None:
        """Cut the gateway: abruptly (no close frame) by default, or with a close ``code``."""
        self._call(self.gateway.drop(code))

    def send_op(self, op: int, d: Any = None) -> None:
        """Send a bare opcode, e.g. 7 (RECONNECT) or 9 (INVALID_SESSION)."""

        async def send() -> None:
            await self.gateway.send_op(self.gateway.live(), op, d)

        self._call(send())

    # -- REST handlers -------------------------------------------------------------------

    async def _begin(self, request: web.Request, route: str) -> web.Response | None:
        """Record the request, check the token, serve a scripted error if one is due."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.state.requests.append(
            Recorded(request.method, request.path, headers, time.monotonic())
        )
        if route not in _NO_BOT_TOKEN and headers.get("authorization") != f"Bot {self.token}":
            return json_response(401, {"message": "401: Unauthorized", "code": 0})
        queue = self._errors.get(route)
        if not queue:
            return None
        error = queue.popleft()
        body: dict[str, Any] = {"message": error.message, "code": error.code}
        extra: dict[str, str] = {}
        if error.status == 429:
            retry = error.retry_after or 0.0
            body.update({"retry_after": retry, "global": False})
            extra = {
                "Retry-After": str(max(1, round(retry))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(retry),
                "X-RateLimit-Bucket": "fake-bucket",
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",
            }
        return json_response(error.status, body, extra)

    async def _users_me(self, request: web.Request) -> web.Response:
        return await self._begin(request, "me") or json_response(200, self.bot.payload())

    async def _application(self, request: web.Request) -> web.Response:
        return await self._begin(request, "application") or json_response(
            200, payloads.application(self.application_id, bot=self.bot, owner=self.owner)
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        body = {"url": self.gateway_url.rstrip("/"), "shards": 1, "session_start_limit": limit}
        return await self._begin(request, "gateway") or json_response(200, body)

    async def _put_commands(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "commands")
        if early is not None:
            return early
        body = await request.json()
        return json_response(*self.commands.overwrite(request.match_info["application_id"], body))

    async def _get_commands(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "commands")
        if early is not None:
            return early
        return json_response(*self.commands.listing(request.match_info["application_id"]))

    async def _callback(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "callback")
        if early is not None:
            return early
        info = request.match_info
        body = await request.json()
        return json_response(*self.commands.callback(info["interaction_id"], info["token"], body))

    async def _typing(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "typing")
        if early is not None:
            return early
        self.state.typing.append(request.match_info["channel_id"])
        return web.Response(status=204)

    async def _download(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "download")
        if early is not None:
            return early
        found = self._files.get(request.match_info["file_id"])
        if found is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        self.state.downloads.append(request.match_info["file_id"])
        data, content_type = found
        return web.Response(body=data, headers={"Content-Type": content_type})

    async def _send_message(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "send_message")
        if early is not None:
            return early
        channel_id = request.match_info["channel_id"]
        files: list[SentFile] = []
        if request.content_type.startswith("multipart/"):
            if (request.content_length or 0) > self.max_upload_bytes:
                return json_response(413, {"message": "Request entity too large", "code": 40005})
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            for key, value in form.items():
                if key.startswith("files[") and isinstance(value, web.FileField):
                    files.append(SentFile(value.filename, value.file.read(), value.content_type))
        else:
            payload = await request.json()
        content = str(payload.get("content") or "")
        if len(content) > MAX_CONTENT:
            return json_response(400, _TOO_LONG)
        if not content and not files:
            return json_response(400, {"message": "Cannot send an empty message", "code": 50006})
        components = payload.get("components") or []
        problem = _components_problem(components)
        if problem is not None:
            return json_response(400, problem)
        reference = payload.get("message_reference") or {}
        ref_id = str(reference["message_id"]) if reference.get("message_id") else None
        response = payloads.message(channel_id=channel_id, content=content, author=self.bot)
        response["components"] = components
        self.shown[(channel_id, str(response["id"]))] = {
            "content": content,
            "components": components,
            "deleted": False,
            "response": response,
        }
        response["attachments"] = [
            self.add_attachment(channel_id, f.filename, f.data, f.content_type) for f in files
        ]
        sent = SentMessage(channel_id, content, files, ref_id, payload, response)
        self.history.add(response)
        self.state.messages.append(sent)
        return json_response(200, response)

    async def _get_messages(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "history")
        if early is not None:
            return early
        channel_id = request.match_info["channel_id"]
        if self._channel_payload(channel_id) is None:
            return json_response(404, {"message": "Unknown Channel", "code": 10003})
        return json_response(200, self.history.page(channel_id, dict(request.query)))

    async def _get_channel(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "channel")
        if early is not None:
            return early
        found = self._channel_payload(request.match_info["channel_id"])
        if found is None:
            return json_response(404, {"message": "Unknown Channel", "code": 10003})
        return json_response(200, found)

    async def _edit_message(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "edit_message")
        if early is not None:
            return early
        key = (request.match_info["channel_id"], request.match_info["message_id"])
        shown = self.shown.get(key)
        if shown is None or shown["deleted"]:
            return json_response(404, {"message": "Unknown Message", "code": 10008})
        payload = await request.json()
        if "content" in payload:
            content = str(payload.get("content") or "")
            if len(content) > MAX_CONTENT:
                return json_response(400, _TOO_LONG)
            shown["content"] = content
        if "components" in payload:
            problem = _components_problem(payload["components"] or [])
            if problem is not None:
                return json_response(400, problem)
            shown["components"] = payload["components"] or []
        self.state.edits.append((key[0], key[1], time.monotonic()))
        response = {**shown["response"], "content": shown["content"]}
        response["components"] = shown["components"]
        response["edited_timestamp"] = payloads.now()
        return json_response(200, response)

    async def _delete_message(self, request: web.Request) -> web.Response:
        early = await self._begin(request, "delete_message")
        if early is not None:
            return early
        key = (request.match_info["channel_id"], request.match_info["message_id"])
        shown = self.shown.get(key)
        if shown is None or shown["deleted"]:
            return json_response(404, {"message": "Unknown Message", "code": 10008})
        shown["deleted"] = True
        return web.Response(status=204)

    def _channel_payload(self, channel_id: str) -> dict[str, Any] | None:
        """A guild's channel or thread, or a DM: a channel with messages and no guild,
        whose other party is the first non-bot author."""
        for guild in self.guilds:
            if channel_id in guild.channels.values() or any(
                tid == channel_id for tid, _ in guild.threads.values()
            ):
                return payloads.guild_channel(guild, channel_id, owner=self.owner)
        for message in self.history.known(channel_id):
            if "guild_id" not in message and not message["author"].get("bot"):
                author = message["author"]
                return payloads.dm_channel(channel_id, FakeUser(author["id"], author["username"]))
        return None


def _components_problem(rows: Any) -> dict[str, Any] | None:
    """Discord's limits on message components, as a 50035 body (None: fine)."""

    def invalid(what: str) -> dict[str, Any]:
        return {
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"components": {"_errors": [{"code": what}]}},
        }

    if not isinstance(rows, list) or len(rows) > 5:
        return invalid("BASE_TYPE_BAD_LENGTH")
    for row in rows:
        buttons = row.get("components") if isinstance(row, dict) else None
        if row.get("type") != 1 or not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
            return invalid("COMPONENT_LAYOUT_WIDTH_EXCEEDED")
        for button in buttons:
            custom_id = str(button.get("custom_id") or "")
            label = str(button.get("label") or "")
            if button.get("type") != 2 or not 1 <= len(custom_id) <= 100 or len(label) > 80:
                return invalid("BUTTON_COMPONENT_INVALID")
    return None
