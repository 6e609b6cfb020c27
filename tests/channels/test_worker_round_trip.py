"""A chat message all the way round: the real listener against its platform fake, the
real worker in a thread running ``scripts/fake-cli`` (it answers ``echo: <prompt>``),
and the reply delivered back into the chat. The same for the five chat commands, which
the worker answers itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, until
from tests.channels.test_whatsapp import ALICE, listening
from tests.fakes.telegram_api import TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

ACTORS: dict[str, dict[str, object]] = {
    "assistant": {"description": "general help"},
    "coder": {"description": "writes code"},
}
# What each command's answer says, whatever the platform.
COMMANDS = [
    ("/help", "/actors - who is here"),
    ("/actors", "writes code"),
    ("/reset", "Started a fresh conversation with @assistant"),
    ("/status", "Nothing"),
    ("/cancel", "Nothing is running for this chat."),
]


def configure(home: Home) -> None:
    """Two actors, the fake CLI, and Alice allowed on both platforms (the worker checks
    the sender again before anything runs)."""
    extra = f"""
[channels.telegram]
allow_from = ["{ALICE_ID}"]

[channels.whatsapp]
allow_from = ["{ALICE}"]
"""
    write_config(home, fake_cli_config(ACTORS, extra=extra, scan_interval=0.2))


def sent_names(home: Home, channel: str) -> list[str]:
    spool = Spool(home)
    return [p.name for p in spool.list_box(spool.sent(channel))]


async def settled(count: Callable[[], int], interval: float) -> int:
    """The count once it stopped growing for a few intervals of the indicator."""
    previous = -1
    while (current := count()) != previous:
        previous = current
        await asyncio.sleep(interval * 3)
    return current


# -- Telegram ---------------------------------------------------------------------------


async def test_telegram_dm_is_answered_by_the_worker(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home)
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(typing_interval=0.05) as _channel:
        with worker_thread(home):
            update = telegram_fake.push_message(alice, "what is 2+2?")
            await until(lambda: any("echo:" in t for t in telegram_fake.texts(ALICE_ID)), "echo")
            await until(lambda: sent_names(home, "telegram"), "the reply in sent/")
            typing_after_reply = await settled(lambda: len(telegram_fake.typing(ALICE_ID)), 0.05)
    [answer] = telegram_fake.sent
    assert "what is 2+2?" in answer.text and answer.chat_id == str(ALICE_ID)
    assert answer.reply_to == update["message"]["message_id"]
    assert typing_after_reply >= 1  # shown while the worker ran
    # ... and stopped for good once the reply was out
    assert len(telegram_fake.typing(ALICE_ID)) == typing_after_reply
    assert all(
        c.at <= telegram_fake.calls_to("sendMessage")[0].at + 0.01 for c in telegram_fake.typing()
    )
    [name] = sent_names(home, "telegram")
    spool = Spool(home)
    assert spool.list_box(spool.outgoing("telegram")) == []
    assert spool.list_box(spool.failed) == []
    assert name.endswith(".json")


@pytest.mark.parametrize(("command", "expected"), COMMANDS)
async def test_telegram_chat_commands_are_answered_in_the_chat(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, command: str, expected: str
) -> None:
    configure(home)
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram() as _channel:
        with worker_thread(home):
            update = telegram_fake.push_message(alice, command)
            await until(lambda: telegram_fake.texts(ALICE_ID), f"the answer to {command}")
    [answer] = telegram_fake.sent
    assert expected in answer.text
    assert "echo:" not in answer.text  # the worker answered, no CLI ran
    assert answer.reply_to == update["message"]["message_id"]


# -- WhatsApp ---------------------------------------------------------------------------


async def test_whatsapp_dm_is_answered_by_the_worker(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    configure(home)
    fake = whatsapp_fake
    async with listening(home, fake, typing_interval=0.05) as (_channel, meta):
        with worker_thread(home):
            update = meta.text("what is 2+2?", wa_id=ALICE)
            assert (await meta.apost(update)).status_code == 200
            await async_wait_for(lambda: any("echo:" in t for t in fake.texts), what="echo")
            await async_wait_for(lambda: sent_names(home, "whatsapp"), what="sent/")
            typing_after_reply = await settled(lambda: len(fake.state.typing), 0.05)
    wamid = update["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    [answer] = fake.messages
    assert answer.text is not None and "what is 2+2?" in answer.text
    assert (answer.to, answer.reply_to) == (ALICE, wamid)
    assert typing_after_reply >= 1 and set(fake.state.typing) == {wamid}
    assert len(fake.state.typing) == typing_after_reply
    spool = Spool(home)
    assert spool.list_box(spool.outgoing("whatsapp")) == []
    assert spool.list_box(spool.failed) == []


@pytest.mark.parametrize(("command", "expected"), COMMANDS)
async def test_whatsapp_chat_commands_are_answered_in_the_chat(
    home: Home, whatsapp_fake: WhatsAppFake, command: str, expected: str
) -> None:
    configure(home)
    fake = whatsapp_fake
    async with listening(home, fake) as (_channel, meta):
        with worker_thread(home):
            update = meta.text(command, wa_id=ALICE)
            assert (await meta.apost(update)).status_code == 200
            await async_wait_for(lambda: fake.texts, what=f"the answer to {command}")
    wamid = update["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    [answer] = fake.messages
    assert answer.text is not None and expected in answer.text
    assert "echo:" not in answer.text
    assert (answer.to, answer.reply_to) == (ALICE, wamid)
