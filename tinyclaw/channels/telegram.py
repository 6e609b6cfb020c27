"""The Telegram listener: python-telegram-bot's ``Bot`` with a long-polling loop.

Only the Bot API client of python-telegram-bot is used (not ``telegram.ext``): the
listener needs getUpdates, four send methods and getFile, and owning the polling loop
is what lets it tell a lost connection (retry with backoff, log it) from a revoked
token (stop with one clear line), and confirm the last update on the way out.

``base_url`` / ``base_file_url`` from the configuration point it at a self-hosted Bot
API server (``http://host:8081/bot`` and ``http://host:8081/file/bot``); calls go to
``{base_url}{token}/{method}``. Everything Telegram-specific ends here: updates become
:class:`IncomingMessage`, errors become Transient/PermanentDeliveryError.

* Forum topics: a message in a topic of a forum supergroup is its own chat for the
  rest of tinyclaw, ``"<chat id>:<topic id>"`` (its own conversation, its own typing),
  with the group as ``parent_chat_id`` so that allowing the group allows its topics.
  Every send to such a chat carries ``message_thread_id``, so continuation parts,
  files and "typing…" stay in the topic instead of falling into "General".
* Uploads stream from the file the outbox opened (``read_file_handle=False``), up to
  the Bot API's 50 MB. (A self-hosted server in ``--local`` mode takes 2000 MB, but
  nothing tells the listener which mode it runs in, so 50 MB holds everywhere.) A 413
  from the server is UploadTooLargeError, never retried.
* Reconnect waits go through the channel's injected ``sleep`` (1 s doubling to 30 s).
* Replies go out as plain text with message entities (``formatting.telegram_parts``),
  never with a parse mode: nothing needs escaping. Should Telegram still refuse a part's
  entities ("can't parse entities"), that part is sent again without them: the same
  words, unstyled, rather than no answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import mimetypes
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tinyclaw.channels.base import Channel, IncomingMessage, OutgoingFile, TextPart
from tinyclaw.channels.commands import ChatCommand
from tinyclaw.channels.formatting import telegram_parts
from tinyclaw.channels.live_chat import Button, Press, safely
from tinyclaw.channels.split import utf16_len
from tinyclaw.channels.telegram_translate import translate_message
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import (
    ChannelAuthError,
    DeliveryError,
    InvalidMessageError,
    PermanentDeliveryError,
    SpoolError,
    TinyclawError,
    TransientDeliveryError,
    UnsafePathError,
    UploadTooLargeError,
)
from tinyclaw.core.home import Home

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
ALLOWED_UPDATES = ("message", "callback_query")
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # larger images go as documents
UPLOAD_LIMIT = 50 * 1024 * 1024  # the Bot API's multipart upload limit
MAX_RECONNECT_DELAY = 30.0
# python-telegram-bot puts the token into InvalidToken's message: never show that one.
REFUSED = "telegram refused the bot token (401/404 from the Bot API)"


def _seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class RequestTooLarge(TelegramError):
    """HTTP 413 from the Bot API. python-telegram-bot reports it as a NetworkError,
    which would be retried; the request said this upload can never succeed."""


class _Request(HTTPXRequest):
    """python-telegram-bot's HTTPX backend, telling 413 apart from network trouble."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == 413:
            raise RequestTooLarge("Request Entity Too Large (413)")
        return code, payload


def split_chat(chat_id: str) -> tuple[str, int | None]:
    """``"-100123:7"`` (a forum topic) -> ("-100123", 7); a plain chat id -> (id, None)."""
    chat, sep, topic = chat_id.partition(":")
    if sep and topic.isdigit():
        return chat, int(topic)
    return chat_id, None


def translate_error(exc: TelegramError) -> DeliveryError | ChannelAuthError:
    """One place that knows which Telegram errors are worth retrying."""
    if isinstance(exc, RequestTooLarge):
        return UploadTooLargeError(str(exc))
    if isinstance(exc, RetryAfter):
        return TransientDeliveryError(str(exc), retry_after=_seconds(exc.retry_after))
    if isinstance(exc, InvalidToken):
        return ChannelAuthError(REFUSED)
    if isinstance(exc, Forbidden | BadRequest | ChatMigrated):
        return PermanentDeliveryError(str(exc))
    return TransientDeliveryError(str(exc))  # TimedOut, NetworkError, 5xx, 409, garbage


