"""Telegram messages become queue files: who gets in, what is kept, what is ignored.

Real python-telegram-bot against the loopback Bot API fake; the test plays Telegram
(pushing updates) and reads ``queue/incoming`` the way the worker would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.channels.conftest import ALICE_ID, incoming, until
from tests.fakes.telegram_api import BOT, BOT_USERNAME, TelegramFake
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

GROUP_ID = -100123


async def test_a_dm_becomes_one_queue_file_with_sender_and_message_id(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID, "Alice", "alice")
    async with run_telegram():
        update = telegram_fake.push_message(alice, "What is on my calendar?")
        await until(lambda: incoming(home), "the message in queue/incoming")
        await until(lambda: telegram_fake.calls_to("sendChatAction"), "the typing indicator")
    [message] = incoming(home)
    assert message.channel == "telegram"
    assert message.chat_id == str(ALICE_ID)
    assert message.sender.id == str(ALICE_ID) and message.sender.name == "Alice"
    assert message.text == "What is on my calendar?"
    assert message.kind == "chat" and not message.is_group
    assert message.message_id == str(update["message"]["message_id"])
    assert message.meta["username"] == "alice"
    # The start-up sequence of a polling bot, and the command menu.
    methods = [c.method for c in telegram_fake.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert [c["command"] for c in telegram_fake.commands] == [
        "help",
        "actors",
        "status",
        "reset",
        "cancel",
        "model",
        "cost",
        "pair",
    ]


async def test_a_reply_to_an_earlier_message_carries_the_quote(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    earlier = telegram_fake.message_payload(alice, "Buy milk and eggs", message_id=41)
    async with run_telegram():
        telegram_fake.push_message(alice, "Add bread to this", reply_to=earlier)
        await until(lambda: incoming(home), "the reply in incoming")
    [message] = incoming(home)
    assert message.reply_to is not None
    assert message.reply_to.text == "Buy milk and eggs"
    assert message.reply_to.message_id == "41"
    assert message.reply_to.author == "Alice"


async def test_group_messages_are_ignored_unless_the_bot_is_mentioned_or_replied_to(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    in_group: dict[str, Any] = {"chat_id": GROUP_ID, "chat_type": "supergroup"}
    bot_said = telegram_fake.message_payload(BOT, "Earlier answer", **in_group)
    async with run_telegram(allow_groups=[str(GROUP_ID)]):
        telegram_fake.push_message(alice, "just chatting among humans", **in_group)
        telegram_fake.push_message(alice, f"@{BOT_USERNAME} summarize the thread", **in_group)
        telegram_fake.push_message(alice, "and in French?", reply_to=bot_said, **in_group)
        # Mentioned, but in a group nobody allowed: ignored as well.
        telegram_fake.push_message(alice, f"@{BOT_USERNAME} hi", chat_id=-555, chat_type="group")
        last = telegram_fake.push_message(alice, "still chatting", **in_group)
        await until(
            lambda: telegram_fake.confirmed_offset > last["update_id"], "all updates handled"
        )
    texts = [m.text for m in incoming(home)]
    assert texts == ["summarize the thread", "and in French?"]
    assert all(m.is_group and m.chat_id == str(GROUP_ID) for m in incoming(home))


async def test_attachments_are_downloaded_after_the_gate_with_safe_names(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        telegram_fake.push_message(
            alice,
            None,
            caption="Please review",
            document=("../../etc/My Report.pdf", b"%PDF-1.7 report", "application/pdf"),
        )
        telegram_fake.push_message(alice, None, photo=b"\xff\xd8 jpeg bytes")
        telegram_fake.push_message(alice, None, voice=b"OggS voice")
        await until(lambda: len(incoming(home)) == 3, "three messages with files")
    document, photo, voice = incoming(home)
    assert document.text == "Please review"
    [pdf] = document.attachments
    assert pdf.name == "My_Report.pdf" and pdf.kind == "document" and pdf.size == 15
    assert pdf.mime == "application/pdf"
    pdf_path = Path(pdf.path)
    assert pdf_path.read_bytes() == b"%PDF-1.7 report"
    assert pdf_path.parent == Spool(home).files_dir(document.id)
    assert Path(photo.attachments[0].path).read_bytes() == b"\xff\xd8 jpeg bytes"
    assert photo.attachments[0].kind == "photo"
    assert voice.attachments[0].kind == "voice" and voice.attachments[0].name.endswith(".ogg")


async def test_an_attachment_over_the_cap_is_listed_not_downloaded(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(max_attachment_mb=1):
        telegram_fake.push_message(
            alice,
            None,
            caption="the video",
            document=("huge.mp4", b"small really", "video/mp4"),
            declared_size=5 * 1024 * 1024,
        )
        await until(lambda: incoming(home), "the message")
    [message] = incoming(home)
    assert message.attachments == []
    assert "huge.mp4 skipped: too large (5.0 MB; limit 1.0 MB)" in message.text
    assert telegram_fake.calls_to("getFile") == []


async def test_a_redelivered_update_is_queued_once(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        first = telegram_fake.push_message(
            alice, "only once please", document=("a.txt", b"A", "text/plain")
        )
        await until(lambda: incoming(home), "the first delivery")
    # Telegram after a restart: the same message again, as if never confirmed.
    async with run_telegram():
        again = telegram_fake.redeliver(first)
        await until(
            lambda: telegram_fake.confirmed_offset > again["update_id"], "the redelivery handled"
        )
    assert [m.text for m in incoming(home)] == ["only once please"]
    files_root = Spool(home).files_root
    assert [p.name for p in files_root.iterdir()] == [incoming(home)[0].id]  # no orphan download


async def test_a_denied_sender_gets_their_id_and_nothing_is_queued_or_downloaded(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    mallory = telegram_fake.user(666, "Mallory", "mallory")
    async with run_telegram():
        telegram_fake.push_message(mallory, "let me in", document=("x.sh", b"rm -rf", "text/x-sh"))
        await until(lambda: telegram_fake.texts(666), "the answer to mallory")
    [answer] = telegram_fake.texts(666)
    assert "not allowed" in answer and "666" in answer
    assert incoming(home) == []
    assert telegram_fake.calls_to("getFile") == [] and telegram_fake.calls_to("download") == []
    assert not Spool(home).files_root.exists() or not any(Spool(home).files_root.iterdir())


async def test_an_empty_allow_list_denies_everyone(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(allow_from=[]):
        telegram_fake.push_message(alice, "hello?")
        await until(lambda: telegram_fake.texts(ALICE_ID), "the refusal")
    assert incoming(home) == []


async def test_pair_goes_to_the_gate_before_the_allow_check(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    stranger = telegram_fake.user(777, "Sam", None)
    async with run_telegram():
        telegram_fake.push_message(stranger, f"/pair@{BOT_USERNAME} ABCD-1234")
        await until(lambda: telegram_fake.texts(777), "the gate's answer")
    assert telegram_fake.texts(777) == ["pairing is not enabled"]
    assert incoming(home) == []


async def test_chat_commands_go_to_the_worker_normalized(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        telegram_fake.push_message(alice, f"/reset@{BOT_USERNAME}   @coder")
        telegram_fake.push_message(alice, "/start")
        telegram_fake.push_message(alice, "/status")
        telegram_fake.push_message(alice, "/weather tomorrow")  # not ours: plain chat
        await until(lambda: len(incoming(home)) == 4, "four messages")
    assert [(m.kind, m.text) for m in incoming(home)] == [
        ("command", "/reset @coder"),
        ("command", "/help"),
        ("command", "/status"),
        ("chat", "/weather tomorrow"),
    ]
