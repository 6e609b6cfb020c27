"""Catching up on what was written while the Discord listener was away.

Discord keeps nothing for a bot that is offline: a restarted listener opens a fresh
gateway session, and the messages written meanwhile are never dispatched to it
(Telegram and WhatsApp redeliver; Discord does not). So the listener remembers, per
chat it has heard from (DMs and allowed guild channels or threads), the id of the last
message it handled, in ``state/discord-cursor.json``; after every fresh IDENTIFY (not
after a RESUME, which replays the missed events itself) it reads each such chat's
history after that id (``GET /channels/{id}/messages?after=…``) and feeds it through
the same path as a live message. Replaying is safe: the spool's dedupe key drops a
message that was queued already.

The catch-up is bounded: at most :data:`MAX_MESSAGES` per chat, none older than
:data:`MAX_AGE` (a snowflake encodes its time, so the age is a lower bound on the id),
at most :data:`MAX_CHANNELS` chats remembered (the least recently active dropped).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord

from tinyclaw.channels.discord_translate import LIBRARY_ERRORS
from tinyclaw.core.errors import InvalidFileError
from tinyclaw.core.fsutil import atomic_write, read_json_object

CURSOR_FILE = "discord-cursor.json"
MAX_MESSAGES = 100  # one page of Discord's history API
MAX_AGE = timedelta(days=1)
MAX_CHANNELS = 300
_MAX_FILE_BYTES = 256 * 1024


class Cursor:
    """The last handled message id per chat id, kept in one small JSON file.

    Written atomically (tmp → rename) after each handled message; not fsynced, since a
    cursor that lags after a crash only means a few messages are read again, and the
    spool's dedupe drops those."""

    def __init__(self, path: Path, *, max_channels: int = MAX_CHANNELS) -> None:
        self.path = path
        self.max_channels = max_channels
        self._last: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        if self._last is None:
            self._last = {}
            try:
                data = read_json_object(self.path, _MAX_FILE_BYTES)
            except FileNotFoundError:
                data = {}
            except (InvalidFileError, OSError) as exc:
                logging.getLogger("tinyclaw.channels.discord").warning(
                    "discord: ignoring an unreadable %s: %s", self.path, exc
                )
                data = {}
            channels = data.get("channels")
            for chat_id, last in (channels if isinstance(channels, dict) else {}).items():
                if str(chat_id).isdigit() and str(last).isdigit():
                    self._last[str(chat_id)] = int(last)
        return self._last

    def channels(self) -> dict[str, int]:
        """A copy of chat id → last handled message id."""
        return dict(self._load())

    def advance(self, chat_id: str, message_id: int) -> None:
        """Remember ``message_id`` as handled in ``chat_id`` (never moving backwards)."""
        last = self._load()
        if last.get(chat_id, -1) >= message_id:
            return
        last[chat_id] = message_id
        if len(last) > self.max_channels:
            # Snowflakes grow with time: the smallest last id is the least recent chat.
            for stale in sorted(last, key=last.__getitem__)[: len(last) - self.max_channels]:
                del last[stale]
        body = {"channels": {chat: str(mid) for chat, mid in last.items()}}
        atomic_write(self.path, json.dumps(body).encode("utf-8"), durable=False)


async def catch_up(
    client: discord.Client,
    cursor: Cursor,
    handle: Callable[[discord.Message], Awaitable[None]],
    *,
    now: datetime,
    log: logging.Logger,
    max_messages: int = MAX_MESSAGES,
    max_age: timedelta = MAX_AGE,
) -> int:
    """Feed each remembered chat's messages after its cursor to ``handle``, oldest
    first; return how many were read. A chat that cannot be read (403, 404, network)
    is skipped with a warning; the others still catch up."""
    floor = discord.utils.time_snowflake(now.astimezone(UTC) - max_age, high=True)
    total = 0
    for chat_id, last in cursor.channels().items():
        try:
            channel = client.get_channel(int(chat_id)) or await client.fetch_channel(int(chat_id))
            if not isinstance(channel, discord.abc.Messageable):
                continue
            after = discord.Object(id=max(last, floor))
            async for message in channel.history(
                after=after, oldest_first=True, limit=max_messages
            ):
                if client.user is not None and message.author.id == client.user.id:
                    continue
                total += 1
                await handle(message)
        except (*LIBRARY_ERRORS, discord.InvalidData) as exc:
            log.warning("discord: could not catch up on chat %s: %s", chat_id, exc)
    return total
