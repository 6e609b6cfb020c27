"""The Discord listener, driven by the real discord.py against the loopback Discord fake.

Each test tells one story from a user's side: Alice writes to the bot (a DM, or in a
guild channel), a file lands in ``queue/incoming``; the test then plays the worker and
writes a reply into ``queue/outgoing/discord``, and the fake shows what Discord got.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.discord_harness import ListenerKit
from tests.support.waiting import until
from tinyclaw.channels.discord import DiscordChannel


async def test_dm_round_trip(listener: DiscordChannel, kit: ListenerKit) -> None:
    fake, alice = kit.fake, kit.alice
    sent = fake.push_message(channel_id="555", content="What's the weather?", author=alice)

    [message] = await kit.queued()
    assert (message.channel, message.chat_id, message.kind) == ("discord", "555", "chat")
    assert message.sender.id == alice.id and message.sender.name == "alice"
    assert message.text == "What's the weather?"
    assert message.message_id == sent["id"] and not message.is_group
    await until(lambda: "555" in fake.state.typing, what="typing indicator")

    reply = kit.reply(message, "Sunny, 21 degrees.")
    await kit.delivered(reply)
    [answer] = fake.messages
    assert (answer.channel_id, answer.content) == ("555", "Sunny, 21 degrees.")
    assert answer.reference_id == sent["id"]
    assert not (kit.spool.outgoing("discord") / f"{reply.id}.json").exists()
    # The final reply ends "typing…": no refresh after delivery (refreshes come every
    # 0.2 s here; one already on the wire at the stop may still land late).
    await asyncio.sleep(0.3)
    typed = len(fake.state.typing)
    await asyncio.sleep(0.6)
    assert len(fake.state.typing) <= typed + 1


async def test_group_messages_need_a_mention_or_a_reply_in_an_allowed_channel(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake, guild = kit.fake, kit.guild
    general, random = guild.channel("general"), guild.channel("random")
    common = {"guild_id": guild.id, "author": kit.alice}
    fake.push_message(channel_id=general, content="just chatting", **common)
    fake.push_message(
        channel_id=random, content=f"{fake.bot.mention} hi", mentions=[fake.bot], **common
    )
    bob = fake.user("bob")
    fake.push_message(
        channel_id=general,
        content=f"{fake.bot.mention} summarize <#{random}> for {bob.mention}",
        mentions=[fake.bot, bob],
        **common,
    )
    [asked] = await kit.queued()
    assert asked.is_group and asked.chat_id == general
    assert asked.text == "summarize #random for @bob"
    assert asked.meta["guild_id"] == guild.id

    bot_said = fake.message_payload(
        channel_id=general, content="Here is a summary.", author=fake.bot, guild_id=guild.id
    )
    fake.push_message(channel_id=general, content="shorter please", reply_to=bot_said, **common)
    messages = await kit.queued(2)
    assert messages[1].text == "shorter please"
    assert messages[1].reply_to is not None
    assert messages[1].reply_to.text == "Here is a summary."
    assert messages[1].reply_to.message_id == bot_said["id"]
    await asyncio.sleep(0.1)
    assert len(kit.incoming()) == 2  # the unmentioned and the disallowed ones: ignored


async def test_a_thread_of_an_allowed_channel_is_allowed_and_answered_in_the_thread(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake, guild = kit.fake, kit.guild
    plan, off_topic = guild.thread("release-plan"), guild.thread("off-topic-thread")
    common = {"guild_id": guild.id, "author": kit.alice, "mentions": [fake.bot]}
    fake.push_message(channel_id=off_topic, content=f"{fake.bot.mention} hi", **common)
    fake.push_message(channel_id=plan, content=f"{fake.bot.mention} what ships?", **common)

    [asked] = await kit.queued()  # the thread under #random is not allowed
    assert (asked.chat_id, asked.text, asked.is_group) == (plan, "what ships?", True)
    assert asked.meta["parent_channel_id"] == guild.channel("general")
    assert asked.meta["channel"] == "release-plan"

    await kit.delivered(kit.reply(asked, "Pairing and schedules."))
    [answer] = fake.messages
    assert (answer.channel_id, answer.content) == (plan, "Pairing and schedules.")
    assert answer.reference_id == asked.message_id
    await asyncio.sleep(0.1)
    assert len(kit.incoming()) == 1


async def test_attachment_in_is_downloaded_and_a_too_large_one_is_listed(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    notes = fake.add_attachment("555", "../notes v2.txt", b"buy milk", "text/plain; charset=utf-8")
    photo = fake.add_attachment("555", "cat.png", b"\x89PNG....", "image/png")
    huge = fake.add_attachment("555", "movie.mp4", b"x" * (1024 * 1024 + 1), "video/mp4")
    fake.push_message(
        channel_id="555", content="see files", author=kit.alice, attachments=[notes, photo, huge]
    )
    [message] = await kit.queued()

    first, second = message.attachments
    assert (first.name, first.kind, first.size) == ("notes_v2.txt", "document", 8)
    assert Path(first.path).read_bytes() == b"buy milk"
    assert Path(first.path).parent == kit.spool.files_dir(message.id)
    assert (second.name, second.kind, second.mime) == ("cat.png", "photo", "image/png")
    assert "movie.mp4 skipped: too large" in message.text
    assert huge["id"] not in fake.state.downloads


async def test_files_out_only_from_the_workspace(
    listener: DiscordChannel, kit: ListenerKit, tmp_path: Path
) -> None:
    workspace = listener.home.actors / "assistant" / "workspace"  # a home's actor workspace
    workspace.mkdir(parents=True)
    (workspace / "report.txt").write_text("all good")
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    (workspace / "sneaky.txt").symlink_to(secret)
    kit.fake.push_message(channel_id="555", content="send the report", author=kit.alice)
    [message] = await kit.queued()

    reply = kit.reply(
        message, "Here it is.", files=["report.txt", "sneaky.txt"], workspace=str(workspace)
    )
    await kit.delivered(reply)

    text, upload, refusal = kit.fake.messages
    assert text.content == "Here it is."
    assert [(f.filename, f.data) for f in upload.files] == [("report.txt", b"all good")]
    assert "not sent" in refusal.content and "outside" in refusal.content
    assert not refusal.files


async def test_redelivered_message_is_queued_once(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    payload = kit.fake.push_message(channel_id="555", content="once", author=kit.alice)
    kit.fake.dispatch("MESSAGE_CREATE", payload)
    kit.fake.push_message(channel_id="555", content="twice", author=kit.alice)
    await kit.queued(2)
    await asyncio.sleep(0.1)
    assert [m.text for m in kit.incoming()] == ["once", "twice"]


async def test_denied_sender_gets_nothing_queued_or_downloaded(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    fake = kit.fake
    mallory = fake.user("mallory")
    attachment = fake.add_attachment("666", "payload.bin", b"\x00" * 10)
    fake.push_message(
        channel_id="666", content="let me in", author=mallory, attachments=[attachment]
    )
    await until(lambda: len(fake.messages) == 1, what="the denial")
    assert mallory.id in fake.messages[0].content
    assert kit.incoming() == [] and fake.state.downloads == []


async def test_chat_commands_go_to_the_worker(listener: DiscordChannel, kit: ListenerKit) -> None:
    kit.fake.push_message(channel_id="555", content="/reset   @coder", author=kit.alice)
    [message] = await kit.queued()
    assert (message.kind, message.text) == ("command", "/reset @coder")


async def test_typing_is_refreshed_while_the_message_is_worked_on_and_ends_with_the_reply(
    kit: ListenerKit,
) -> None:
    listener = await kit.start(options={"typing_interval": 0.05})
    fake = kit.fake
    fake.push_message(channel_id="555", content="think hard", author=kit.alice)
    [message] = await kit.queued()

    await until(lambda: fake.state.typing.count("555") >= 3, what="typing refreshed")
    await kit.delivered(kit.reply(message, "Done thinking."))
    await until(lambda: not listener.typing.active("555"), what="typing stopped")
    await asyncio.sleep(0.3)  # six refresh intervals
    [reply_post] = fake.requests_to("POST", "/channels/555/messages")
    late = [r for r in fake.requests_to("POST", "/channels/555/typing") if r.at > reply_post.at]
    assert late == []


async def test_typing_gives_up_after_the_cap_when_no_reply_comes(kit: ListenerKit) -> None:
    listener = await kit.start(options={"typing_interval": 0.05, "typing_cap": 0.5})
    fake = kit.fake
    fake.push_message(channel_id="555", content="anyone there?", author=kit.alice)
    await kit.queued()

    await until(lambda: fake.state.typing.count("555") >= 2, what="typing refreshed")
    await until(lambda: not listener.typing.active("555"), what="the cap")
    await asyncio.sleep(0.1)  # a refresh already on the wire when it stopped
    typed = fake.state.typing.count("555")
    await asyncio.sleep(0.3)
    assert fake.state.typing.count("555") == typed
    assert kit.spool.list_box(kit.spool.incoming)  # the message itself still waits


async def test_a_markdown_reply_keeps_its_markdown_and_pings_nobody(
    listener: DiscordChannel, kit: ListenerKit
) -> None:
    kit.fake.push_message(channel_id="555", content="who broke it?", author=kit.alice)
    [message] = await kit.queued()
    reply_text = (
        "**Nobody** did, @everyone relax; ask <@42> or <@&7>.\n\n| a | b |\n|-|-|\n| 1 | 2 |"
    )
    await kit.delivered(kit.reply(message, reply_text, actor="assistant"))
    [answer] = kit.fake.messages
    assert answer.content == (
        "**Nobody** did, @\u200beveryone relax; ask <@42> or <@&7>.\n\n"
        "```\na | b\n--+--\n1 | 2\n```"
    )
    mentions = answer.payload["allowed_mentions"]
    assert mentions["parse"] == [] and mentions.get("replied_user") is True
