"""A loopback fake of the WhatsApp Cloud API (Meta's Graph API), enough for the real
pywa to send text and files and to download the media users send.

What pywa does against it::

    POST /v{N}/{phone_id}/messages   JSON: type text | image | document | audio | video |
                                     interactive (reply buttons: 1-3, title ≤ 20, id ≤ 256)
                                     (media by uploaded ``id`` or ``link``); or
                                     ``status: read`` (+ ``typing_indicator``)
    POST /v{N}/{phone_id}/media      multipart upload (file, messaging_product, type)
    GET  /v{N}/{phone_id}            the business number (``display_phone_number``, ...);
                                     the listener's start-up check of its token
    GET  /v{N}/{media_id}            {"url": ..., "mime_type", "sha256", "file_size", "id"}
    GET  /{media_id}                 the same without a version (the Graph API allows it)
    GET  /media-download/{media_id}  the bytes at that url (bearer token required, as
                                     Meta's lookaside host requires it)
    POST /v{N}/{phone_id}/conversational_automation
                                     JSON ``commands`` (a JSON string of
                                     ``[{command_name, command_description}]``): the menu

Every call needs ``Authorization: Bearer <token>``; a wrong one is a 401 with Graph code
190, as Meta answers an expired token. Errors carry Graph's body shape
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; a 429 also
carries ``Retry-After``. A text body over 4096 characters is a 400 (code 100): the Cloud
API has no client-side check, so the fake must enforce the limit for the splitter to be
tested at all.

The other direction, Meta → us, is a signed webhook POST. :class:`WebhookSender` builds
update payloads in the 4.5-era shape pywa needs (``metadata.phone_number_id`` equal to
the listener's phone id and ``contacts[0].user_id`` present, or pywa silently drops the
update) and signs them with ``X-Hub-Signature-256: sha256=HMAC(app_secret, raw body)``.

The server runs on its own thread and loop, so sync and async tests alike drive it
through plain methods; ``tests.support.waiting`` polls for their effects.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

MAX_TEXT = 4096
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
_ids = itertools.count(1000)
_VERSION_RE = re.compile(r"^v\d+(\.\d+)?$")

# Graph error code a status gets unless the test names one (Cloud API error codes).
_DEFAULT_CODES = {
    400: 100,  # invalid parameter
    401: 190,  # access token expired / invalid
    403: 200,  # permission error
    404: 100,
    429: 130429,  # Cloud API throughput reached
    500: 1,  # unknown error
    502: 1,
    503: 2,  # service temporarily unavailable
}


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def graph_error(
    status: int, message: str, *, code: int | None = None, subcode: int | None = None
) -> dict[str, Any]:
    """The body Meta sends with an error status."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code if code is not None else _DEFAULT_CODES.get(status, 1),
        "fbtrace_id": _next_id("AfakeTrace"),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta puts on a webhook POST."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Upload:
    """One ``POST /{phone_id}/media`` the fake accepted."""

    media_id: str
    filename: str
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class SentMessage:
    """One ``POST /{phone_id}/messages`` that sent something to a user."""

    id: str
    to: str
    type: str
    text: str | None
    media_id: str | None
    filename: str | None
    caption: str | None
    reply_to: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorized: bool
    at: float


@dataclass(frozen=True)
class ScriptedError:
    status: int
    message: str = "scripted failure"
    code: int | None = None
    subcode: int | None = None
    retry_after: float | None = None


@dataclass
class _Media:
    data: bytes
    mime_type: str
    filename: str | None
    reported_size: int


@dataclass
class _State:
    """Everything a test may read; appended to only on the fake's loop."""

    requests: list[Recorded] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    typing: list[str] = field(default_factory=list)
    media_lookups: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)  # the "/" menu


