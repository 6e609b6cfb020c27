"""What every chat platform promises, written once and run against Telegram, Discord
and WhatsApp (each the real platform library against its loopback fake).

A user's message becomes one file in ``queue/incoming``; the worker's reply in
``queue/outgoing/<platform>`` reaches the user once and moves to ``sent/``; a long
reply is split within the platform's limit; a file goes in and out; a stranger gets
the gate's answer and nothing is queued; a reply the platform refuses for good (its
chat is gone) ends in ``failed/`` with the reason, and the next reply still goes out.
What only one platform does (groups, threads, webhooks, slash commands, markup) is in
that platform's own test modules.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.messages import incoming
from tests.support.waiting import until
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply
from tinyclaw.spool import Spool

from .platforms import Platform


def reply_to(platform: Platform, message: Inbound | None, text: str, **fields: object) -> Reply:
    """The worker's reply to ``message`` (or, without one, to the user's chat)."""
    return Reply.model_validate(
        {
            "id": unique_name(),
            "in_reply_to": message.id if message else "m1",
            "channel": platform.name,
            "chat_id": message.chat_id if message else platform.user_chat,
            "text": text,
            "reply_to_message_id": message.message_id if message else None,
            **fields,
        }
    )


def sent(home: Home, platform: Platform) -> list[str]:
    spool = Spool(home)
    return [p.name for p in spool.list_box(spool.sent(platform.name))]


async def first_message(home: Home, platform: Platform, text: str) -> Inbound:
    await platform.user_writes(text)
    await until(lambda: incoming(home), what="the message in queue/incoming")
    [message] = incoming(home)
    return message


async def test_a_text_message_becomes_one_queue_file_with_its_fields(
    home: Home, platform: Platform
) -> None:
    async with platform.running():
        platform_id = await platform.user_writes("What is on my calendar?")
        await until(lambda: incoming(home), what="the message in queue/incoming")
    [message] = incoming(home)
    assert message.channel == platform.name
    assert message.chat_id == platform.user_chat
    assert message.text == "What is on my calendar?"
    assert message.message_id == platform_id
    assert message.kind == "chat" and not message.is_group
    assert message.sender.id == platform.user_id
    assert platform.answers(platform.user_chat) == []  # nothing said before the worker


async def test_a_reply_is_delivered_once_and_moved_to_sent(home: Home, platform: Platform) -> None:
    spool = Spool(home)
    async with platform.running():
        message = await first_message(home, platform, "ping")
        reply = reply_to(platform, message, "pong")
        spool.put_reply(reply)
        await until(lambda: sent(home, platform), what="the reply in sent/")
        assert sent(home, platform) == [f"{reply.id}.json"]
        # A scan later the reply is still delivered once: nothing is sent again.
        await platform.user_writes("and again")
        await until(lambda: len(incoming(home)) == 2, what="the second message")
    assert platform.answers(platform.user_chat) == ["pong"]
    assert platform.quoted(platform.user_chat) == [message.message_id]
    assert spool.list_box(spool.outgoing(platform.name)) == []


async def test_a_long_reply_is_split_within_the_platforms_limit(
    home: Home, platform: Platform
) -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 300 for i in range(6)]
    paragraphs.insert(3, "line\n" * 600)  # one paragraph of many short lines
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert platform.measure(text) > 2 * platform.limit
    async with platform.running():
        message = await first_message(home, platform, "write an essay")
        Spool(home).put_reply(reply_to(platform, message, text))
        await until(lambda: sent(home, platform), what="the long reply in sent/")
    parts = platform.answers(platform.user_chat)
    assert len(parts) >= 3
    assert all(platform.measure(part) <= platform.limit for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost
    # The first part answers the user's message; the rest follow it.
    assert platform.quoted(platform.user_chat) == [message.message_id] + [None] * (len(parts) - 1)


async def test_a_file_comes_in_with_its_message_and_a_workspace_file_goes_out(
    home: Home, platform: Platform
) -> None:
    workspace = home.actors / "assistant" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "report.txt").write_bytes(b"quarterly numbers")
    async with platform.running():
        await platform.user_sends_file("notes.txt", b"buy milk", "text/plain", "see the notes")
        await until(lambda: incoming(home), what="the message with its file")
        [message] = incoming(home)
        reply = reply_to(
            platform, message, "Here is the report.", files=["report.txt"], workspace=str(workspace)
        )
        Spool(home).put_reply(reply)
        await until(lambda: sent(home, platform), what="the reply with its file in sent/")
    assert message.text == "see the notes"
    [attachment] = message.attachments
    assert attachment.name == "notes.txt" and attachment.kind == "document"
    assert Path(attachment.path).parent == Spool(home).files_dir(message.id)
    assert Path(attachment.path).read_bytes() == b"buy milk"
    assert platform.answers(platform.user_chat)[0] == "Here is the report."
    assert platform.files() == [b"quarterly numbers"]


async def test_a_stranger_gets_the_gates_answer_and_nothing_is_queued(
    home: Home, platform: Platform
) -> None:
    async with platform.running():
        stranger, chat = await platform.stranger_writes("let me in")
        await until(lambda: platform.answers(chat), what="the answer to the stranger")
    [answer] = platform.answers(chat)
    assert "not allowed" in answer and stranger in answer  # they learn their id
    assert incoming(home) == []
    assert not Spool(home).files_root.exists() or not any(Spool(home).files_root.iterdir())
    assert platform.answers(platform.user_chat) == []


async def test_a_reply_to_a_chat_that_is_gone_fails_with_its_reason_and_the_next_goes_out(
    home: Home, platform: Platform
) -> None:
    spool = Spool(home)
    async with platform.running():
        message = await first_message(home, platform, "hello")
        platform.chat_is_gone()
        lost = reply_to(platform, None, "to nobody", chat_id=platform.gone_chat)
        spool.put_reply(lost)
        await until(lambda: (spool.failed / f"{lost.id}.json").exists(), what="failed/")
        after = reply_to(platform, message, "still here")
        spool.put_reply(after)
        await until(lambda: sent(home, platform), what="the next reply in sent/")
    reason = json.loads((spool.failed / f"{lost.id}.json.reason").read_text())["reason"]
    assert platform.gone_reason in reason
    assert sent(home, platform) == [f"{after.id}.json"]
    assert platform.answers(platform.user_chat) == ["still here"]
    assert platform.answers(platform.gone_chat) == []
