"""The JSON shapes the Discord fake serves: users, guilds, messages.

Only the fields discord.py reads without ``.get`` are filled in, plus the ones the
listener looks at (mentions, references, attachments). Ids are snowflake strings made
as Discord makes them (time in the top bits), from one process-wide sequence, so two
fakes in one test run never hand out the same id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
_last_snowflake = 0
_snowflake_lock = threading.Lock()
MESSAGE_DEFAULT, MESSAGE_REPLY = 0, 19
ALL_PERMISSIONS = str((1 << 41) - 1)


def snowflake() -> str:
    """A fresh id; Discord ids are decimal strings of 64-bit integers whose top bits
    are the milliseconds since Discord's epoch (the listener's catch-up relies on it),
    strictly increasing within the process."""
    global _last_snowflake
    stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    with _snowflake_lock:
        _last_snowflake = max(_last_snowflake + 1, stamp)
        return str(_last_snowflake)


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class FakeUser:
    id: str
    username: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "global_name": self.username,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
        }

    @property
    def mention(self) -> str:
        """How a mention of this user looks inside message content."""
        return f"<@{self.id}>"


@dataclass(frozen=True)
class FakeGuild:
    id: str
    name: str
    channels: dict[str, str]  # channel name -> channel id
    threads: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, parent)

    def channel(self, name: str = "general") -> str:
        return self.channels[name]

    def thread(self, name: str) -> str:
        return self.threads[name][0]


def member(user: FakeUser | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [],
        "joined_at": now(),
        "deaf": False,
        "mute": False,
        "flags": 0,
    }
    if user is not None:
        data["user"] = user.payload()
    return data


def message(
    *,
    channel_id: str,
    content: str,
    author: FakeUser,
    guild_id: str | None = None,
    mentions: Iterable[FakeUser] = (),
    attachments: Iterable[dict[str, Any]] = (),
    reply_to: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload. ``reply_to`` is an earlier message payload (for
    example one the bot sent: ``SentMessage.response``)."""
    payload: dict[str, Any] = {
        "id": message_id or snowflake(),
        "channel_id": channel_id,
        "author": author.payload(),
        "content": content,
        "timestamp": now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [user.payload() for user in mentions],
        "mention_roles": [],
        "attachments": list(attachments),
        "embeds": [],
        "pinned": False,
        "type": MESSAGE_DEFAULT,
        "flags": 0,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["member"] = member()
    if reply_to is not None:
        payload["type"] = MESSAGE_REPLY
        payload["message_reference"] = {
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            "guild_id": guild_id,
        }
        payload["referenced_message"] = reply_to
    return payload


def guild(guild: FakeGuild, *, bot: FakeUser, owner: FakeUser) -> dict[str, Any]:
    """A GUILD_CREATE payload: text channels, @everyone with every permission, the bot."""
    everyone = {
        "id": guild.id,
        "name": "@everyone",
        "permissions": ALL_PERMISSIONS,
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    channels = [text_channel(guild, name) for name in guild.channels]
    return {
        "id": guild.id,
        "name": guild.name,
        "icon": None,
        "owner_id": owner.id,
        "unavailable": False,
        "member_count": 2,
        "large": False,
        "features": [],
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        "channels": channels,
        "threads": [thread_channel(guild, name, owner) for name in guild.threads],
        "members": [member(bot)],
        "voice_states": [],
        "presences": [],
    }


def text_channel(guild: FakeGuild, name: str) -> dict[str, Any]:
    """A guild text channel (type 0), as in GUILD_CREATE and in an interaction."""
    position = list(guild.channels).index(name)
    return {
        "id": guild.channels[name],
        "type": 0,
        "guild_id": guild.id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
    }


def thread_channel(guild: FakeGuild, name: str, owner: FakeUser) -> dict[str, Any]:
    """A public thread (type 11) under one of the guild's text channels."""
    tid, parent = guild.threads[name]
    return {
        "id": tid,
        "type": 11,
        "guild_id": guild.id,
        "name": name,
        "parent_id": guild.channels[parent],
        "owner_id": owner.id,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now(),
            "locked": False,
        },
    }


def guild_channel(guild: FakeGuild, channel_id: str, *, owner: FakeUser) -> dict[str, Any]:
    """The channel or thread ``channel_id`` of ``guild``, as an interaction carries it."""
    for name, (tid, _parent) in guild.threads.items():
        if tid == channel_id:
            return thread_channel(guild, name, owner)
    [name] = [n for n, cid in guild.channels.items() if cid == channel_id]
    return text_channel(guild, name)


def dm_channel(channel_id: str, user: FakeUser) -> dict[str, Any]:
    """The bot's DM channel with ``user`` (type 1)."""
    return {
        "id": channel_id,
        "type": 1,
        "last_message_id": None,
        "recipients": [user.payload()],
        "flags": 0,
    }


def interaction(
    *,
    application_id: str,
    name: str,
    user: FakeUser,
    channel: dict[str, Any],
    guild_id: str | None = None,
    options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for the slash command ``name`` (type 2, an
    application command) with string ``options``; in a guild the sender comes as a
    member, in a DM as a user, as Discord sends them."""
    payload: dict[str, Any] = {
        "id": snowflake(),
        "application_id": application_id,
        "type": 2,
        "token": "interaction-token-" + snowflake(),
        "version": 1,
        "data": {
            "id": snowflake(),
            "name": name,
            "type": 1,
            "options": [
                {"name": key, "type": 3, "value": value} for key, value in (options or {}).items()
            ],
        },
        "channel": channel,
        "channel_id": channel["id"],
        "app_permissions": ALL_PERMISSIONS,
        "locale": "en-US",
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id or "0"},
        "context": 0 if guild_id is not None else 1,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["member"] = {**member(user), "permissions": ALL_PERMISSIONS}
    else:
        payload["user"] = user.payload()
    return payload


def application(app_id: str, *, bot: FakeUser, owner: FakeUser) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``."""
    return {
        "id": app_id,
        "name": bot.username,
        "icon": None,
        "description": "",
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": owner.payload(),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "bot": bot.payload(),
    }
