"""Discord end to end: the listener against the loopback Discord fake and the real
worker in a thread, running ``scripts/fake-cli`` (it answers ``echo: <prompt>``).

The home is configured the way a user would (``[channels.discord]`` with ``allow_from``
and ``allow_groups`` in tinyclaw.toml) and the listener gets the gate ``tinyclaw listen``
builds from it, so these stories cover the whole trip: Discord → queue → worker → CLI
→ reply → Discord.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord_api import DiscordFake, FakeUser, SentMessage, wait_until
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.pairing import pairing_service
from tinyclaw.pairing.listener import ListenerGate
from tinyclaw.spool import Spool

DM = "4242"
ACTORS: dict[str, dict[str, object]] = {
    "assistant": {"description": "general help"},
    "coder": {"description": "writes code"},
}


class Story:
    """One home served end to end; ``alice`` is in allow_from, ``#general`` allowed."""

    def __init__(
        self, home: Home, fake: DiscordFake, listener: DiscordChannel, alice: FakeUser
    ) -> None:
        self.home, self.fake, self.listener, self.alice = home, fake, listener, alice
        self.spool = Spool(home)

    def texts(self, channel_id: str) -> list[SentMessage]:
        return [m for m in self.fake.messages if m.channel_id == channel_id]

    async def answer(self, channel_id: str, needle: str = "") -> SentMessage:
        """The first message the bot posted in ``channel_id`` containing ``needle``."""

        def found() -> SentMessage | None:
            return next((m for m in self.texts(channel_id) if needle in m.content), None)

        await wait_until(lambda: found() is not None, timeout=20, what=f"{needle!r} posted")
        sent = found()
        assert sent is not None
        return sent


@pytest.fixture
async def story(home: Home, fake: DiscordFake) -> AsyncIterator[Story]:
    alice = fake.user("alice")
    guild = fake.add_guild("club", channels=("general", "random"))
    section = {
        "enabled": True,
        "allow_from": [alice.id],
        "allow_groups": [guild.channel("general")],
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
    }
    lines = ["[channels.discord]", *(f"{k} = {json.dumps(v)}" for k, v in section.items())]
    write_config(home, fake_cli_config(ACTORS, extra="\n".join(lines) + "\n"))
    config = load_config(home)
    listener = DiscordChannel(
        home,
        config.channels.get("discord"),
        token=fake.token,
        gate=ListenerGate(pairing_service(home, config)),  # what `tinyclaw listen` builds
        retry=RetryPolicy(tries=3, base=0.05, rounds=3, round_backoff=0.05),
        scan_interval=0.1,
        typing_interval=0.05,
        ready_timeout=5.0,
        identify_delay=0.0,
    )
    with worker_thread(home):
        await listener.start()
        try:
            yield Story(home, fake, listener, alice)
        finally:
            await listener.stop()


async def test_a_dm_is_answered_by_the_worker_and_typing_stops(story: Story) -> None:
    fake = story.fake
    sent = fake.push_message(channel_id=DM, content="what's up?", author=story.alice)

    answer = await story.answer(DM, "echo:")
    assert "what's up?" in answer.content
    assert answer.reference_id == sent["id"]
    assert DM in fake.state.typing  # "typing…" showed while the CLI ran
    sent_box = story.spool.sent("discord")
    await wait_until(lambda: any(sent_box.glob("*.json")), what="the reply in sent/discord")
    assert not any(story.spool.outgoing("discord").glob("*.json"))
    await wait_until(lambda: not story.listener.typing.active(DM), what="typing stopped")
    typed = len(fake.state.typing)
    await asyncio.sleep(0.3)  # six refresh intervals
    assert len(fake.state.typing) == typed


WORKER_ANSWERS = {
    "/help": "Talk to me in plain text",
    "/actors": "@coder - writes code",
    "/reset @coder": "Started a fresh conversation with @coder.",
    "/status": "Nothing waiting.",
    "/cancel": "Nothing is running for this chat.",
}


@pytest.mark.parametrize("command", list(WORKER_ANSWERS))
async def test_each_chat_command_typed_in_a_dm_is_answered_by_the_worker(
    story: Story, command: str
) -> None:
    story.fake.push_message(channel_id=DM, content=command, author=story.alice)
    answer = await story.answer(DM, WORKER_ANSWERS[command])
    assert "echo:" not in answer.content  # answered by the worker, not by an actor
    await asyncio.sleep(0.1)
    assert len(story.texts(DM)) == 1


async def test_a_slash_command_is_answered_by_the_worker_in_the_chat(story: Story) -> None:
    fake = story.fake
    fake.push_interaction("reset", user=story.alice, channel_id=DM, options={"actor": "coder"})
    answer = await story.answer(DM, "Started a fresh conversation with @coder.")
    assert answer.reference_id is None  # a slash command has no message to reply to
    [ack] = fake.callbacks
    assert ack.ephemeral and "/reset" in ack.content


async def test_a_mention_in_an_allowed_guild_channel_is_answered_there(story: Story) -> None:
    fake = story.fake
    [guild] = fake.guilds
    general = guild.channel("general")
    sent = fake.push_message(
        channel_id=general,
        guild_id=guild.id,
        author=story.alice,
        content=f"{fake.bot.mention} is the build green?",
        mentions=[fake.bot],
    )

    answer = await story.answer(general, "echo:")
    assert "is the build green?" in answer.content and "<@" not in answer.content
    assert answer.reference_id == sent["id"]  # a reply to Alice's message, in #general
    assert answer.payload["allowed_mentions"]["parse"] == []  # no @everyone, roles or users
