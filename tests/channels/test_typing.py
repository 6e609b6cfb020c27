""" "typing…" while a message is being worked on, as the platform sees it: refreshed
while the worker thinks, never again once the reply is out, given up after the cap,
and back while a reply that could not be sent waits for its next try.

The test plays the worker (it writes the reply into ``queue/outgoing/<channel>/``) and
counts the indicator calls that reach the platform fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.channels.conftest import ALICE_ID, incoming, until
from tests.channels.test_whatsapp import ALICE, listening, reply_to, sent_box
from tests.fakes.telegram_api import SERVER_ERROR, TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply, load_reply
from tinyclaw.spool import Spool

INTERVAL = 0.05


async def settled(count: Callable[[], int]) -> int:
    """The count once it has not grown for several refresh intervals."""
    previous = -1
    while (current := count()) != previous:
        previous = current
        await asyncio.sleep(INTERVAL * 4)
    return current


def telegram_reply(home: Home, text: str) -> Reply:
    [message] = incoming(home)
    return Reply(
        id=message.id,
        in_reply_to=message.id,
        channel="telegram",
        chat_id=message.chat_id,
        text=text,
        reply_to_message_id=message.message_id,
    )


# -- Telegram ---------------------------------------------------------------------------


async def test_telegram_typing_is_refreshed_until_the_reply_is_sent(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    typing = lambda: len(telegram_fake.typing(ALICE_ID))  # noqa: E731
    async with run_telegram(typing_interval=INTERVAL):
        telegram_fake.push_message(alice, "think hard")
        await until(lambda: typing() >= 2, "the indicator refreshed")
        Spool(home).put_reply(telegram_reply(home, "done"))
        await until(lambda: telegram_fake.texts(ALICE_ID), "the reply")
        at_reply = await settled(typing)
        await asyncio.sleep(INTERVAL * 6)
        assert typing() == at_reply  # none after the reply
    sent_at = telegram_fake.calls_to("sendMessage")[0].at
    late = [c for c in telegram_fake.typing(ALICE_ID) if c.at > sent_at]
    assert late == []
    assert {c.params["action"] for c in telegram_fake.typing()} == {"typing"}


async def test_telegram_typing_gives_up_after_the_cap(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """A worker that never answers must not keep the chat "typing…" forever."""
    alice = telegram_fake.user(ALICE_ID)
    typing = lambda: len(telegram_fake.typing(ALICE_ID))  # noqa: E731
    async with run_telegram(typing_interval=INTERVAL, typing_cap=0.3):
        telegram_fake.push_message(alice, "nobody will answer")
        await until(lambda: typing() >= 2, "the indicator refreshed")
        stopped = await settled(typing)
        await asyncio.sleep(INTERVAL * 6)
        assert typing() == stopped
    assert 2 <= stopped <= 0.3 / INTERVAL + 2


async def test_telegram_typing_comes_back_while_a_deferred_reply_waits(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """The reply exists but Telegram failed it for a whole round: it waits a minute for
    its next round, and the user sees "typing…" meanwhile, not silence."""
    alice = telegram_fake.user(ALICE_ID)
    spool = Spool(home)
    typing = lambda: len(telegram_fake.typing(ALICE_ID))  # noqa: E731
    retry = RetryPolicy(tries=2, base=0.01, rounds=3, round_backoff=60)
    async with run_telegram(typing_interval=INTERVAL, retry=retry):
        telegram_fake.push_message(alice, "hello")
        await until(lambda: typing() >= 1, "typing")
        telegram_fake.fail("sendMessage", SERVER_ERROR, SERVER_ERROR)
        path = spool.put_reply(telegram_reply(home, "this has to wait"))
        await until(lambda: load_reply(path.read_bytes()).attempts == 1, "the reply deferred")
        deferred_at = typing()
        await until(lambda: typing() >= deferred_at + 2, "typing again while it waits")
    assert telegram_fake.texts() == []  # still waiting for its next round
    assert spool.list_box(spool.outgoing("telegram")) == [path]


# -- WhatsApp ---------------------------------------------------------------------------


async def queue_from_alice(fake: WhatsAppFake, meta: Any, text: str) -> str:
    update = meta.text(text, wa_id=ALICE)
    assert (await meta.apost(update)).status_code == 200
    wamid: str = update["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    return wamid


async def test_whatsapp_typing_is_refreshed_until_the_reply_is_sent(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    fake = whatsapp_fake
    typing = lambda: len(fake.state.typing)  # noqa: E731
    async with listening(home, fake, typing_interval=INTERVAL) as (_channel, meta):
        wamid = await queue_from_alice(fake, meta, "think hard")
        await async_wait_for(lambda: typing() >= 2, what="the indicator refreshed")
        [message] = incoming(home)
        Spool(home).put_reply(reply_to(message, "done"))
        await async_wait_for(lambda: sent_box(home), what="the reply")
        at_reply = await settled(typing)
        await asyncio.sleep(INTERVAL * 6)
        assert typing() == at_reply
    assert set(fake.state.typing) == {wamid}  # on Alice's message, in her chat
    assert fake.texts == ["done"]


async def test_whatsapp_typing_gives_up_after_the_cap(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    fake = whatsapp_fake
    typing = lambda: len(fake.state.typing)  # noqa: E731
    async with listening(home, fake, typing_interval=INTERVAL, typing_cap=0.3) as (_c, meta):
        await queue_from_alice(fake, meta, "nobody will answer")
        await async_wait_for(lambda: typing() >= 2, what="the indicator refreshed")
        stopped = await settled(typing)
        await asyncio.sleep(INTERVAL * 6)
        assert typing() == stopped
    assert 2 <= stopped <= 0.3 / INTERVAL + 2