class WhatsAppFake:
    """The Graph API on 127.0.0.1: start it, point the listener's ``api_base`` at
    :attr:`base_url`, add media users "sent", script errors, read what was sent."""

    def __init__(
        self,
        *,
        token: str = "fake-wa-token",
        phone_id: str = "106540352242922",
        display_phone_number: str = "15550001234",
        waba_id: str = "102290129340398",
    ) -> None:
        self.token = token
        self.phone_id = phone_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.state = _State()
        self._media: dict[str, _Media] = {}
        self._errors: dict[str, deque[ScriptedError]] = defaultdict(deque)
        self._gone: dict[str, ScriptedError] = {}  # numbers every send to fails
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> WhatsAppFake:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="whatsapp-fake", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the WhatsApp fake did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        runner = self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> WhatsAppFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Where ``graph.facebook.com`` is rewritten to (config ``api_base``)."""
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/media-download/{media_id}", self._download)
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        app.router.add_post("/{version}/{phone_id}/media", self._upload)
        app.router.add_post(
            "/{version}/{phone_id}/conversational_automation", self._conversational_automation
        )
        app.router.add_get("/{version}/{media_id}", self._media_url)
        app.router.add_get("/{media_id}", self._media_url)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]

    # -- test-side setup -----------------------------------------------------------------

    def add_media(
        self,
        data: bytes,
        mime_type: str = "application/octet-stream",
        *,
        filename: str | None = None,
        reported_size: int | None = None,
    ) -> str:
        """Media a user sent; returns its id for a webhook payload. ``reported_size``
        lets the fake lie about ``file_size``, to prove a cap is enforced while reading."""
        media_id = _next_id("")
        self._media[media_id] = _Media(
            data, mime_type, filename, len(data) if reported_size is None else reported_size
        )
        return media_id

    def fail(self, route: str, *errors: ScriptedError) -> None:
        """Answer the next requests to ``route`` with these errors, in order. Routes:
        ``messages`` (sends, reads and typing), ``media`` (uploads), ``media_url``,
        ``download``, ``phone`` (the start-up lookup of the phone number),
        ``automation`` (the command menu)."""
        self._errors[route].extend(errors)

    def number_is_gone(self, number: str, error: ScriptedError) -> None:
        """Answer every send to ``number`` with ``error``, as the Graph API does for a
        number that is not (or no longer) on WhatsApp; reads and typing are unaffected."""
        self._gone[number] = error

    @staticmethod
    def rate_limited(retry_after: float = 1.0) -> ScriptedError:
        return ScriptedError(429, "(#130429) Rate limit hit", 130429, retry_after=retry_after)

    @staticmethod
    def server_error(status: int = 500) -> ScriptedError:
        return ScriptedError(status, "An unknown error occurred")

    @staticmethod
    def forbidden() -> ScriptedError:
        return ScriptedError(403, "(#200) Permissions error", 200)

    @staticmethod
    def outside_window() -> ScriptedError:
        """What Meta answers a free-form message sent >24 h after the user's last one."""
        return ScriptedError(400, "(#131047) Re-engagement message", 131047, subcode=2494010)

    # -- what the test reads -------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        return list(self.state.messages)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.state.messages if m.text is not None]

    @property
    def uploads(self) -> list[Upload]:
        return list(self.state.uploads)

    def upload_of(self, message: SentMessage) -> Upload:
        """The uploaded file a media message refers to."""
        return next(u for u in self.state.uploads if u.media_id == message.media_id)

    def requests_to(self, method: str, path_part: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == method and path_part in r.path]

    # -- handlers --------------------------------------------------------------------------

    def _begin(self, request: web.Request, route: str) -> web.Response | None:
        """Record the call, check the bearer token, serve a scripted error if one is due."""
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        self.state.requests.append(
            Recorded(request.method, request.path_qs, authorized, time.monotonic())
        )
        if not authorized:
            return web.json_response(
                graph_error(401, "Invalid OAuth access token - Cannot parse access token"),
                status=401,
            )
        queue = self._errors.get(route)
        if not queue:
            return None
        error = queue.popleft()
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = f"{error.retry_after:g}"
        body = graph_error(error.status, error.message, code=error.code, subcode=error.subcode)
        return web.json_response(body, status=error.status, headers=headers)

    def _bad_request(self, message: str, code: int = 100) -> web.Response:
        return web.json_response(graph_error(400, message, code=code), status=400)

    async def _messages(self, request: web.Request) -> web.Response:
        if not _VERSION_RE.match(request.match_info["version"]):
            return self._bad_request("Unknown path components")
        early = self._begin(request, "messages")
        if early is not None:
            return early
        if request.match_info["phone_id"] != self.phone_id:
            return self._bad_request("Unsupported post request. Object does not exist", 100)
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return self._bad_request("Invalid JSON")
        if payload.get("messaging_product") != "whatsapp":
            return self._bad_request("The parameter messaging_product is required.")
        if payload.get("status") == "read":
            message_id = str(payload.get("message_id", ""))
            self.state.reads.append(message_id)
            if payload.get("typing_indicator"):
                self.state.typing.append(message_id)
            return web.json_response({"success": True})
        return self._send(payload)

    def _send(self, payload: dict[str, Any]) -> web.Response:
        to = payload.get("to") or payload.get("recipient")
        if not to:
            return self._bad_request("The parameter to is required.", 131008)
        gone = self._gone.get(str(to))
        if gone is not None:
            body = graph_error(gone.status, gone.message, code=gone.code, subcode=gone.subcode)
            return web.json_response(body, status=gone.status)
        kind = payload.get("type", "text")
        body = payload.get(kind)
        if not isinstance(body, dict):
            return self._bad_request(f"Param {kind} is required", 131008)
        text = caption = media_id = filename = None
        if kind == "text":
            text = str(body.get("body", ""))
            if not text:
                return self._bad_request("Param text['body'] is required", 131008)
            if len(text) > MAX_TEXT:
                return self._bad_request(
                    f"Param text['body'] must be at most {MAX_TEXT} characters long."
                )
        elif kind in MEDIA_TYPES:
            media_id = body.get("id")
            if media_id is None and "link" not in body:
                return self._bad_request(f"Param {kind}['id'] or {kind}['link'] is required")
            if media_id is not None and not any(u.media_id == media_id for u in self.state.uploads):
                return self._bad_request(f"Invalid media id {media_id}", 131053)
            caption = body.get("caption")
            filename = body.get("filename")
        elif kind == "interactive":
            problem = _interactive_problem(body)
            if problem is not None:
                return self._bad_request(problem)
            text = str((body.get("body") or {}).get("text", ""))
        else:
            return self._bad_request(f"Unsupported message type {kind}", 131051)
        context = payload.get("context") or {}
        message = SentMessage(
            id=_next_id("wamid.out"),
            to=str(to),
            type=kind,
            text=text,
            media_id=media_id,
            filename=filename,
            caption=caption,
            reply_to=context.get("message_id"),
            payload=payload,
        )
        self.state.messages.append(message)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": message.to, "wa_id": message.to}],
                "messages": [{"id": message.id}],
            }
        )

    async def _conversational_automation(self, request: web.Request) -> web.Response:
        early = self._begin(request, "automation")
        if early is not None:
            return early
        if request.match_info["phone_id"] != self.phone_id:
            return self._bad_request("Unsupported post request. Object does not exist", 100)
        payload = await request.json()
        try:
            commands = json.loads(payload.get("commands") or "[]")
        except (TypeError, json.JSONDecodeError):
            return self._bad_request("Param commands must be a JSON array")
        if not isinstance(commands, list) or len(commands) > 30:
            return self._bad_request("Param commands must be an array of at most 30")
        for command in commands:
            name = str(command.get("command_name", ""))
            if not name or len(name) > 32 or name.startswith("/"):
                return self._bad_request(f"Invalid command_name {name!r}")
            if len(str(command.get("command_description", ""))) > 256:
                return self._bad_request("command_description is longer than 256")
        self.state.commands = [dict(c) for c in commands]
        return web.json_response({"success": True})

    async def _upload(self, request: web.Request) -> web.Response:
        early = self._begin(request, "media")
        if early is not None:
            return early
        form = await request.post()
        file = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(file, web.FileField):
            return self._bad_request("messaging_product and file are required")
        data = file.file.read()
        upload = Upload(
            media_id=_next_id(""),
            filename=file.filename,
            data=data,
            mime_type=str(form.get("type") or file.content_type),
        )
        self.state.uploads.append(upload)
        self._media[upload.media_id] = _Media(data, upload.mime_type, file.filename, len(data))
        return web.json_response({"id": upload.media_id})

    async def _media_url(self, request: web.Request) -> web.Response:
        version = request.match_info.get("version")
        if version is not None and not _VERSION_RE.match(version):
            return self._bad_request("Unknown path components")
        media_id = request.match_info["media_id"]
        if media_id == self.phone_id:
            return self._phone_number(request)
        early = self._begin(request, "media_url")
        if early is not None:
            return early
        self.state.media_lookups.append(media_id)
        media = self._media.get(media_id)
        if media is None:
            return web.json_response(
                graph_error(
                    400,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist",
                    subcode=33,
                ),
                status=400,
            )
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media-download/{media_id}?ext=1&hash=fake",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.data).hexdigest(),
                "file_size": media.reported_size,
                "id": media_id,
            }
        )

    def _phone_number(self, request: web.Request) -> web.Response:
        early = self._begin(request, "phone")
        if early is not None:
            return early
        digits = self.display_phone_number
        return web.json_response(
            {
                "id": self.phone_id,
                "verified_name": "Tinyclaw Test",
                "display_phone_number": f"+{digits[0]} {digits[1:4]}-{digits[4:7]}-{digits[7:]}",
                "quality_rating": "GREEN",
                "platform_type": "CLOUD_API",
                "code_verification_status": "VERIFIED",
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        early = self._begin(request, "download")
        if early is not None:
            return early
        media_id = request.match_info["media_id"]
        media = self._media.get(media_id)
        if media is None:
            return web.Response(status=404, text="Not Found")
        self.state.downloads.append(media_id)
        return web.Response(body=media.data, content_type=media.mime_type.split(";")[0])


# -- the webhook side ----------------------------------------------------------------------


@dataclass
class WebhookSender:
    """Meta's side of the webhook: builds update payloads for one business phone number
    and POSTs them, signed, to the listener's URL."""

    url: str
    app_secret: str
    phone_id: str
    display_phone_number: str = "15550001234"
    waba_id: str = "102290129340398"
    timeout: float = 15.0

    @classmethod
    def for_fake(cls, fake: WhatsAppFake, url: str, app_secret: str) -> WebhookSender:
        return cls(url, app_secret, fake.phone_id, fake.display_phone_number, fake.waba_id)

    # -- payloads --------------------------------------------------------------------------

    def update(
        self,
        message: dict[str, Any],
        *,
        wa_id: str = "16315551234",
        name: str = "Alice",
        bsuid: str | None = None,
        phone_number_id: str | None = None,
    ) -> dict[str, Any]:
        """One ``messages`` change carrying ``message`` from the user ``wa_id``."""
        user_id = bsuid or f"US.{int(hashlib.sha256(wa_id.encode()).hexdigest()[:15], 16)}"
        message = {"from": wa_id, "from_user_id": user_id, **message}
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": phone_number_id or self.phone_id,
                                },
                                "contacts": [
                                    {
                                        "profile": {"name": name},
                                        "wa_id": wa_id,
                                        "user_id": user_id,
                                    }
                                ],
                                "messages": [message],
                            },
                        }
                    ],
                }
            ],
        }

    @staticmethod
    def _message(kind: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": extra.pop("message_id", None) or _next_id("wamid.in"),
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: content,
        }
        reply_to = extra.pop("reply_to", None)
        if reply_to is not None:
            quoted_id, quoted_from = reply_to
            message["context"] = {"from": quoted_from, "id": quoted_id}
        group_id = extra.pop("group_id", None)
        if group_id is not None:
            message["group_id"] = group_id
        return message

    def button_reply(self, button_id: str, title: str, **kwargs: Any) -> dict[str, Any]:
        """The user pressed a reply button (``button_id`` is its id, any id: a forged
        press is a test too) under the message ``reply_to=(wamid, from)``."""
        content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
        message = self._message("interactive", content, **_pop_message_args(kwargs))
        return self.update(message, **kwargs)

    def text(self, body: str, **kwargs: Any) -> dict[str, Any]:
        """A text update. kwargs: ``message_id``, ``reply_to=(wamid, from)``,
        ``group_id``, and those of :meth:`update` (``wa_id``, ``name``, ...)."""
        message = self._message("text", {"body": body}, **_pop_message_args(kwargs))
        return self.update(message, **kwargs)

    def media(
        self,
        kind: str,
        media_id: str,
        mime_type: str,
        *,
        filename: str | None = None,
        caption: str | None = None,
        voice: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """An image / document / audio / video update referring to fake media."""
        content: dict[str, Any] = {
            "id": media_id,
            "mime_type": mime_type,
            "sha256": hashlib.sha256(media_id.encode()).hexdigest(),
        }
        if filename is not None:
            content["filename"] = filename
        if caption is not None:
            content["caption"] = caption
        if voice is not None:
            content["voice"] = voice
        message = self._message(kind, content, **_pop_message_args(kwargs))
        return self.update(message, **kwargs)

    # -- posting ---------------------------------------------------------------------------

    def body_of(self, payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()

    def post(
        self,
        payload: dict[str, Any],
        *,
        signature: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """POST the update as Meta does; ``signature`` overrides (to forge one)."""
        body = self.body_of(payload)
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = signature or sign(body, self.app_secret)
        return httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)

    async def apost(
        self,
        payload: dict[str, Any],
        *,
        signature: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        body = self.body_of(payload)
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = signature or sign(body, self.app_secret)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            return await client.post(self.url, content=body, headers=headers)

    def verify(self, token: str, challenge: str = "1158201444") -> httpx.Response:
        """Meta's subscription check: GET with hub.mode/hub.verify_token/hub.challenge."""
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": token,
            "hub.challenge": challenge,
        }
        return httpx.get(self.url, params=params, timeout=self.timeout)


def _interactive_problem(body: dict[str, Any]) -> str | None:
    """What the Cloud API refuses in an interactive ``button`` message: a body text of
    1-1024 characters, 1-3 reply buttons, each title 1-20 characters and id 1-256."""
    if body.get("type") != "button":
        return f"Unsupported interactive type {body.get('type')}"
    text = str((body.get("body") or {}).get("text", ""))
    if not 1 <= len(text) <= 1024:
        return "Param interactive['body']['text'] must be between 1 and 1024 characters long."
    buttons = (body.get("action") or {}).get("buttons") or []
    if not 1 <= len(buttons) <= 3:
        return "Param interactive['action']['buttons'] must have between 1 and 3 elements."
    for button in buttons:
        reply = button.get("reply") or {}
        if not 1 <= len(str(reply.get("title", ""))) <= 20:
            return "Param interactive['action']['buttons'][]['reply']['title'] is too long."
        if not 1 <= len(str(reply.get("id", ""))) <= 256:
            return "Param interactive['action']['buttons'][]['reply']['id'] is invalid."
    return None


def _pop_message_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs.pop(k) for k in ("message_id", "reply_to", "group_id") if k in kwargs}


# -- waiting -------------------------------------------------------------------------------
