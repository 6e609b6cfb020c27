"""Discord ↔ tinyclaw translation: a discord.py message or slash-command interaction
becomes an :class:`IncomingMessage`, the chat commands become Discord's application
command payloads, a discord.py or aiohttp failure becomes one of the two delivery
errors. Pure functions over library objects, no connection state, so
:mod:`tinyclaw.channels.discord` stays about connecting and sending.

Imported only by the Discord listener (it imports discord.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import aiohttp
import discord

from tinyclaw.channels.commands import ChatCommand
from tinyclaw.channels.models import AttachmentKind, IncomingFile, IncomingMessage
from tinyclaw.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")

# Discord's application command vocabulary (API v10).
CHAT_INPUT = 1  # a slash command
STRING_OPTION = 3
CONTEXT_GUILD, CONTEXT_BOT_DM = 0, 1
GUILD_INSTALL = 0
# The one option a command of ours takes, by command name: (name, description, required).
# What the user fills in is appended to the command text, as if typed: "/reset @coder".
COMMAND_OPTIONS: dict[str, tuple[str, str, bool]] = {
    "reset": (
        "actor",
        "The actor to start afresh with, e.g. @coder (default: the usual one)",
        False,
    ),
    "pair": ("code", "The pairing code the owner gave you", True),
    "model": ("name", "The model to switch to, or default (empty: show the current one)", False),
    "cost": ("scope", "all: everyone's spend (owners only); empty: this chat", False),
}

# What a REST call may raise besides our own errors (RateLimited is not an HTTPException).
LIBRARY_ERRORS = (
    discord.HTTPException,
    discord.RateLimited,
    aiohttp.ClientError,
    OSError,
    asyncio.TimeoutError,
)


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """Map what discord.py and aiohttp raise to the shared code's two kinds of failure:
    transient (network, 5xx, 408, 429 with its ``retry_after``) or permanent (the
    other 4xx: 400 bad request, 403 missing access, 404 unknown channel)."""
    if isinstance(exc, discord.RateLimited):
        return TransientDeliveryError(f"{what}: rate limited", retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        detail = f"{what}: HTTP {exc.status} (code {exc.code}) {exc.text}".rstrip()
        if exc.status == 429:
            return TransientDeliveryError(detail, retry_after=_retry_after(exc.response))
        if exc.status >= 500 or exc.status == 408:
            return TransientDeliveryError(detail)
        return PermanentDeliveryError(detail)
    return TransientDeliveryError(f"{what}: {type(exc).__name__}: {exc}")


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return float(headers[name])
    return None


def attachment_kind(attachment: discord.Attachment) -> AttachmentKind:
    if attachment.is_voice_message():
        return "voice"
    mime = (attachment.content_type or "").split(";")[0].strip().lower()
    if mime.startswith("image/"):
        return "photo"
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    return "document"


def incoming_file(attachment: discord.Attachment) -> IncomingFile:
    """A promise of the attachment's bytes: fetched only if the gate lets it through."""

    async def fetch() -> bytes:
        try:
            return await attachment.read()
        except LIBRARY_ERRORS as exc:
            raise delivery_error(exc, f"download of {attachment.filename}") from exc

    return IncomingFile(
        name=attachment.filename,
        kind=attachment_kind(attachment),
        fetch=fetch,
        size=attachment.size,
        mime=attachment.content_type,
        duration=attachment.duration,  # set for voice messages
    )


def translate(message: discord.Message, me: discord.abc.User) -> IncomingMessage:
    """A discord.py message as the shared code wants it (no policy applied).

    ``mentioned`` is set for a mention of the bot's user or of its managed role (what
    Discord's autocomplete often picks), and for a reply to one of the bot's messages;
    those mentions are removed from the text, other mentions become readable names.
    """
    guild = message.guild
    self_role = guild.self_role if guild is not None else None
    mentioned = any(user.id == me.id for user in message.mentions) or (
        self_role is not None and self_role.id in message.raw_role_mentions
    )
    own = [f"<@!?{me.id}>"] + ([f"<@&{self_role.id}>"] if self_role is not None else [])
    text = re.sub("(?:" + "|".join(own) + ")[ \t]?", "", message.content)
    text = readable(text.strip(), message)

    reference = message.reference
    quoted = reference.resolved if reference is not None else None
    reply_text: str | None = None
    reply_author = ""
    if isinstance(quoted, discord.Message):
        reply_text, reply_author = quoted.content, quoted.author.display_name
        mentioned = mentioned or quoted.author.id == me.id
    meta: dict[str, Any] = {}
    parent: str | None = None
    if guild is not None:
        meta = {
            "guild_id": str(guild.id),
            "guild": guild.name,
            "channel": getattr(message.channel, "name", None),
        }
        if isinstance(message.channel, discord.Thread):
            parent = str(message.channel.parent_id)
            meta["parent_channel_id"] = parent
    return IncomingMessage(
        chat_id=str(message.channel.id),
        message_id=str(message.id),
        sender_id=str(message.author.id),
        sender_name=message.author.display_name,
        text=text,
        is_group=not isinstance(message.channel, discord.DMChannel),
        mentioned=mentioned,
        reply_to_text=reply_text,
        reply_to_author=reply_author,
        reply_to_message_id=(
            str(reference.message_id) if reference is not None and reference.message_id else None
        ),
        parent_chat_id=parent,
        files=[incoming_file(a) for a in message.attachments],
        meta=meta,
    )


