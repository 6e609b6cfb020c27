"""Discord's command menu: the chat commands are registered as slash commands when the
listener starts, and a slash command someone picks is acknowledged in time and then
queued exactly like the same command typed as text (same channel rule, same gate).

The real discord.py against the loopback Discord fake, which checks what Discord
checks: the command names and descriptions, the interaction's token, one callback per
interaction.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fakes.discord_api import DiscordFake, ScriptedError
from tests.fakes.discord_harness import ListenerKit
from tests.support.waiting import until
from tinyclaw.channels.discord import DiscordChannel

DM = "555"


async def acknowledged(fake: DiscordFake, interaction: dict[str, object]) -> str:
    """Wait for the interaction's acknowledgement; it must be one only the sender sees."""
    await until(
        lambda: any(c.interaction_id == interaction["id"] for c in fake.callbacks),
        what="the interaction acknowledged",
    )
    [ack] = [c for c in fake.callbacks if c.interaction_id == interaction["id"]]
    assert ack.type == 4 and ack.ephemeral
    return ack.content


async def test_the_chat_commands_are_registered_as_slash_commands_at_start(
    listener: DiscordChannel, fake: DiscordFake
) -> None:
    assert fake.commands.overwrites == 1
    assert fake.commands.names() == [
        "help",
        "actors",
        "status",
        "reset",
        "cancel",
        "model",
        "cost",
        "pair",
    ]
    by_name = {c["name"]: c for c in fake.commands.registered}
    assert by_name["help"]["description"] == "What this assistant can do"
    assert "options" not in by_name["status"]
    [actor] = by_name["reset"]["options"]
    assert (actor["name"], actor["type"], actor["required"]) == ("actor", 3, False)
    [name] = by_name["model"]["options"]
    assert (name["name"], name["required"]) == ("name", False)
    [scope] = by_name["cost"]["options"]
    assert (scope["name"], scope["required"]) == ("scope", False)
    [code] = by_name["pair"]["options"]
    assert (code["name"], code["required"]) == ("code", True)
    assert all(c["contexts"] == [0, 1] for c in fake.commands.registered)  # guilds, bot DMs


async def test_a_failed_registration_is_a_warning_and_the_listener_still_serves(
    kit: ListenerKit, fake: DiscordFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("commands", ScriptedError(403, "Missing Access", 50001))
    with caplog.at_level(logging.WARNING, logger="tinyclaw.channels.discord"):
        await kit.start()
    assert fake.commands.registered == []
    assert any("could not register the command menu" in r.message for r in caplog.records)

    fake.push_message(channel_id=DM, content="/help", author=kit.alice)
    [message] = await kit.queued()
    assert (message.kind, message.text) == ("command", "/help")


async def test_a_slash_command_in_a_dm_is_acknowledged_and_queued_as_a_command(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    sent = fake.push_interaction("status", user=kit.alice, channel_id=DM)

    note = await acknowledged(fake, sent)
    assert "answer comes as a message in this chat" in note
    [message] = await kit.queued()
    assert (message.kind, message.text, message.chat_id) == ("command", "/status", DM)
    assert message.sender.id == kit.alice.id and not message.is_group
    assert message.message_id == f"interaction-{sent['id']}"

    # The worker's answer is an ordinary message in the chat, not a reply to a message.
    await kit.delivered(kit.reply(message, "Nothing is running for this chat."))
    [answer] = fake.messages
    assert (answer.channel_id, answer.reference_id) == (DM, None)
    assert answer.content == "Nothing is running for this chat."


async def test_a_slash_commands_option_is_spelled_like_the_text_command(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    fake.push_interaction("reset", user=kit.alice, channel_id=DM, options={"actor": "coder"})
    fake.push_interaction("reset", user=kit.alice, channel_id=DM, options={"actor": "@Coder"})
    fake.push_interaction("reset", user=kit.alice, channel_id=DM)
    messages = await kit.queued(3)
    assert sorted(m.text for m in messages) == ["/reset", "/reset @Coder", "/reset @coder"]
    assert {m.kind for m in messages} == {"command"}


async def test_a_stranger_s_slash_command_meets_the_same_gate(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    mallory = fake.user("mallory")
    sent = fake.push_interaction("actors", user=mallory, channel_id="666")

    await acknowledged(fake, sent)
    await until(lambda: len(fake.messages) == 1, what="the denial")
    denial = fake.messages[0]
    assert denial.channel_id == "666" and mallory.id in denial.content
    await asyncio.sleep(0.1)
    assert kit.incoming() == []


async def test_slash_commands_in_guilds_follow_allow_groups(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake, guild = kit.fake, kit.guild
    elsewhere = fake.push_interaction(
        "help", user=kit.alice, channel_id=guild.channel("random"), guild=guild
    )
    assert "don't answer in this channel" in await acknowledged(fake, elsewhere)

    plan = guild.thread("release-plan")  # a thread of the allowed #general
    fake.push_interaction("cancel", user=kit.alice, channel_id=plan, guild=guild)
    [message] = await kit.queued()
    assert (message.kind, message.text, message.chat_id) == ("command", "/cancel", plan)
    assert message.is_group and message.meta["parent_channel_id"] == guild.channel("general")
    assert message.meta["guild_id"] == guild.id
    await asyncio.sleep(0.1)
    assert len(kit.incoming()) == 1 and fake.messages == []  # #random: nothing posted


async def test_a_slash_command_pairs_a_stranger_before_the_gate(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    bob = fake.user("bob")
    sent = fake.push_interaction("pair", user=bob, channel_id="777", options={"code": "ABCD"})

    await acknowledged(fake, sent)
    await until(lambda: len(fake.messages) == 1, what="the pairing answer")
    assert fake.messages[0].content == "pairing is not enabled"  # the allow-list gate's answer
    assert kit.incoming() == []


async def test_an_unknown_slash_command_is_answered_and_not_queued(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    sent = kit.fake.push_interaction("dance", user=kit.alice, channel_id=DM)
    assert "Unknown command" in await acknowledged(kit.fake, sent)
    await asyncio.sleep(0.1)
    assert kit.incoming() == []


async def test_an_acknowledgement_that_fails_does_not_lose_the_command(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    kit.fake.fail("callback", ScriptedError(404, "Unknown interaction", 10062))
    kit.fake.push_interaction("help", user=kit.alice, channel_id=DM)
    [message] = await kit.queued()
    assert (message.kind, message.text) == ("command", "/help")