class TelegramChannel(Channel):
    name = "telegram"
    text_limit = 4096

    def __init__(
        self,
        home: Home,
        config: ChannelConfig,
        *,
        token: str,
        poll_timeout: float = 30.0,
        request_timeout: float = 20.0,
        reconnect_delay: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(home, config, **options)
        self.poll_timeout = poll_timeout
        self.reconnect_delay = reconnect_delay
        self.bot = Bot(
            token,
            base_url=config.base_url or DEFAULT_BASE_URL,
            base_file_url=config.base_file_url or DEFAULT_BASE_FILE_URL,
            request=_Request(
                connection_pool_size=8,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                connect_timeout=request_timeout,
                media_write_timeout=max(request_timeout, 60.0),
            ),
            get_updates_request=_Request(
                connection_pool_size=1,
                read_timeout=poll_timeout + request_timeout,
                connect_timeout=request_timeout,
            ),
        )
        self.bot_id: int | None = None
        self._offset: int | None = None
        self._poll_task: asyncio.Task[None] | None = None

    # -- connection ----------------------------------------------------------------

    async def connect(self) -> None:
        """getMe (the token check), deleteWebhook (polling and a webhook exclude each
        other), then start the polling loop. An unreachable server is retried with
        backoff; a refused token is fatal at once."""
        delay = 0.0
        while True:
            try:
                await self.bot.initialize()
                await self.bot.delete_webhook()
                break
            except InvalidToken:
                with contextlib.suppress(TelegramError):
                    await self.bot.shutdown()
                raise ChannelAuthError(
                    f"{REFUSED}; check {self.config.token_env} (and base_url, if you set one)"
                ) from None
            except TelegramError as exc:
                delay = min(MAX_RECONNECT_DELAY, max(self.reconnect_delay, delay * 2))
                self.log.warning("cannot reach the Bot API (%s); retrying in %.1f s", exc, delay)
                await self.sleep(delay)
        self.bot_id = self.bot.id
        self.mention_tokens = (f"@{self.bot.username}",)
        self.log.info("connected as @%s", self.bot.username)
        self._poll_task = asyncio.create_task(self._poll(), name="telegram-poll")
        self._poll_task.add_done_callback(self._poll_ended)

    def _poll_ended(self, task: asyncio.Task[None]) -> None:
        """A polling loop that died of a bug must not leave a deaf listener running."""
        if not task.cancelled() and task.exception() is not None:
            self.abort(TinyclawError(f"telegram polling stopped: {task.exception()!r}"))

    async def disconnect(self) -> None:
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._offset is not None:
            # Confirm what was handled, so a restart does not fetch it again
            # (a redelivery would be harmless, only wasteful: incoming is deduplicated).
            with contextlib.suppress(TelegramError):
                await self.bot.get_updates(offset=self._offset, timeout=0)
        with contextlib.suppress(TelegramError):
            await self.bot.shutdown()

    async def _poll(self) -> None:
        """Long-poll forever. A lost connection is retried with backoff (1 s doubling
        to 30 s) and logged once per change; a refused token aborts the listener."""
        delay = 0.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset,
                    timeout=int(self.poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                )
            except InvalidToken:
                self.abort(ChannelAuthError(f"{REFUSED}; check {self.config.token_env}"))
                return
            except RetryAfter as exc:
                await self.sleep(_seconds(exc.retry_after))
                continue
            except TimedOut:
                continue
            except TelegramError as exc:
                delay = min(MAX_RECONNECT_DELAY, max(self.reconnect_delay, delay * 2))
                self.log.warning("polling failed (%s); reconnecting in %.1f s", exc, delay)
                await self.sleep(delay)
                continue
            if delay:
                self.log.info("polling works again")
                delay = 0.0
            for update in updates:
                self._offset = update.update_id + 1
                try:
                    await self._handle(update)
                except ChannelAuthError as exc:  # a send inside intake found out
                    self.abort(exc)
                    return

    async def _handle(self, update: Update) -> None:
        """One update; a bad one is logged and skipped, never stops the loop."""
        if update.callback_query is not None:
            await self._press(update.callback_query)
            return
        message = update.message
        if message is None or message.from_user is None:
            return
        try:
            await self.receive(self.translate(message, update.update_id))
        except (InvalidMessageError, SpoolError, UnsafePathError, OSError, ValueError) as exc:
            self.log.exception("could not queue update %s: %s", update.update_id, exc)

    async def _press(self, query: CallbackQuery) -> None:
        """A button of a question: answered at once (Telegram shows a spinner until
        answerCallbackQuery), then handled like any answer."""
        message = query.message
        if message is None or query.data is None:
            await safely(lambda: self._call(query.answer()), self.log, "answer a button")
            return
        chat_id = str(message.chat.id)
        thread = getattr(message, "message_thread_id", None)
        if thread is not None and getattr(message, "is_topic_message", False):
            chat_id = f"{chat_id}:{thread}"
        press = Press(
            data=query.data,
            chat_id=chat_id,
            message_id=str(message.message_id),
            sender_id=str(query.from_user.id),
            sender_name=query.from_user.full_name,
            press_id=query.id,
        )
        try:
            note = await self.pressed(press)
        except (SpoolError, OSError, ValueError, DeliveryError) as exc:
            self.log.exception("could not handle a button press: %s", exc)
            note = "That did not work; please try again."
        await safely(lambda: self._call(query.answer(text=note[:200])), self.log, "answer a button")

    # -- inbound -------------------------------------------------------------------

    def translate(self, message: Message, update_id: int | None = None) -> IncomingMessage:
        """A Telegram message as the shared code sees it (see telegram_translate)."""
        return translate_message(
            message, bot_id=self.bot_id, fetcher=self._fetcher, update_id=update_id
        )

    def _fetcher(self, file_id: str) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            try:
                file = await self.bot.get_file(file_id)
                return bytes(await file.download_as_bytearray())
            except TelegramError as exc:
                raise _delivery_error(exc) from None

        return fetch

    # -- outbound ------------------------------------------------------------------

    def text_length(self, text: str) -> int:
        return utf16_len(text)  # Telegram counts UTF-16 code units

    def render_markdown(self, text: str) -> list[TextPart]:
        return telegram_parts(text, self.text_limit)

    async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None:
        await self.send_part(chat_id, TextPart(text), reply_to=reply_to)

    async def send_part(self, chat_id: str, part: TextPart, *, reply_to: str | None = None) -> None:
        """One message with its entities; if Telegram cannot parse them, the same text
        again without them (a styled answer is nice, an answer is what matters)."""
        chat, topic = split_chat(chat_id)
        entities = [MessageEntity(**entity) for entity in part.entities] or None
        try:
            await self.bot.send_message(
                chat_id=chat,
                text=part.text,
                entities=entities,
                message_thread_id=topic,
                reply_parameters=_reply(reply_to),
            )
            return
        except BadRequest as exc:
            if entities is None or not unparseable(exc):
                raise _call_error(exc, self.config.token_env) from None
            self.log.warning("telegram refused the formatting (%s); sending it as plain text", exc)
        except TelegramError as exc:
            raise _call_error(exc, self.config.token_env) from None
        await self.send_part(chat_id, TextPart(part.text), reply_to=reply_to)

    async def send_marked(
        self,
        chat_id: str,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        reply_to: str | None = None,
    ) -> str:
        """A plain message (a question, a status line) whose id we keep, to edit it."""
        chat, topic = split_chat(chat_id)
        try:
            sent = await self.bot.send_message(
                chat_id=chat,
                text=text,
                message_thread_id=topic,
                reply_parameters=_reply(reply_to),
                reply_markup=_keyboard(buttons),
            )
        except TelegramError as exc:
            raise _call_error(exc, self.config.token_env) from None
        return str(sent.message_id)

    async def edit_marked(
        self, chat_id: str, message_id: str, text: str, *, buttons: Sequence[Button] = ()
    ) -> None:
        """editMessageText; "message is not modified" is success (an edit retried
        after a crash)."""
        chat, _topic = split_chat(chat_id)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat,
                message_id=int(message_id),
                reply_markup=_keyboard(buttons),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise _call_error(exc, self.config.token_env) from None
        except TelegramError as exc:
            raise _call_error(exc, self.config.token_env) from None

    async def delete_marked(self, chat_id: str, message_id: str) -> None:
        chat, _topic = split_chat(chat_id)
        await self._call(self.bot.delete_message(chat_id=chat, message_id=int(message_id)))

    def max_upload_bytes(self, file: OutgoingFile) -> int | None:
        del file
        return UPLOAD_LIMIT

    async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None:
        """Send ``path`` (a caller that did not open it): opened here, streamed."""
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            file = OutgoingFile(path=path, name=path.name, size=size, mime=mime, handle=handle)
            await self.send_upload(chat_id, file, reply_to=reply_to)

    async def send_upload(
        self, chat_id: str, file: OutgoingFile, *, reply_to: str | None = None
    ) -> None:
        """Stream the open file (never read into memory): a photo as a photo when
        Telegram takes it as one, anything else as a document."""
        chat, topic = split_chat(chat_id)
        upload = InputFile(file.handle, filename=file.name, read_file_handle=False)
        if Path(file.name).suffix.lower() in PHOTO_SUFFIXES and file.size <= MAX_PHOTO_BYTES:
            call = self.bot.send_photo(
                chat_id=chat,
                photo=upload,
                message_thread_id=topic,
                reply_parameters=_reply(reply_to),
            )
        else:
            call = self.bot.send_document(
                chat_id=chat,
                document=upload,
                message_thread_id=topic,
                reply_parameters=_reply(reply_to),
            )
        await self._call(call)

    async def send_typing(self, chat_id: str) -> None:
        chat, topic = split_chat(chat_id)
        await self._call(
            self.bot.send_chat_action(
                chat_id=chat, action=ChatAction.TYPING, message_thread_id=topic
            )
        )

    async def register_commands(self, commands: Sequence[ChatCommand]) -> None:
        await self._call(
            self.bot.set_my_commands([BotCommand(c.name, c.description) for c in commands])
        )

    async def _call(self, call: Awaitable[object]) -> None:
        try:
            await call
        except TelegramError as exc:
            raise _call_error(exc, self.config.token_env) from None


def unparseable(exc: BadRequest) -> bool:
    """Telegram's answer to markup or entities it cannot read ("Bad Request: can't
    parse entities: …", "… entity …"): the text itself would be fine."""
    message = str(exc).lower()
    return "parse entities" in message or "entity" in message


def _call_error(exc: TelegramError, token_env: str | None) -> DeliveryError | ChannelAuthError:
    """A failed send: a refused token stops the listener, anything else is a
    DeliveryError."""
    if isinstance(exc, InvalidToken):
        return ChannelAuthError(f"{REFUSED}; check {token_env}")
    return _delivery_error(exc)


def _delivery_error(exc: TelegramError) -> DeliveryError:
    """The DeliveryError for a failed call (a download's InvalidToken, which ``_call``
    never lets through, counts as permanent for that one file)."""
    error = translate_error(exc)
    if isinstance(error, ChannelAuthError):
        return PermanentDeliveryError(str(error))
    return error


def _keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """One button per row: the labels are long enough to be cut off side by side."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data)] for b in buttons]
    )


def _reply(message_id: str | None) -> ReplyParameters | None:
    """Reply to the user's message when there is one; a deleted original is no reason
    to drop the answer (``allow_sending_without_reply``)."""
    if message_id is None or not message_id.isdigit():
        return None
    return ReplyParameters(message_id=int(message_id), allow_sending_without_reply=True)


__all__ = [
    "DEFAULT_BASE_FILE_URL",
    "DEFAULT_BASE_URL",
    "UPLOAD_LIMIT",
    "TelegramChannel",
    "split_chat",
    "translate_error",
]
