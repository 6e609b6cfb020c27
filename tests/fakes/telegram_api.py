"""A loopback fake of the Telegram Bot API, enough for python-telegram-bot's ``Bot`` to
log in, long-poll updates, download files and send replies.

What the listener does against it::

    POST /bot{token}/getMe              401 if the token is wrong
    POST /bot{token}/deleteWebhook
    POST /bot{token}/getUpdates         offset confirms; long-polls up to ``timeout``
    POST /bot{token}/sendMessage        400 "message is too long" past 4096 UTF-16 units;
                                        400 "can't parse entities: …" for entities that
                                        break the Bot API's rules, or bad parse_mode=HTML
    POST /bot{token}/sendChatAction
    POST /bot{token}/sendDocument       multipart (the file in ``document``)
    POST /bot{token}/sendPhoto          multipart (the file in ``photo``)
    POST /bot{token}/getFile            -> file_path
    GET  /file/bot{token}/{file_path}   the bytes a test attached to an update
    POST /bot{token}/setMyCommands
    reply_markup.inline_keyboard         400 BUTTON_DATA_INVALID for callback_data over 64
                                        bytes (or empty), as the Bot API checks
    POST /bot{token}/editMessageText    400 "message to edit not found" for a message the
                                        bot did not send (or deleted); 400 "message is
                                        not modified" for the same text and keyboard;
                                        no reply_markup removes the keyboard
    POST /bot{token}/deleteMessage      400 "message to delete not found" the same way
    POST /bot{token}/answerCallbackQuery 400 "query is too old" for an unknown or
                                        already answered query id
    413 for a request body over ``max_request_bytes`` (the Bot API's 50 MB upload cap)

Requests are form-encoded (JSON-valued fields such as ``reply_parameters`` arrive as
JSON strings); every answer is ``{"ok": true, "result": …}`` or ``{"ok": false,
"error_code": N, "description": …, "parameters"?: {"retry_after": s}}`` with HTTP
status N, which is how the library picks its exception.

The server runs in its own thread with its own event loop, so a test (async or not,
in-process listener or a ``tinyclaw listen`` subprocess) drives it through thread-safe
methods: ``push_*`` queue updates, :meth:`TelegramFake.fail` scripts errors per method,
``calls`` is the record of every request. A pending ``getUpdates`` is released at
shutdown, so stopping never waits for the long-poll timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_markup import entity_problem, html_problem

MAX_TEXT = 4096
BOT_ID = 7_000_000_001
BOT_USERNAME = "tiny_claw_bot"
TOKEN = "7000000001:AAtest-token-for-the-fake"


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


BOT = FakeUser(BOT_ID, "Tiny Claw", BOT_USERNAME, is_bot=True)


@dataclass(frozen=True)
class ScriptedError:
    """The next answer of a method: HTTP ``status`` with Telegram's error body."""

    status: int
    description: str
    retry_after: int | None = None

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


SERVER_ERROR = ScriptedError(500, "Internal Server Error")
BAD_GATEWAY = ScriptedError(502, "Bad Gateway")
FORBIDDEN = ScriptedError(403, "Forbidden: bot was blocked by the user")


def rate_limited(retry_after: int) -> ScriptedError:
    return ScriptedError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it (fields decoded; uploaded files by name)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass(frozen=True)
