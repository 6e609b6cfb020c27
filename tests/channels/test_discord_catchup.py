"""Messages written while the Discord listener was away are picked up when it comes
back. Discord keeps nothing for an offline bot, so the listener reads the history of
the chats it has heard from. The real discord.py against the loopback fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import discord
import pytest

from tests.fakes.discord_api import FakeUser, ScriptedError, wait_until
from tests.fakes.discord_harness import ListenerKit
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.channels.discord_catchup import CURSOR_FILE, Cursor
from tinyclaw.core.home import Home

DM = "4242"


async def caught_up(listener: DiscordChannel) -> None:
    """Wait for the catch-up that READY started to finish."""
    await wait_until(
        lambda: listener.catch_up_task is not None and listener.catch_up_task.done(),
        what="the catch-up",
    )
    assert listener.catch_up_task is not None
    listener.catch_up_task.result()


async def started(kit: ListenerKit) -> DiscordChannel:
    """A listener that is connected and has caught up."""
    listener = await kit.start()
    await caught_up(listener)
    return listener


def texts(kit: ListenerKit) -> list[str]:
    return [m.text for m in kit.incoming()]


async def test_dm_written_while_stopped_is_queued_once_after_restart(kit: ListenerKit) -> None:
    listener = await started(kit)
    kit.fake.push_message(channel_id=DM, content="before", author=kit.alice)
    await kit.queued(1)
    await listener.stop()

    kit.fake.write_offline(channel_id=DM, content="while you were away", author=kit.alice)
    listener = await started(kit)

    assert texts(kit) == ["before", "while you were away"]
    # Started again: nothing new, nothing doubled.
    await listener.stop()
    listener = await started(kit)
    assert texts(kit) == ["before", "while you were away"]


async def test_message_queued_before_a_crash_is_not_queued_twice(
    kit: ListenerKit, home: Home
) -> None:
    listener = await started(kit)
    first = kit.fake.push_message(channel_id=DM, content="queued already", author=kit.alice)
    await kit.queued(1)
    await listener.stop()
    # As if the process died between queueing and saving the cursor.
    (home.state / CURSOR_FILE).write_text(json.dumps({"channels": {DM: str(int(first["id"]) - 1)}}))

    kit.fake.write_offline(channel_id=DM, content="new", author=kit.alice)
    listener = await started(kit)

    assert texts(kit) == ["queued already", "new"]


def in_guild(
    kit: ListenerKit,
    channel: str,
    text: str,
    *,
    live: bool = True,
    author: FakeUser | None = None,
    mention: bool = True,
) -> None:
    """``text`` said in a channel of the kit's guild, mentioning the bot; pushed over
    the gateway (``live``) or only written to the channel's history."""
    bot = kit.fake.bot
    write = kit.fake.push_message if live else kit.fake.write_offline
    write(
        channel_id=kit.guild.channel(channel),
        guild_id=kit.guild.id,
        content=f"{bot.mention} {text}" if mention else text,
        author=author or kit.alice,
        mentions=[bot] if mention else [],
    )


async def test_own_messages_and_other_channels_are_not_caught_up(kit: ListenerKit) -> None:
    listener = await started(kit)
    in_guild(kit, "general", "hi")
    [message] = await kit.queued(1)
    in_guild(kit, "random", "psst")  # not an allowed channel
    await kit.delivered(kit.reply(message, "hello"))  # the bot's own message in general
    await listener.stop()

    in_guild(kit, "general", "later", live=False)
    in_guild(kit, "general", "talking to myself", live=False, author=kit.fake.bot)
    in_guild(kit, "general", "not for the bot", live=False, mention=False)
    in_guild(kit, "random", "still no", live=False)
    listener = await started(kit)

    assert texts(kit) == ["hi", "later"]
    random = kit.guild.channel("random")
    assert kit.fake.requests_to("GET", f"/channels/{random}/messages") == []


async def test_a_fresh_session_catches_up_but_a_resume_does_not(kit: ListenerKit) -> None:
    listener = await started(kit)
    kit.fake.push_message(channel_id=DM, content="before", author=kit.alice)
    await kit.queued(1)
    await caught_up(listener)
    reads = len(kit.fake.requests_to("GET", f"/channels/{DM}/messages"))

    kit.fake.drop_connection()  # resumed: Discord replays what the session missed
    await wait_until(lambda: kit.fake.gateway.log.resumes == 1)
    assert len(kit.fake.requests_to("GET", f"/channels/{DM}/messages")) == reads

    kit.fake.write_offline(channel_id=DM, content="lost in the gap", author=kit.alice)
    kit.fake.send_op(9, False)  # INVALID_SESSION: a fresh IDENTIFY and a new READY
    await wait_until(lambda: len(kit.fake.gateway.log.identifies) == 2)
    await kit.queued(2)
    await caught_up(listener)
    assert texts(kit) == ["before", "lost in the gap"]


async def test_a_chat_that_cannot_be_read_is_skipped(
    kit: ListenerKit, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await started(kit)
    kit.fake.push_message(channel_id=DM, content="dm", author=kit.alice)
    in_guild(kit, "general", "guild")
    await kit.queued(2)
    await listener.stop()

    kit.fake.write_offline(channel_id=DM, content="lost", author=kit.alice)
    in_guild(kit, "general", "found", live=False)
    kit.fake.fail("channel", ScriptedError(403, "Missing Access", 50001))  # the DM
    listener = await started(kit)

    assert sorted(texts(kit)) == ["dm", "found", "guild"]
    assert f"could not catch up on chat {DM}" in caplog.text


async def test_only_a_day_is_caught_up(kit: ListenerKit, home: Home) -> None:
    now = datetime.now(UTC)
    week_ago = discord.utils.time_snowflake(now - timedelta(days=7))
    (home.state / CURSOR_FILE).write_text(json.dumps({"channels": {DM: str(week_ago)}}))
    two_days_ago = str(discord.utils.time_snowflake(now - timedelta(days=2)))
    kit.fake.write_offline(
        channel_id=DM, content="stale", author=kit.alice, message_id=two_days_ago
    )
    kit.fake.write_offline(channel_id=DM, content="fresh", author=kit.alice)

    await started(kit)

    assert texts(kit) == ["fresh"]


def test_cursor_keeps_the_most_recent_chats(home: Home) -> None:
    cursor = Cursor(home.state / CURSOR_FILE, max_channels=2)
    cursor.advance("1", 100)
    cursor.advance("2", 200)
    cursor.advance("1", 50)  # never backwards
    cursor.advance("3", 300)

    assert Cursor(home.state / CURSOR_FILE).channels() == {"2": 200, "3": 300}
