"""The Discord listener when Discord misbehaves: errors, rate limits, a dropped
gateway, a refused token. The real discord.py against the loopback fake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.discord_api import ScriptedError, wait_until
from tests.fakes.discord_harness import ListenerKit, running_fake
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.core.errors import ChannelAuthError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound


async def a_message(kit: ListenerKit, text: str = "hello") -> Inbound:
    kit.fake.push_message(channel_id="555", content=text, author=kit.alice)
    return (await kit.queued())[-1]


async def test_server_error_then_retry_succeeds(listener: DiscordChannel, kit: ListenerKit) -> None:
    message = await a_message(kit)
    kit.fake.fail("send_message", ScriptedError(503, "upstream connect error"))
    reply = kit.reply(message, "made it")
    await kit.delivered(reply)

    assert [m.content for m in kit.fake.messages] == ["made it"]
    assert len(kit.fake.requests_to("POST", "/channels/555/messages")) == 2
    assert kit.sleeps == [0.5]  # one backoff step of the outbox's policy


async def test_short_rate_limit_is_waited_out(listener: DiscordChannel, kit: ListenerKit) -> None:
    message = await a_message(kit)
    kit.fake.fail("send_message", kit.fake.rate_limited(0.3))
    reply = kit.reply(message, "patiently")
    await kit.delivered(reply)

    first, second = kit.fake.requests_to("POST", "/channels/555/messages")
    assert second.at - first.at >= 0.3  # discord.py slept retry_after itself
    assert [m.content for m in kit.fake.messages] == ["patiently"]


async def test_long_rate_limit_comes_back_with_its_retry_after(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    message = await a_message(kit)
    kit.fake.fail("send_message", kit.fake.rate_limited(45.0))
    reply = kit.reply(message, "later")
    await kit.delivered(reply)

    assert kit.sleeps == [45.0]  # the outbox honoured Discord's retry_after
    assert [m.content for m in kit.fake.messages] == ["later"]


async def test_forbidden_reply_goes_to_failed_with_the_reason(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    message = await a_message(kit)
    kit.fake.fail("send_message", ScriptedError(403, "Missing Access", 50001))
    reply = kit.reply(message, "you will not see this")
    await wait_until(lambda: kit.failed_reason(reply) is not None, what="failed/ reason")

    reason = kit.failed_reason(reply) or ""
    assert "403" in reason and "Missing Access" in reason
    assert not kit.is_sent(reply) and kit.fake.messages == []
    assert not (kit.spool.outgoing("discord") / f"{reply.id}.json").exists()


async def test_file_over_the_upload_limit_becomes_a_note(
    listener: DiscordChannel, kit: ListenerKit, tmp_path: Path
) -> None:
    listener.upload_limit = 1024
    workspace = listener.home.actors / "assistant" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "big.bin").write_bytes(b"x" * 2048)
    message = await a_message(kit)
    reply = kit.reply(message, "attached", files=["big.bin"], workspace=str(workspace))
    await kit.delivered(reply)

    text, note = kit.fake.messages
    assert text.content == "attached"
    assert "big.bin not sent" in note.content and "upload limit" in note.content
    assert not note.files


async def test_dropped_gateway_resumes_and_keeps_receiving(
    listener: DiscordChannel, kit: ListenerKit, caplog: pytest.LogCaptureFixture
) -> None:
    await a_message(kit, "before")
    kit.fake.drop_connection()
    await wait_until(lambda: kit.fake.gateway.log.resumes == 1 and kit.fake.ready_connections == 1)
    kit.fake.drop_connection(code=4000)  # a close frame with an error code: same story
    await wait_until(lambda: kit.fake.gateway.log.resumes == 2 and kit.fake.ready_connections == 1)

    kit.fake.push_message(channel_id="555", content="after", author=kit.alice)
    messages = await kit.queued(2)
    assert [m.text for m in messages] == ["before", "after"]
    assert len(kit.fake.gateway.log.identifies) == 1  # resumed, not a new session
    assert "reconnecting" in caplog.text


async def test_refused_token_stops_start_with_one_clear_error(kit: ListenerKit) -> None:
    with pytest.raises(ChannelAuthError, match="token was refused; check DISCORD_BOT_TOKEN"):
        await kit.start(token="not-the-token", token_env="DISCORD_BOT_TOKEN")
    assert kit.fake.gateway.log.connections_opened == 0


async def test_missing_message_content_intent_is_explained(home: Home) -> None:
    with running_fake(message_content_allowed=False) as fake:
        kit = ListenerKit(home, fake)
        with pytest.raises(ChannelAuthError, match="Message Content intent"):
            await kit.start()


async def test_token_revoked_while_running_ends_run_with_the_auth_error(
    kit: ListenerKit,
) -> None:
    listener = kit.listener()
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(listener.run(stop, on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 15)
    kit.fake.token = "rotated"
    kit.fake.drop_connection()  # RESUME refused, IDENTIFY refused (4004)

    with pytest.raises(ChannelAuthError, match="refused the bot token"):
        await asyncio.wait_for(task, 10)


async def test_api_unreachable_at_start_is_retried(kit: ListenerKit) -> None:
    kit.fake.fail("me", ScriptedError(503, "upstream unavailable"))
    listener = kit.listener()
    listener.reconnect_delay = 0.01
    await listener.start()
    assert len(kit.fake.requests_to("GET", "/users/@me")) == 2
    assert kit.fake.ready_connections == 1


async def test_token_revoked_on_send_stops_and_keeps_the_reply(kit: ListenerKit) -> None:
    listener = kit.listener()
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(listener.run(stop, on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 15)
    message = await a_message(kit)
    kit.fake.token = "rotated"  # every REST call now answers 401
    reply = kit.reply(message, "for later")

    with pytest.raises(ChannelAuthError, match="no longer accepted"):
        await asyncio.wait_for(task, 10)
    assert (kit.spool.outgoing("discord") / f"{reply.id}.json").exists()
    assert kit.failed_reason(reply) is None