class Sent:
    """A message the bot sent: text, or a file (``kind`` document/photo)."""

    chat_id: str
    kind: str
    message_id: int
    text: str = ""
    file_name: str | None = None
    data: bytes = b""
    reply_to: int | None = None
    thread_id: int | None = None  # message_thread_id: a forum topic
    entities: tuple[dict[str, Any], ...] = ()  # as sent (validated by the fake)
    parse_mode: str | None = None


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    message_ids: dict[str, itertools.count[int]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> path, data
    errors: dict[str, deque[ScriptedError | None]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)
    # (chat, message id) -> {"text", "markup", "deleted"}: what the chat shows now
    shown: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    queries: dict[str, bool] = field(default_factory=dict)  # callback query id -> answered
    confirmed: int = 0  # every update below this id was confirmed by an offset


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramFake:
    """``with TelegramFake() as fake:`` serves on 127.0.0.1 at an ephemeral port."""

    def __init__(self, token: str = TOKEN, *, max_request_bytes: int = 200 * 1024 * 1024) -> None:
        self.token = token
        self.max_request_bytes = max_request_bytes
        self.port = 0
        self._state = _State()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._new_update: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._file_ids = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> TelegramFake:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="telegram-fake", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Telegram fake did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._release_and_stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> TelegramFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _release_and_stop(self) -> None:
        assert self._stopping is not None and self._loop is not None
        self._stopping.set()  # a hanging getUpdates returns [] now
        self._loop.call_later(0.05, self._loop.stop)

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        self._new_update = asyncio.Condition()
        app = web.Application(client_max_size=self.max_request_bytes)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests call (thread-safe) -------------------------------------------------

    def user(
        self, user_id: int = 1001, first_name: str = "Alice", username: str | None = "alice"
    ) -> FakeUser:
        return FakeUser(user_id, first_name, username)

    def add_file(self, data: bytes, name: str = "file.bin") -> str:
        """Store bytes the bot can fetch with getFile; returns the file_id."""
        file_id = f"FILE{next(self._file_ids):05d}"
        with self._lock:
            # Telegram's own path, never the sender's name: file_123.pdf
            suffix = "".join(c for c in name.rpartition(".")[2] if c.isalnum())[:8]
            self._state.files[file_id] = (f"documents/file_{file_id}.{suffix or 'bin'}", data)
        return file_id

    def message_payload(
        self,
        sender: FakeUser,
        text: str | None = "hello",
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str = "Team",
        message_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
        document: tuple[str, bytes, str] | None = None,
        photo: bytes | None = None,
        voice: bytes | None = None,
        voice_seconds: int = 3,
        caption: str | None = None,
        declared_size: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A Bot API ``Message`` as Telegram would send it to the bot."""
        chat_key = str(chat_id if chat_id is not None else sender.id)
        if chat_type == "private":
            chat: dict[str, Any] = {
                "id": int(chat_key),
                "type": "private",
                "first_name": sender.first_name,
            }
        else:
            chat = {"id": int(chat_key), "type": chat_type, "title": chat_title}
        message: dict[str, Any] = {
            "message_id": message_id if message_id is not None else self._next_message_id(chat_key),
            "date": int(time.time()),
            "chat": chat,
            "from": sender.payload(),
        }
        if text is not None:
            message["text"] = text
        if thread_id is not None:  # a message in a forum topic
            chat["is_forum"] = True
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if entities:
            message["entities"] = entities
        if caption is not None:
            message["caption"] = caption
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if document is not None:
            name, data, mime = document
            file_id = self.add_file(data, name)
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_name": name,
                "mime_type": mime,
                "file_size": declared_size if declared_size is not None else len(data),
            }
        if photo is not None:
            small = self.add_file(photo[:10], "small.jpg")
            big = self.add_file(photo, "photo.jpg")
            message["photo"] = [
                {
                    "file_id": small,
                    "file_unique_id": "u" + small,
                    "width": 90,
                    "height": 90,
                    "file_size": 10,
                },
                {
                    "file_id": big,
                    "file_unique_id": "u" + big,
                    "width": 1280,
                    "height": 960,
                    "file_size": declared_size if declared_size is not None else len(photo),
                },
            ]
        if voice is not None:
            file_id = self.add_file(voice, "voice.ogg")
            message["voice"] = {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "duration": voice_seconds,
                "mime_type": "audio/ogg",
                "file_size": len(voice),
            }
        return message

    def push_message(
        self, sender: FakeUser, text: str | None = "hello", **kwargs: Any
    ) -> dict[str, Any]:
        """Queue a ``message`` update; returns the update (``update_id``, ``message``)."""
        return self.push_update({"message": self.message_payload(sender, text, **kwargs)})

    def push_update(self, body: dict[str, Any], update_id: int | None = None) -> dict[str, Any]:
        """Queue any update; reusing an ``update_id`` and message replays a redelivery."""
        update = {
            "update_id": update_id if update_id is not None else next(self._state.update_ids),
            **body,
        }
        self._call_soon(self._add_update(update))
        return update

    def redeliver(self, update: dict[str, Any]) -> dict[str, Any]:
        """Telegram after a restart without the offset confirmed: the same message again
        (under a fresh update id, as the server may well do)."""
        return self.push_update({"message": update["message"]})

    def fail(self, method: str, *errors: ScriptedError | None) -> None:
        """The next ``len(errors)`` calls of ``method`` get these answers, in order
        (``None``: answer that call normally)."""
        with self._lock:
            self._state.errors[method].extend(errors)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def sent(self) -> list[Sent]:
        with self._lock:
            return list(self._state.sent)

    def typing(self, chat_id: int | str | None = None) -> list[Call]:
        """The ``sendChatAction`` calls that reached the fake (to ``chat_id``)."""
        return [
            c
            for c in self.calls_to("sendChatAction")
            if chat_id is None or str(c.params.get("chat_id")) == str(chat_id)
        ]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [
            s.text
            for s in self.sent
            if s.kind == "text" and (chat_id is None or s.chat_id == str(chat_id))
        ]

    @property
    def commands(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._state.commands)

    @property
    def confirmed_offset(self) -> int:
        with self._lock:
            return self._state.confirmed

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._state.updates)

    # -- internals ---------------------------------------------------------------------

    def _next_message_id(self, chat_key: str) -> int:
        with self._lock:
            counter = self._state.message_ids.setdefault(chat_key, itertools.count(1))
            return next(counter)

    def _call_soon(self, coro: Any) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _add_update(self, update: dict[str, Any]) -> None:
        assert self._new_update is not None
        with self._lock:
            self._state.updates.append(update)
        async with self._new_update:
            self._new_update.notify_all()

    def _record(self, method: str, params: dict[str, Any], status: int = 200) -> None:
        with self._lock:
            self._state.calls.append(Call(method, params, time.monotonic(), status))

    async def _params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            raw = await request.json()
            return (raw if isinstance(raw, dict) else {}), files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read())
                params[key] = f"<file {value.filename}>"
            else:
                params[key] = _decode(str(value))
        return params, files

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params, files = await self._params(request)
        except web.HTTPRequestEntityTooLarge:
            self._record(method, {}, 413)
            return ScriptedError(413, "Request Entity Too Large").response()
        if request.match_info["token"] != self.token:
            self._record(method, params, 401)
            return ScriptedError(401, "Unauthorized").response()
        with self._lock:
            script = self._state.errors[method]
            scripted = script.popleft() if script else None
        if scripted is not None:
            self._record(method, params, scripted.status)
            return scripted.response()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._record(method, params, 404)
            return ScriptedError(404, "Not Found: method not found").response()
        result: Any = await handler(params, files)
        status = result.status if isinstance(result, web.Response) else 200
        if method != "getUpdates":
            self._record(method, params, status)  # with the status the bot got
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        with self._lock:
            match = [data for p, data in self._state.files.values() if p == path]
        self._record("download", {"path": path})
        if not match:
            return web.Response(status=404)
        return web.Response(body=match[0], content_type="application/octet-stream")

    async def _m_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {
            **BOT.payload(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any], files: Any) -> Any:
        commands = params.get("commands", [])
        with self._lock:
            self._state.commands = list(commands)
        return True

    async def _m_sendChatAction(self, params: dict[str, Any], files: Any) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        assert self._new_update is not None and self._stopping is not None
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        with self._lock:
            if offset:
                self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
                self._state.confirmed = max(self._state.confirmed, offset)
        self._record("getUpdates", params)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with self._lock:
                ready = list(self._state.updates)
            if ready or self._stopping.is_set():
                return ready
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            async with self._new_update:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout=min(remaining, 0.2))

    # -- buttons and edits -------------------------------------------------------------

    def shown(self, chat_id: int | str, message_id: int | str) -> dict[str, Any]:
        """What the chat shows for a message now: ``text``, ``markup`` (the inline
        keyboard or None) and ``deleted``."""
        with self._lock:
            return dict(self._state.shown[(str(chat_id), int(message_id))])

    def buttons(self, chat_id: int | str, message_id: int | str) -> list[dict[str, str]]:
        markup = self.shown(chat_id, message_id).get("markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def press(
        self,
        user: FakeUser,
        chat_id: int | str,
        message_id: int | str,
        data: str,
    ) -> str:
        """The user presses a button with ``data`` under a message (any data: a forged
        press is a test too); returns the callback query's id."""
        query_id = f"cq{next(self._file_ids)}"
        with self._lock:
            shown = self._state.shown.get((str(chat_id), int(message_id)), {"text": ""})
            self._state.queries[query_id] = False
        message = {
            "message_id": int(message_id),
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private", "first_name": "someone"},
            "from": BOT.payload(),
            "text": shown.get("text") or "?",
        }
        body = {
            "callback_query": {
                "id": query_id,
                "from": user.payload(),
                "message": message,
                "chat_instance": f"ci{chat_id}",
                "data": data,
            }
        }
        self.push_update(body)
        return query_id

    def query_answer(self, query_id: str) -> dict[str, Any] | None:
        """The answerCallbackQuery the bot gave ``query_id``, if any."""
        for call in self.calls_to("answerCallbackQuery"):
            if call.params.get("callback_query_id") == query_id and call.status == 200:
                return call.params
        return None

    def _remember(self, chat_id: str, message_id: int, text: str, markup: Any) -> None:
        with self._lock:
            self._state.shown[(chat_id, message_id)] = {
                "text": text,
                "markup": markup or None,
                "deleted": False,
            }

    async def _m_editMessageText(self, params: dict[str, Any], files: Any) -> Any:
        key = (str(params.get("chat_id")), int(params.get("message_id") or 0))
        text = str(params.get("text", ""))
        markup = params.get("reply_markup") or None
        problem = _markup_problem(markup)
        if problem is not None:
            return ScriptedError(400, f"Bad Request: {problem}").response()
        if utf16_len(text) > MAX_TEXT or not text.strip():
            return ScriptedError(400, "Bad Request: message text is empty or too long").response()
        with self._lock:
            shown = self._state.shown.get(key)
            if shown is None or shown["deleted"]:
                return ScriptedError(400, "Bad Request: message to edit not found").response()
            if shown["text"] == text and shown["markup"] == markup:
                return ScriptedError(
                    400,
                    "Bad Request: message is not modified: specified new message content "
                    "and reply markup are exactly the same as a current content and reply "
                    "markup of the message",
                ).response()
            shown.update(text=text, markup=markup)
        return self._sent_message(key[0], {"text": text}, None) | {"message_id": key[1]}

    async def _m_deleteMessage(self, params: dict[str, Any], files: Any) -> Any:
        key = (str(params.get("chat_id")), int(params.get("message_id") or 0))
        with self._lock:
            shown = self._state.shown.get(key)
            if shown is None or shown["deleted"]:
                return ScriptedError(400, "Bad Request: message to delete not found").response()
            shown["deleted"] = True
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: Any) -> Any:
        query_id = str(params.get("callback_query_id"))
        with self._lock:
            if self._state.queries.get(query_id, True):
                return ScriptedError(
                    400,
                    "Bad Request: query is too old and response timeout expired or "
                    "query ID is invalid",
                ).response()
            self._state.queries[query_id] = True
        return True

    def _sent_message(
        self, chat_id: str, extra: dict[str, Any], reply_to: int | None
    ) -> dict[str, Any]:
        message_id = self._next_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private", "first_name": "someone"},
            "from": BOT.payload(),
            **extra,
        }
        return message

    async def _m_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        text = str(params.get("text", ""))
        if utf16_len(text) > MAX_TEXT:
            return ScriptedError(400, "Bad Request: message is too long").response()
        if not text.strip():
            return ScriptedError(400, "Bad Request: message text is empty").response()
        entities = params.get("entities") or []
        parse_mode = params.get("parse_mode") or None
        problem = (
            entity_problem(text, entities)
            if not isinstance(entities, str)
            else "entities are not a JSON array"
        )
        if problem is None and parse_mode is not None:
            problem = html_problem(text) if parse_mode == "HTML" else "unsupported parse mode"
        if problem is not None:
            return ScriptedError(400, f"Bad Request: can't parse entities: {problem}").response()
        markup = params.get("reply_markup") or None
        markup_problem = _markup_problem(markup)
        if markup_problem is not None:
            return ScriptedError(400, f"Bad Request: {markup_problem}").response()
        chat_id = str(params["chat_id"])
        reply_to = _reply_to(params)
        message = self._sent_message(chat_id, {"text": text}, reply_to)
        self._remember(chat_id, message["message_id"], text, markup)
        with self._lock:
            self._state.sent.append(
                Sent(
                    chat_id,
                    "text",
                    message["message_id"],
                    text=text,
                    reply_to=reply_to,
                    thread_id=_thread(params),
                    entities=tuple(entities),
                    parse_mode=parse_mode,
                )
            )
        return message

    async def _send_file(
        self, kind: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if kind not in files:
            return ScriptedError(400, f"Bad Request: there is no {kind} in the request").response()
        name, data = files[kind]
        chat_id = str(params["chat_id"])
        reply_to = _reply_to(params)
        extra: dict[str, Any] = {
            kind: {"file_id": "sent" + name, "file_unique_id": "u" + name, "file_size": len(data)}
        }
        if kind == "photo":
            extra = {"photo": [{**extra["photo"], "width": 1, "height": 1}]}
        message = self._sent_message(chat_id, extra, reply_to)
        with self._lock:
            self._state.sent.append(
                Sent(
                    chat_id,
                    kind,
                    message["message_id"],
                    file_name=name,
                    data=data,
                    reply_to=reply_to,
                    thread_id=_thread(params),
                )
            )
        return message

    async def _m_sendDocument(
        self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        return await self._send_file("document", params, files)

    async def _m_sendPhoto(
        self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        return await self._send_file("photo", params, files)

    async def _m_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = str(params.get("file_id"))
        with self._lock:
            stored = self._state.files.get(file_id)
        if stored is None:
            return ScriptedError(400, "Bad Request: invalid file_id").response()
        path, data = stored
        return {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": len(data),
            "file_path": path,
        }


def _decode(value: str) -> Any:
    """Form fields that carry JSON (reply_parameters, commands) are decoded; others stay."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _markup_problem(markup: Any) -> str | None:
    """What the Bot API refuses in an inline keyboard: callback_data must be 1-64
    bytes, a button needs a text."""
    if markup is None:
        return None
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return "can't parse reply keyboard markup JSON object"
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if not button.get("text"):
                return "text buttons are unallowed in the inline keyboard"
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                return "BUTTON_DATA_INVALID"
    return None


def _thread(params: dict[str, Any]) -> int | None:
    value = params.get("message_thread_id")
    return int(value) if value not in (None, "") else None


def _reply_to(params: dict[str, Any]) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        return int(reply["message_id"])
    if "reply_to_message_id" in params:
        return int(params["reply_to_message_id"])
    return None
