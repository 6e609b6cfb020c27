"""Telegram updates as the shared listener code sees them: :class:`IncomingMessage`.

Pure translation, no I/O: the attachments become promises (``fetcher(file_id)``) that
the listener fetches only after the gate allowed the sender. A message in a forum
topic becomes the chat ``"<chat id>:<topic id>"`` with the group as its parent (see
``telegram.py``).
"""

from __future__ import annotations

import datetime as dtm
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, MessageEntity
from telegram.constants import ChatType

from tinyclaw.channels.values import AttachmentKind, IncomingFile, IncomingMessage

Fetcher = Callable[[str], Callable[[], Awaitable[bytes]]]


def translate_message(
    message: Message,
    *,
    bot_id: int | None,
    fetcher: Fetcher,
    update_id: int | None = None,
) -> IncomingMessage:
    """A Telegram message as the shared code sees it; attachments are promises made
    by ``fetcher(file_id)``, fetched only after the gate."""
    user = message.from_user
    assert user is not None
    chat = message.chat
    is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    quoted = message.reply_to_message
    quote_text: str | None = None
    if message.quote is not None:
        quote_text = message.quote.text
    elif quoted is not None:
        quote_text = quoted.text or quoted.caption or ""
    author = ""
    if quoted is not None and quoted.from_user is not None:
        author = quoted.from_user.full_name
    meta: dict[str, Any] = {"chat_type": str(chat.type)}
    chat_id, parent = str(chat.id), None
    if message.is_topic_message and message.message_thread_id is not None:
        chat_id, parent = f"{chat.id}:{message.message_thread_id}", str(chat.id)
        meta["message_thread_id"] = message.message_thread_id
    if update_id is not None:
        meta["update_id"] = update_id
    if user.username:
        meta["username"] = user.username
    if chat.title:
        meta["chat_title"] = chat.title
    return IncomingMessage(
        chat_id=chat_id,
        parent_chat_id=parent,
        message_id=str(message.message_id),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text=message.text or message.caption or "",
        is_group=is_group,
        mentioned=mentions_bot(message, bot_id),
        reply_to_text=quote_text,
        reply_to_author=author,
        reply_to_message_id=str(quoted.message_id) if quoted is not None else None,
        files=attachments(message, fetcher),
        meta=meta,
    )


def mentions_bot(message: Message, bot_id: int | None) -> bool:
    """Replied to, or named by a text_mention entity (users without a username);
    plain ``@name`` mentions are found in the text by the shared code."""
    quoted = message.reply_to_message
    if quoted is not None and quoted.from_user is not None and quoted.from_user.id == bot_id:
        return True
    entities = (*message.entities, *message.caption_entities)
    return any(
        e.type == MessageEntity.TEXT_MENTION and e.user is not None and e.user.id == bot_id
        for e in entities
    )


def attachments(message: Message, fetcher: Fetcher) -> list[IncomingFile]:
    """Photo (the largest size), document, voice, audio and video of a message."""
    found: list[tuple[str, AttachmentKind, str, int | None, str | None, float | None]] = []
    ident = message.message_id
    if message.photo:
        photo = message.photo[-1]  # the largest size Telegram made
        found.append(
            (f"photo_{ident}.jpg", "photo", photo.file_id, photo.file_size, "image/jpeg", None)
        )
    if message.document is not None:
        doc = message.document
        name = doc.file_name or f"document_{ident}"
        found.append((name, "document", doc.file_id, doc.file_size, doc.mime_type, None))
    if message.voice is not None:
        voice = message.voice
        found.append(
            (
                f"voice_{ident}.ogg",
                "voice",
                voice.file_id,
                voice.file_size,
                voice.mime_type,
                _seconds(voice.duration),
            )
        )
    if message.audio is not None:
        audio = message.audio
        name = audio.file_name or f"audio_{ident}.mp3"
        found.append(
            (
                name,
                "audio",
                audio.file_id,
                audio.file_size,
                audio.mime_type,
                _seconds(audio.duration),
            )
        )
    if message.video is not None:
        video = message.video
        name = video.file_name or f"video_{ident}.mp4"
        found.append(
            (
                name,
                "video",
                video.file_id,
                video.file_size,
                video.mime_type,
                _seconds(video.duration),
            )
        )
    return [
        IncomingFile(
            name=name, kind=kind, fetch=fetcher(file_id), size=size, mime=mime, duration=seconds
        )
        for name, kind, file_id, size, mime, seconds in found
    ]


def _seconds(value: object) -> float | None:
    """A duration as python-telegram-bot gives it (int seconds or a timedelta)."""
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    return None
