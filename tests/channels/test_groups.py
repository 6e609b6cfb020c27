"""A group message that must be answered: the bot is mentioned in an allowed group, the
message is queued for that group, "typing…" shows in the group, and the reply lands
in the group as a reply to that message. Telegram forum topics stay in their topic.

(The groups that must be ignored are in test_telegram_inbound.py / test_whatsapp.py.)
"""

from __future__ import annotations

from typing import Any

from tests.channels.conftest import ALICE_ID, incoming, until
from tests.channels.test_whatsapp import ALICE, config_for, listening, reply_to, sent_box
from tests.fakes.telegram_api import BOT_USERNAME, TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply
from tinyclaw.spool import Spool

GROUP = -1001234567890
TOPIC = 42


def answer(message: Inbound, text: str) -> Reply:
    return Reply(
        id=message.id,
        in_reply_to=message.id,
        channel=message.channel,
        chat_id=message.chat_id,
        text=text,
        reply_to_message_id=message.message_id,
    )


async def test_telegram_mention_in_an_allowed_group_is_answered_in_the_group(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(allow_groups=[str(GROUP)], typing_interval=0.05):
        update = telegram_fake.push_message(
            alice, f"@{BOT_USERNAME} what did we decide?", chat_id=GROUP, chat_type="supergroup"
        )
        await until(lambda: incoming(home), "the group message queued")
        [message] = incoming(home)
        await until(lambda: len(telegram_fake.typing(GROUP)) >= 2, "typing in the group")
        Spool(home).put_reply(answer(message, "We decided to ship on Friday."))
        await until(lambda: telegram_fake.texts(GROUP), "the answer in the group")
    assert (message.chat_id, message.is_group, message.text) == (
        str(GROUP),
        True,
        "what did we decide?",
    )
    [sent] = telegram_fake.sent
    assert (sent.chat_id, sent.text) == (str(GROUP), "We decided to ship on Friday.")
    assert sent.reply_to == update["message"]["message_id"]
    assert telegram_fake.typing(ALICE_ID) == []  # not in Alice's private chat


async def test_telegram_forum_topic_keeps_every_part_and_typing_in_the_topic(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """Only the first part replies to the user's message; the others (and "typing…")
    would land in the forum's General topic without ``message_thread_id``."""
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(allow_groups=[str(GROUP)], typing_interval=0.05):
        telegram_fake.push_message(
            alice,
            f"@{BOT_USERNAME} write a lot",
            chat_id=GROUP,
            chat_type="supergroup",
            thread_id=TOPIC,
        )
        await until(lambda: incoming(home), "the topic message queued")
        [message] = incoming(home)
        await until(lambda: telegram_fake.typing(GROUP), "typing in the topic")
        long_text = "\n\n".join(["A" * 3000, "B" * 3000, "C" * 3000])
        Spool(home).put_reply(answer(message, long_text))
        await until(lambda: len(telegram_fake.texts(GROUP)) == 3, "all three parts")
    assert message.chat_id == f"{GROUP}:{TOPIC}"  # a topic is its own conversation
    assert message.meta["message_thread_id"] == TOPIC
    assert [s.thread_id for s in telegram_fake.sent] == [TOPIC, TOPIC, TOPIC]
    assert {str(c.params.get("message_thread_id")) for c in telegram_fake.typing(GROUP)} == {
        str(TOPIC)
    }


async def test_whatsapp_mention_in_an_allowed_group_is_answered_in_the_group(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    """WhatsApp groups exist in our model when Meta's Groups API delivers a
    ``group_id``: the reply goes to the group (recipient_type "group")."""
    fake = whatsapp_fake
    group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    config = config_for(fake, allow_groups=[group])
    async with listening(home, fake, config=config, typing_interval=0.05) as (_channel, meta):
        update = meta.text(
            f"@{fake.display_phone_number} summarize this", wa_id=ALICE, group_id=group
        )
        assert (await meta.apost(update)).status_code == 200
        [message] = incoming(home)
        wamid = update["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        await async_wait_for(lambda: len(fake.state.typing) >= 2, what="typing on the message")
        Spool(home).put_reply(reply_to(message, "Here is the summary."))
        await async_wait_for(lambda: sent_box(home), what="sent/")
    assert (message.chat_id, message.is_group, message.text) == (group, True, "summarize this")
    [sent] = fake.messages
    assert (sent.to, sent.text, sent.reply_to) == (group, "Here is the summary.", wamid)
    assert sent.payload["recipient_type"] == "group"
    assert set(fake.state.typing) == {wamid}
