"""Inbound policy, the same on every platform: which messages become queue files.

The order matters and is the security boundary of a listener:

1. group chats: only allowed groups, only when the bot is mentioned or replied to
   (anything else is ignored silently: a bot must not chatter in a busy group);
2. ``/pair CODE`` goes to the gate *before* the allow check (strangers pair);
3. the gate: a denied sender gets at most the gate's short answer; nothing of theirs
   is queued and no attachment is downloaded;
4. chat commands become ``kind="command"``; attachments are downloaded (size cap,
   sanitized names, into ``queue/files/<message id>/``); the message is queued once
   per platform message id, so a redelivered update is harmless.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from tinyclaw.channels.commands import WORKER_COMMANDS, parse_command
from tinyclaw.channels.gate import Gate
from tinyclaw.channels.indicator import TypingIndicator
from tinyclaw.channels.live_chat import Press
from tinyclaw.channels.models import IncomingFile, IncomingMessage, Platform
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import AttachmentTooLargeError, DeliveryError
from tinyclaw.core.fsutil import sanitize_name, unique_name
from tinyclaw.core.messages import MAX_TEXT, Attachment, Inbound, InboundKind, Quote, Sender
from tinyclaw.spool import Spool

MAX_ATTACHMENTS = 50
_MB = 1024 * 1024


def _mb(size: float) -> str:
    return f"{size / _MB:.1f} MB"


def _patterns(token: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A standalone token (``@bot hi``) and one glued to a command (``/help@bot``);
    ``ops@bot.example`` and ``@botanist`` are neither."""
    escaped = re.escape(token)
    return (
        re.compile(r"(?<!\S)" + escaped + r"(?!\w)[ \t]*", re.IGNORECASE),
        re.compile(r"^(\s*/\w+)" + escaped + r"(?!\w)", re.IGNORECASE),
    )


def strip_mentions(text: str, tokens: Sequence[str]) -> str:
    """Remove the bot's mention tokens (``@my_bot``, ``<@123>``), case-insensitively;
    a standalone token takes its following space along, a glued one keeps the command."""
    for token in tokens:
        if token:
            standalone, glued = _patterns(token)
            text = glued.sub(r"\1", standalone.sub("", text))
    return text.strip()


def mentions(text: str, tokens: Sequence[str]) -> bool:
    """Whether ``text`` names the bot by one of its tokens (same rules as stripping)."""
    for token in tokens:
        if token:
            standalone, glued = _patterns(token)
            if standalone.search(text) or glued.search(text):
                return True
    return False


