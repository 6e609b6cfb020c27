"""The real discord.py against the loopback Discord fake, without tinyclaw in between:
if these fail, the fake (not the listener) is wrong."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
import yarl

from tests.fakes.discord_api import DiscordFake, ScriptedError, SentFile
from tests.support.waiting import until


@pytest.fixture
def fake() -> Iterator[DiscordFake]:
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    with DiscordFake() as server:
        discord.http.Route.BASE = server.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
        try:
            yield server
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


class Recorder(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.seen: list[discord.Message] = []
        self.ready_event = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready_event.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


@pytest.fixture
async def client(fake: DiscordFake) -> AsyncIterator[Recorder]:
    bot = Recorder()
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.ready_event.wait(), 15)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 15)


async def test_login_identify_and_dm_round_trip(fake: DiscordFake, client: Recorder) -> None:
    assert client.user is not None and str(client.user.id) == fake.bot.id
    assert fake.gateway.log.identifies[0]["intents"] & discord.Intents.message_content.flag
    alice = fake.user("alice")
    sent = fake.push_message(channel_id="4242", content="hello", author=alice)
    await until(lambda: len(client.seen) == 1)
    message = client.seen[0]
    assert isinstance(message.channel, discord.DMChannel)
    assert message.content == "hello" and str(message.author.id) == alice.id

    await message.channel.send("hi back", reference=message)
    await message.channel.typing()
    assert fake.messages[0].content == "hi back"
    assert fake.messages[0].reference_id == sent["id"]
    assert fake.state.typing == ["4242"]


async def test_guild_message_mention_and_attachment(fake: DiscordFake) -> None:
    guild = fake.add_guild("club")
    bot = Recorder()
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.ready_event.wait(), 15)
        channel_id = guild.channel("general")
        attachment = fake.add_attachment(channel_id, "notes.txt", b"some notes", "text/plain")
        fake.push_message(
            channel_id=channel_id,
            guild_id=guild.id,
            content=f"{fake.bot.mention} read this",
            author=fake.user("bob"),
            mentions=[fake.bot],
            attachments=[attachment],
        )
        await until(lambda: len(bot.seen) == 1)
        message = bot.seen[0]
        assert isinstance(message.channel, discord.TextChannel)
        assert bot.user is not None and bot.user.mentioned_in(message)
        assert await message.attachments[0].read() == b"some notes"
        assert len(fake.state.downloads) == 1

        await message.channel.send("file", file=discord.File(io.BytesIO(b"print(1)"), "out.py"))
        assert fake.messages[0].files[0] == SentFile(
            "out.py", b"print(1)", "application/octet-stream"
        )
        assert fake.messages[0].content == "file"
    finally:
        await bot.close()
        await asyncio.wait_for(task, 15)


async def test_scripted_errors_reach_the_library(fake: DiscordFake, client: Recorder) -> None:
    channel = client.get_partial_messageable(99)
    fake.fail("send_message", ScriptedError(403, "Missing Access", 50001))
    with pytest.raises(discord.Forbidden):
        await channel.send("nope")
    fake.fail("send_message", ScriptedError(503))
    with pytest.raises(discord.DiscordServerError):
        await channel.send("later")
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035

    fake.fail("send_message", fake.rate_limited(0.2))
    await channel.send("after the limit")  # discord.py sleeps retry_after and retries
    posts = fake.requests_to("POST", "/channels/99/messages")
    assert posts[-1].at - posts[-2].at >= 0.2
    assert [m.content for m in fake.messages] == ["after the limit"]


async def test_dropped_gateway_resumes(fake: DiscordFake, client: Recorder) -> None:
    fake.drop_connection()
    await until(lambda: fake.gateway.log.resumes == 1 and fake.ready_connections == 1)
    fake.push_message(channel_id="7", content="still there", author=fake.user())
    await until(lambda: [m.content for m in client.seen] == ["still there"])


async def test_bad_token_is_a_login_failure(fake: DiscordFake) -> None:
    bot = Recorder()
    with pytest.raises(discord.LoginFailure):
        await bot.start("wrong-token")
    await bot.close()
