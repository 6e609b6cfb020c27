"""The Discord listener wired to the loopback fake, for tests that tell a user's story.

``running_fake()`` starts the fake and, on the way out, checks that discord.py's two
process-wide endpoints (``Route.BASE``, ``DEFAULT_GATEWAY``) are back to what they
were, and restores them if a listener failed to. :class:`ListenerKit` holds one home's
spool, an allowed user (alice), a guild with an allowed channel (``general``) and a
not-allowed one (``random``), and starts listeners through the public configuration
(``api_base``/``gateway_url``), exactly as ``tinyclaw listen discord`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import discord

from tests.fakes.discord_api import DiscordFake, FakeGuild, FakeUser, wait_until
from tinyclaw.channels.base import RetryPolicy
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply, load_inbound
from tinyclaw.spool import Spool


def _endpoints() -> tuple[str, Any]:
    return discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


@contextlib.contextmanager
def running_fake(**options: Any) -> Iterator[DiscordFake]:
    saved = _endpoints()
    try:
        with DiscordFake(**options) as fake:
            yield fake
        leaked = _endpoints() != saved
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not leaked, "a listener left discord.py pointed at the fake"


class ListenerKit:
    def __init__(self, home: Home, fake: DiscordFake) -> None:
        self.home = home
        self.fake = fake
        self.spool = Spool(home, durable=False)
        self.alice: FakeUser = fake.user("alice")
        self.guild: FakeGuild = fake.add_guild(
            "club",
            channels=("general", "random"),
            threads={"release-plan": "general", "off-topic-thread": "random"},
        )
        self.sleeps: list[float] = []  # backoff delays the outbox asked for
        self.listeners: list[DiscordChannel] = []

    async def _fast_sleep(self, delay: float) -> None:
        """Backoff passes at once (and is recorded), so retry tests take no time."""
        self.sleeps.append(delay)
        await asyncio.sleep(0)

    def config(self, **overrides: Any) -> ChannelConfig:
        settings: dict[str, Any] = {
            "enabled": True,
            "allow_from": [self.alice.id],
            "allow_groups": [self.guild.channel("general")],
            "api_base": self.fake.api_base,
            "gateway_url": self.fake.gateway_url,
            "max_attachment_mb": 1,
        }
        settings.update(overrides)
        return ChannelConfig(**settings)

    def listener(
        self, token: str | None = None, *, options: dict[str, Any] | None = None, **overrides: Any
    ) -> DiscordChannel:
        """A listener for this kit's home; ``overrides`` change the channel's config,
        ``options`` the listener's constructor arguments (``typing_cap=…``)."""
        settings: dict[str, Any] = {
            "spool": self.spool,
            "retry": RetryPolicy(tries=3, base=0.5, rounds=3, round_backoff=0.05),
            "scan_interval": 0.2,
            "typing_interval": 0.2,
            "sleep": self._fast_sleep,
            "ready_timeout": 5.0,
            "identify_delay": 0.0,
            **(options or {}),
        }
        listener = DiscordChannel(
            self.home, self.config(**overrides), token=token or self.fake.token, **settings
        )
        self.listeners.append(listener)
        return listener

    async def start(
        self, token: str | None = None, *, options: dict[str, Any] | None = None, **overrides: Any
    ) -> DiscordChannel:
        listener = self.listener(token, options=options, **overrides)
        await listener.start()
        return listener

    async def close(self) -> None:
        for listener in self.listeners:
            await listener.stop()

    # -- the queue, seen from the worker's side ---------------------------------------

    def incoming(self) -> list[Inbound]:
        return [load_inbound(p.read_bytes()) for p in self.spool.list_box(self.spool.incoming)]

    async def queued(self, count: int = 1) -> list[Inbound]:
        box = self.spool.incoming
        await wait_until(lambda: len(self.spool.list_box(box)) >= count, what="incoming file")
        return self.incoming()

    def reply(self, message: Inbound, text: str, **fields: Any) -> Reply:
        """Write the worker's reply into ``queue/outgoing/discord/``."""
        reply = Reply(
            id=unique_name(),
            in_reply_to=message.id,
            channel="discord",
            chat_id=message.chat_id,
            text=text,
            reply_to_message_id=message.message_id,
            **fields,
        )
        self.spool.put_reply(reply)
        return reply

    def is_sent(self, reply: Reply) -> bool:
        return (self.spool.sent("discord") / f"{reply.id}.json").exists()

    async def delivered(self, reply: Reply) -> None:
        await wait_until(lambda: self.is_sent(reply), what=f"reply {reply.id} in sent/")

    def failed_reason(self, reply: Reply) -> str | None:
        path = self.spool.failed / f"{reply.id}.json.reason"
        return path.read_text() if path.exists() else None
