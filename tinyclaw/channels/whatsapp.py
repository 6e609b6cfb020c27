"""WhatsApp listener: the Cloud API through pywa (its asyncio flavour, ``pywa_async``).

Inbound is a webhook Meta POSTs to (``whatsapp_webhook.py``: FastAPI on uvicorn, on
``host``/``port`` from the config). Every POST must carry a valid
``X-Hub-Signature-256`` made with the app secret, so the app secret is required: pywa
would quietly stop checking signatures without one, letting anyone who finds the URL
post messages "from" any allowed number. The listener refuses to start instead.

Outbound goes through the Graph API with pywa. ``api_base`` (config) sends those calls
to a self-hosted proxy (or the tests' fake) instead of graph.facebook.com.

What is particular to WhatsApp:

* Identity: the chat and sender id is the user's WhatsApp number (``wa_id``, what
  people put in ``allow_from``); for a user whose number Meta does not share, it is
  Meta's business-scoped user id (``US.…``). Both are kept in ``meta``.
* Groups: the Cloud API is built around 1:1 chats with a business number. Meta's newer
  Groups API delivers group messages with a ``group_id``; those follow the shared
  rules (only ``allow_groups``, only when the number is @mentioned or replied to).
  Without that feature, which needs Meta's approval, only 1:1 chats exist.
* Typing: Meta's indicator needs the id of the user's message, marks it read and
  lasts 25 s, so it is refreshed every 20 s rather than every 4.
* Redelivery: Meta resends a webhook until it gets a 200. pywa's in-memory duplicate
  cache is turned off (it would also swallow the retry of a POST we failed with 500);
  the spool's dedupe by WhatsApp message id is the one that counts, across restarts.
* Media: the webhook carries only a media id; size and URL come from
  ``GET /{media_id}`` after the gate allowed the sender, and the download stops at the
  size cap whatever Meta said.
* Replies older than 24 h after the user's last message are refused by Meta (error
  131047): they go to ``failed/`` with that reason.
* Command menu: the chat commands are published as the number's conversational
  automation ``commands`` (what users see after typing "/"); a refusal is a warning.
* Uploads: the file the outbox opened is streamed to ``/{phone_id}/media``. Meta's
  limits: images 5 MB (a bigger image goes as a document), audio and video 16 MB,
  documents 100 MB; a file over its limit becomes a "not sent: too large" note.
"""

from __future__ import annotations

import contextlib
import contextvars
import mimetypes
import os
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pywa.errors import WhatsAppError
from pywa.handlers import CallbackButtonHandler, MessageHandler
from pywa.types.callback import Button as WaButton
from pywa.types.chat import ChatType
from pywa.types.others import Command
from pywa.utils import UserIdentifier
from pywa_async.client import WhatsApp
from pywa_async.types.callback import CallbackButton
from pywa_async.types.message import Message

from tinyclaw.channels.base import (
    Channel,
    IncomingFile,
    IncomingMessage,
    OutgoingFile,
    TextPart,
    read_secret,
)
from tinyclaw.channels.commands import ChatCommand
from tinyclaw.channels.formatting import whatsapp_parts
from tinyclaw.channels.live_chat import Button, Press
from tinyclaw.channels.models import AttachmentKind
from tinyclaw.channels.whatsapp_graph import GraphRewriteTransport, delivery_error, split_updates
from tinyclaw.channels.whatsapp_webhook import WebhookServer, build_app
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import (
    AttachmentTooLargeError,
    ChannelAuthError,
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TinyclawError,
    TransientDeliveryError,
    UploadTooLargeError,
)
from tinyclaw.core.home import Home

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # bigger images go as documents (Cloud API limit)
MAX_AUDIO_VIDEO_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
TYPING_INTERVAL = 20.0  # Meta's indicator lasts 25 s
_MEDIA_KINDS: tuple[tuple[str, AttachmentKind], ...] = (
    ("image", "photo"),
    ("document", "document"),
    ("audio", "audio"),
    ("video", "video"),
)
_collected: contextvars.ContextVar[list[IncomingMessage | Press]] = contextvars.ContextVar(
    "collected"
)
# A reply button's title is at most 20 characters.
_SHORT_LABELS = {"as": "Allow for session"}