def readable(text: str, message: discord.Message) -> str:
    """Other people's, roles' and channels' mentions as names (``@bob``, ``#general``),
    because the actor reads plain text, not ``<@123>``."""
    users = {user.id: user.display_name for user in message.mentions}
    roles = {role.id: role.name for role in message.role_mentions}
    guild = message.guild

    def user(match: re.Match[str]) -> str:
        return "@" + users.get(int(match[1]), "unknown-user")

    def role(match: re.Match[str]) -> str:
        return "@" + roles.get(int(match[1]), "unknown-role")

    def channel(match: re.Match[str]) -> str:
        found = guild.get_channel(int(match[1])) if guild is not None else None
        return "#" + (found.name if found is not None else "unknown-channel")

    text = _USER_MENTION.sub(user, text)
    text = _ROLE_MENTION.sub(role, text)
    return _CHANNEL_MENTION.sub(channel, text)


def command_payloads(commands: Sequence[ChatCommand]) -> list[dict[str, Any]]:
    """The chat commands as global application commands, for Discord's bulk overwrite
    (``PUT /applications/{id}/commands``): slash commands usable in guild channels and
    in the bot's DMs (not in other people's DMs or group DMs, where the bot cannot post
    the answer)."""
    payloads: list[dict[str, Any]] = []
    for command in commands:
        payload: dict[str, Any] = {
            "type": CHAT_INPUT,
            "name": command.name,
            "description": command.description[:100],
            "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM],
            "integration_types": [GUILD_INSTALL],
        }
        option = COMMAND_OPTIONS.get(command.name)
        if option is not None:
            name, description, required = option
            payload["options"] = [
                {
                    "type": STRING_OPTION,
                    "name": name,
                    "description": description[:100],
                    "required": required,
                }
            ]
        payloads.append(payload)
    return payloads


def interaction_text(data: Mapping[str, Any]) -> str:
    """A slash command as the same command typed as text: ``/reset`` with the option
    ``actor=coder`` is ``/reset @coder`` (the worker reads the text form only)."""
    words = ["/" + str(data.get("name") or "")]
    for option in data.get("options") or ():
        value = " ".join(str(option.get("value") or "").split())
        if option.get("name") == "actor" and value and not value.startswith("@"):
            value = "@" + value
        if value:
            words.append(value)
    return " ".join(words)


def translate_interaction(interaction: discord.Interaction) -> IncomingMessage | None:
    """A slash-command interaction as the shared code wants a message (no policy
    applied), or None when Discord did not say which chat it came from.

    It counts as a mention (a slash command is addressed to the bot), so the group rule
    left to apply is the one that matters: only in allowed channels. ``message_id`` is
    ``interaction-<id>``: unique for the redelivery check, and not a message id, so the
    answer is sent as a plain message rather than as a reply to a message that does not
    exist.
    """
    channel_id = interaction.channel_id
    if channel_id is None:
        return None
    data = cast("Mapping[str, Any]", interaction.data or {})
    channel = interaction.channel
    meta: dict[str, Any] = {"via": "slash command"}
    parent: str | None = None
    if interaction.guild_id is not None:
        guild = interaction.guild
        meta.update(
            guild_id=str(interaction.guild_id),
            guild=guild.name if guild is not None else None,
            channel=getattr(channel, "name", None),
        )
        if isinstance(channel, discord.Thread):
            parent = str(channel.parent_id)
            meta["parent_channel_id"] = parent
    user = interaction.user
    return IncomingMessage(
        chat_id=str(channel_id),
        message_id=f"interaction-{interaction.id}",
        sender_id=str(user.id),
        sender_name=user.display_name,
        text=interaction_text(data),
        is_group=interaction.guild_id is not None,
        mentioned=True,
        parent_chat_id=parent,
        meta=meta,
    )