class Intake:
    """Turns :class:`IncomingMessage` into queue files for one channel."""

    def __init__(
        self,
        platform: Platform,
        spool: Spool,
        gate: Gate,
        config: ChannelConfig,
        typing: TypingIndicator,
        log: logging.Logger,
    ) -> None:
        self.platform = platform
        self.spool = spool
        self.gate = gate
        self.config = config
        self.typing = typing
        self.log = log
        self.max_bytes = int(config.max_attachment_mb * _MB)

    async def receive(self, message: IncomingMessage) -> Path | None:
        channel = self.platform.name
        tokens = self.platform.mention_tokens
        if message.is_group:
            allowed = self.config.allow_groups
            if message.chat_id not in allowed and message.parent_chat_id not in allowed:
                self.log.debug(
                    "ignored a message in group %s (not in allow_groups)", message.chat_id
                )
                return None
            if not (message.mentioned or mentions(message.text, tokens)):
                return None
        text = strip_mentions(message.text, tokens)
        command = parse_command(text)
        if command is not None and command.name == "pair":
            answer = self.gate.handle_pair(channel, message.sender_id, command.args)
            await self._answer(message, answer)
            return None
        decision = self.gate.check(
            channel,
            message.sender_id,
            chat_id=message.chat_id,
            display_name=message.sender_name,
        )
        if not decision.allowed:
            self.log.info("denied a message from %s:%s", channel, message.sender_id)
            if decision.reply:
                await self._answer(message, decision.reply)
            return None

        msg_id = unique_name()
        attachments: list[Attachment] = []
        kind: InboundKind = "chat"
        if command is not None and command.name in WORKER_COMMANDS:
            kind, text = "command", command.text
        else:
            attachments, notes = await self._download(msg_id, message.files)
            text = "\n".join(part for part in (text, *notes) if part)
        inbound = Inbound(
            id=msg_id,
            channel=channel,
            chat_id=message.chat_id,
            sender=Sender(id=message.sender_id, name=message.sender_name[:512]),
            text=text[:MAX_TEXT],
            kind=kind,
            message_id=message.message_id,
            reply_to=self._quote(message),
            attachments=attachments,
            is_group=message.is_group,
            meta=dict(message.meta),
        )
        path = self.spool.put(inbound, dedupe_key=f"{message.chat_id}:{message.message_id}")
        if path is None:
            self.log.info(
                "ignored a redelivered message %s:%s", message.chat_id, message.message_id
            )
            self.spool.discard_attachments(msg_id)
            return None
        self.log.info("queued %s from %s:%s", msg_id, channel, message.sender_id)
        self.typing.start(message.chat_id)
        return path

    async def receive_approval(
        self, press: Press, *, actor: str, key: str, decision: str
    ) -> Path | None:
        """A pressed button as the ``approval`` message the worker checks; the gate
        applies as to any message (the worker then checks owner or approver). One
        press is queued once, however often the platform redelivers it."""
        channel = self.platform.name
        decided = self.gate.check(
            channel, press.sender_id, chat_id=press.chat_id, display_name=press.sender_name
        )
        if not decided.allowed:
            self.log.info("denied a button press from %s:%s", channel, press.sender_id)
            return None
        inbound = Inbound(
            id=unique_name(),
            channel=channel,
            chat_id=press.chat_id,
            sender=Sender(id=press.sender_id, name=press.sender_name[:512]),
            text=decision,
            kind="approval",
            meta={"approval": {"actor": actor, "key": key, "decision": decision}},
        )
        path = self.spool.put(inbound, dedupe_key=f"{press.chat_id}:press:{press.press_id}")
        if path is not None:
            self.log.info("queued the answer %s to %s's question", decision, actor)
        return path

    @staticmethod
    def _quote(message: IncomingMessage) -> Quote | None:
        if message.reply_to_text is None and message.reply_to_message_id is None:
            return None
        return Quote(
            text=(message.reply_to_text or "")[:MAX_TEXT],
            author=message.reply_to_author[:512],
            message_id=message.reply_to_message_id,
        )

    async def _answer(self, message: IncomingMessage, text: str) -> None:
        """A direct answer from the listener itself (pairing, denial): best effort."""
        try:
            await self.platform.send_text(message.chat_id, text, reply_to=message.message_id)
        except DeliveryError as exc:
            self.log.warning("could not answer %s: %s", message.chat_id, exc)

    async def _download(
        self, msg_id: str, files: Sequence[IncomingFile]
    ) -> tuple[list[Attachment], list[str]]:
        """Fetch what fits the cap into the spool's attachments of ``msg_id``;
        describe the rest."""
        attachments: list[Attachment] = []
        notes: list[str] = []
        used: set[str] = set()
        limit = _mb(self.max_bytes)
        for index, item in enumerate(files):
            name = sanitize_name(item.name, default=item.kind)
            if index >= MAX_ATTACHMENTS:
                notes.append(f"[attachment {name} skipped: more than {MAX_ATTACHMENTS} files]")
                continue
            if item.size is not None and item.size > self.max_bytes:
                notes.append(
                    f"[attachment {name} skipped: too large ({_mb(item.size)}; limit {limit})]"
                )
                continue
            try:
                data = await item.fetch()
            except AttachmentTooLargeError as exc:  # size known only while fetching
                size = f"{_mb(exc.size)}; " if exc.size is not None else ""
                notes.append(f"[attachment {name} skipped: too large ({size}limit {limit})]")
                continue
            except DeliveryError as exc:
                self.log.warning("could not download %s: %s", name, exc)
                notes.append(f"[attachment {name} skipped: download failed]")
                continue
            if len(data) > self.max_bytes:
                notes.append(
                    f"[attachment {name} skipped: too large ({_mb(len(data))}; limit {limit})]"
                )
                continue
            name = _unique(name, used)
            attachments.append(
                Attachment(
                    path=self.spool.save_attachment(msg_id, name, data),
                    name=name,
                    kind=item.kind,
                    mime=item.mime,
                    size=len(data),
                    duration=item.duration,
                )
            )
        return attachments, notes


def _unique(name: str, used: set[str]) -> str:
    """``photo.jpg``, ``photo-2.jpg``, …: two files of one message never collide."""
    candidate = name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    counter = 1
    while candidate.lower() in used:
        counter += 1
        candidate = f"{stem}-{counter}{dot}{ext}"
    used.add(candidate.lower())
    return candidate