class WhatsAppChannel(Channel):
    """``tinyclaw listen whatsapp``: see the module docstring."""

    name: ClassVar[str] = "whatsapp"
    text_limit: ClassVar[int] = 4096
    edits_messages: ClassVar[bool] = False  # progress "edit" falls back to notes

    def __init__(
        self,
        home: Home,
        config: ChannelConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("typing_interval", TYPING_INTERVAL)
        super().__init__(home, config, **kwargs)
        if not config.phone_id:
            raise ConfigError(
                "channels.whatsapp.phone_id: set it to the phone number id from Meta's "
                "WhatsApp > API Setup page"
            )
        self.phone_id = config.phone_id
        # A [channels.whatsapp] section without the *_env keys still means the usual names.
        self._token_env = config.token_env or "WHATSAPP_TOKEN"
        self.token = read_secret(self._token_env, "whatsapp access token")
        self.verify_token = read_secret(
            config.verify_token_env or "WHATSAPP_VERIFY_TOKEN", "whatsapp webhook verify token"
        )
        try:
            self.app_secret = read_secret(
                config.app_secret_env or "WHATSAPP_APP_SECRET", "whatsapp app secret"
            )
        except ConfigError as exc:
            # Exit 2 like a refused token: restarting cannot help, and running without
            # it would accept forged webhooks.
            raise ChannelAuthError(
                f"{exc}; refusing to start: without it nobody checks that webhooks come from Meta"
            ) from None
        if transport is None and config.api_base:
            transport = GraphRewriteTransport(config.api_base)
        self._transport = transport
        self._session: httpx.AsyncClient | None = None
        self._wa: WhatsApp | None = None
        self._server: WebhookServer | None = None
        self._last_message: OrderedDict[str, str] = OrderedDict()
        self.display_number = ""  # our number's digits, once Meta told us
        self.port = config.port

    # -- lifecycle -----------------------------------------------------------------

    @property
    def wa(self) -> WhatsApp:
        if self._wa is None:
            raise RuntimeError("the WhatsApp channel is not connected")
        return self._wa

    async def connect(self) -> None:
        self._session = httpx.AsyncClient(transport=self._transport, timeout=30.0)
        self._wa = WhatsApp(
            phone_id=self.phone_id,
            token=self.token,
            session=self._session,
            verify_token=self.verify_token,
            app_secret=self.app_secret,
            skip_duplicate_updates=False,
            user_identifier_priority=(
                UserIdentifier.WA_ID,
                UserIdentifier.BSUID,
                UserIdentifier.PARENT_BSUID,
            ),
        )
        self._wa.add_handlers(MessageHandler(self._on_message))
        self._wa.add_handlers(CallbackButtonHandler(self._on_button))
        try:
            await self._check_account()
            app = build_app(
                verify_token=self.verify_token,
                validate=self._wa.webhook_update_validator,
                handle=self._handle,
            )
            self._server = WebhookServer(
                app, self.config.host, self.config.port, self.log, on_exit=self.abort
            )
            self.port = await self._server.start()
        except BaseException:
            await self._session.aclose()
            raise

    async def _check_account(self) -> None:
        """Ask Meta about our phone number: a refused token stops the listener here
        with one line, and the answer gives the number that @mentions use."""
        try:
            number = await self.wa.get_business_phone_number()
        except (WhatsAppError, httpx.TransportError) as exc:
            error = delivery_error(exc, "checking the phone number", token_env=self._token_env)
            if isinstance(error, ChannelAuthError):
                raise error from None
            if isinstance(error, PermanentDeliveryError):
                raise ChannelAuthError(
                    f"whatsapp: phone_id {self.phone_id} is not usable with this token: {error}"
                ) from None
            self.log.warning("could not reach the Graph API (%s); receiving anyway", error)
            return
        self._learn_number(number.display_phone_number)
        self.log.info("connected as %s (%s)", number.verified_name, number.display_phone_number)

    async def disconnect(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()

    def _learn_number(self, display: str | None) -> None:
        digits = "".join(ch for ch in display or "" if ch.isdigit())
        if digits:
            self.display_number = digits
            self.mention_tokens = (f"@{digits}",)

    # -- inbound -------------------------------------------------------------------

    async def _handle(self, body: bytes) -> tuple[str, int]:
        """A verified webhook body: parse each message with pywa, queue it, then 200."""
        for single in split_updates(body):
            token = _collected.set([])
            try:
                content, status = await self.wa.webhook_update_handler(single)
                messages = _collected.get()
            finally:
                _collected.reset(token)
            if status != 200:
                return content, status
            for message in messages:
                try:
                    if isinstance(message, Press):
                        await self._press(message)
                        continue
                    await self.receive(message)
                except ChannelAuthError as exc:  # the token was revoked meanwhile
                    self.abort(exc)
                    return "Service Unavailable", 503
                except (TinyclawError, OSError) as exc:
                    # Meta retries a non-200; the dedupe key makes the retry harmless.
                    self.log.error("could not queue %s: %s", message.message_id, exc)
                    return "Internal Server Error", 500
        return "OK", 200

    async def _on_message(self, _wa: Any, msg: Message) -> None:
        """pywa's callback: translate only (no I/O); ``_handle`` does the queueing."""
        incoming = self.translate(msg)
        if incoming is not None:
            _collected.get().append(incoming)

    async def _on_button(self, _wa: Any, button: CallbackButton[Any]) -> None:
        """A reply button pressed: collected like a message, handled in ``_handle``."""
        quoted = button.reply_to_message
        user = button.from_user
        sender = user.wa_id or user.bsuid
        if quoted is None or not sender:
            return
        _collected.get().append(
            Press(
                data=str(button.data),
                chat_id=str(sender),
                message_id=str(quoted.id),
                sender_id=str(sender),
                sender_name=user.name or "",
                press_id=str(button.id),
            )
        )

    async def _press(self, press: Press) -> None:
        """WhatsApp has no "button answered" call and cannot edit the question: only a
        refused press gets a message (the worker's notice answers an accepted one)."""
        note = await self.pressed(press)
        if not note.startswith("Sent:"):
            try:
                await self.send_text(press.chat_id, note)
            except DeliveryError as exc:
                self.log.warning("could not answer a button press: %s", exc)

    def translate(self, msg: Message) -> IncomingMessage | None:
        """The pywa message as the shared code wants it; None for what we ignore
        (reactions, locations, stickers, edits)."""
        self._learn_number(msg.metadata.display_phone_number)
        files = self._files(msg)
        text = msg.text or msg.caption or ""
        if not text and not files:
            self.log.debug("ignored a %s message", msg.type)
            return None
        user = msg.from_user
        sender_id = user.wa_id or user.bsuid
        is_group = msg.chat.type == ChatType.GROUP
        quoted = msg.reply_to_message
        quoted_from = (
            "".join(ch for ch in (quoted.from_user_id or "") if ch.isdigit()) if quoted else ""
        )
        mentioned = bool(self.display_number) and quoted_from == self.display_number
        self._remember(msg.chat.id, msg.id)
        return IncomingMessage(
            chat_id=msg.chat.id,
            message_id=msg.id,
            sender_id=sender_id,
            sender_name=user.name or "",
            text=text,
            is_group=is_group,
            mentioned=mentioned,
            reply_to_message_id=quoted.id if quoted else None,
            reply_to_author=(quoted.from_user_id or "") if quoted else "",
            files=files,
            meta={"wa_id": user.wa_id, "user_id": user.bsuid, "type": str(msg.type)},
        )

    def _files(self, msg: Message) -> list[IncomingFile]:
        files: list[IncomingFile] = []
        for attr, kind in _MEDIA_KINDS:
            media = getattr(msg, attr)
            if media is None:
                continue
            if attr == "audio" and media.voice:
                kind = "voice"
            mime = media.mime_type.split(";")[0].strip()
            name = media.filename or f"{kind}{mimetypes.guess_extension(mime) or '.bin'}"
            fetch = partial(self.download, media.id)
            files.append(IncomingFile(name=name, kind=kind, fetch=fetch, mime=mime))
        return files

    async def download(self, media_id: str) -> bytes:
        """The media's bytes, never more than the cap: ``GET /{media_id}`` tells the
        size, and the stream is cut at the cap in case that was wrong."""
        limit = int(self.config.max_attachment_mb * 1024 * 1024)
        try:
            info = await self.wa.get_media_url(media_id)
            if info.file_size > limit:
                raise AttachmentTooLargeError(f"media {media_id}", size=info.file_size)
            data = bytearray()
            async with contextlib.aclosing(self.wa.stream_media(info.url)) as stream:
                async for chunk in stream:  # closed early: the connection is released
                    data.extend(chunk)
                    if len(data) > limit:
                        raise AttachmentTooLargeError(f"media {media_id}", size=None)
        except (WhatsAppError, httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise self._error(exc, f"downloading media {media_id}") from None
        return bytes(data)

    def _remember(self, chat_id: str, message_id: str) -> None:
        """The newest message per chat, for the typing indicator (bounded)."""
        self._last_message[chat_id] = message_id
        self._last_message.move_to_end(chat_id)
        while len(self._last_message) > 10_000:
            self._last_message.popitem(last=False)

    # -- outbound ------------------------------------------------------------------

    def _error(
        self, exc: Exception, what: str
    ) -> TransientDeliveryError | PermanentDeliveryError | ChannelAuthError:
        return delivery_error(exc, what, token_env=self._token_env)

    def render_markdown(self, text: str) -> list[TextPart]:
        return whatsapp_parts(text, self.text_limit)

    async def send_marked(
        self,
        chat_id: str,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        reply_to: str | None = None,
    ) -> str:
        """A message with up to three reply buttons (WhatsApp's limit), its id kept."""
        wa_buttons = [
            WaButton(title=_SHORT_LABELS.get(b.data[:2], b.label)[:20], callback_data=b.data)
            for b in buttons[:3]
        ]
        try:
            sent = await self.wa.send_message(
                to=chat_id,
                text=text[:1024] if wa_buttons else text,
                buttons=wa_buttons or None,
                reply_to_message_id=reply_to,
            )
        except (WhatsAppError, httpx.TransportError) as exc:
            raise self._error(exc, "sending a message") from None
        return str(sent.id)

    async def edit_marked(
        self, chat_id: str, message_id: str, text: str, *, buttons: Sequence[Button] = ()
    ) -> None:
        del chat_id, message_id, text, buttons
        raise PermanentDeliveryError("WhatsApp cannot edit a message")

    async def delete_marked(self, chat_id: str, message_id: str) -> None:
        del chat_id, message_id
        raise PermanentDeliveryError("WhatsApp cannot delete a message for everyone")

    async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None:
        try:
            await self.wa.send_message(to=chat_id, text=text, reply_to_message_id=reply_to)
        except (WhatsAppError, httpx.TransportError) as exc:
            raise self._error(exc, "sending a message") from None

    def max_upload_bytes(self, file: OutgoingFile) -> int | None:
        """Meta's limit for what the file will be sent as (a big image: a document)."""
        kind = file.mime.partition("/")[0]
        if kind in ("audio", "video"):
            return MAX_AUDIO_VIDEO_BYTES
        return MAX_DOCUMENT_BYTES

    async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None:
        """Send ``path`` (a caller that did not open it): opened here, streamed."""
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            file = OutgoingFile(path=path, name=path.name, size=size, mime=mime, handle=handle)
            await self.send_upload(chat_id, file, reply_to=reply_to)

    async def send_upload(
        self, chat_id: str, file: OutgoingFile, *, reply_to: str | None = None
    ) -> None:
        """Upload the open file to Meta, then send it: an image as an image when Meta
        takes it as one, anything else as a document."""
        as_image = file.mime in IMAGE_TYPES and file.size <= MAX_IMAGE_BYTES
        try:
            media = await self.wa.upload_media(file.handle, mime_type=file.mime, filename=file.name)
            if as_image:
                await self.wa.send_image(to=chat_id, image=media.id, reply_to_message_id=reply_to)
            else:
                await self.wa.send_document(
                    to=chat_id,
                    document=media.id,
                    filename=file.name,
                    mime_type=file.mime,
                    reply_to_message_id=reply_to,
                )
        except (WhatsAppError, httpx.TransportError) as exc:
            error = self._error(exc, f"sending {file.name}")
            if isinstance(exc, WhatsAppError) and exc.status_code == 413:
                raise UploadTooLargeError(str(error)) from None
            raise error from None

    async def register_commands(self, commands: Sequence[ChatCommand]) -> None:
        """The "/" menu of the business number (conversational automation)."""
        menu = [Command(name=c.name, description=c.description) for c in commands]
        try:
            await self.wa.update_conversational_automation(commands=menu)
        except (WhatsAppError, httpx.TransportError) as exc:
            error = self._error(exc, "registering the command menu")
            if isinstance(error, ChannelAuthError):  # a menu is no reason to stop
                raise PermanentDeliveryError(str(error)) from None
            raise error from None

    async def send_typing(self, chat_id: str) -> None:
        message_id = self._last_message.get(chat_id)
        if message_id is None:
            return
        try:
            await self.wa.indicate_typing(message_id)
        except (WhatsAppError, httpx.TransportError) as exc:
            error = self._error(exc, "typing indicator")
            if isinstance(error, ChannelAuthError):
                raise PermanentDeliveryError(str(error)) from None
            raise error from None
