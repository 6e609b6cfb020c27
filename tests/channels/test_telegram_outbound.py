"""Replies written by the worker reach Telegram: split, with files, despite errors.

The test plays the worker's part: it writes a Reply into queue/outgoing/telegram/ with
``Spool.put_reply`` and watches what the Bot API fake receives and where the file goes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.fakes.telegram_api import (
    BAD_GATEWAY,
    FORBIDDEN,
    SERVER_ERROR,
    TelegramFake,
    rate_limited,
    utf16_len,
)
from tests.support.channels import ALICE_ID, RecordedSleeps
from tests.support.messages import incoming
from tests.support.waiting import until
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply, load_reply
from tinyclaw.spool import Spool

CHAT = str(ALICE_ID)


def reply(text: str, **fields: Any) -> Reply:
    return Reply(
        id=fields.pop("id", unique_name()),
        in_reply_to=fields.pop("in_reply_to", "m1"),
        channel="telegram",
        chat_id=fields.pop("chat_id", CHAT),
        text=text,
        **fields,
    )


def sent_box(home: Home) -> list[str]:
    spool = Spool(home)
    return [p.name for p in spool.list_box(spool.sent("telegram"))]


def outgoing_box(home: Home) -> list[Path]:
    spool = Spool(home)
    return spool.list_box(spool.outgoing("telegram"))


async def test_dm_round_trip_through_the_queue(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    spool = Spool(home)
    async with run_telegram() as channel:
        telegram_fake.push_message(alice, "hello bot")
        await until(lambda: incoming(home), what="the message queued")
        [message] = incoming(home)
        assert channel.typing.active(CHAT)  # "typing…" while the worker thinks
        answer = reply(
            "Hello Alice!",
            id=message.id,
            in_reply_to=message.id,
            reply_to_message_id=message.message_id,
        )
        spool.put_reply(answer)
        await until(lambda: sent_box(home), what="the reply delivered")
        assert not channel.typing.active(CHAT)
    [sent] = telegram_fake.sent
    assert (sent.chat_id, sent.text) == (CHAT, "Hello Alice!")
    assert sent.reply_to == int(message.message_id or 0)
    assert sent_box(home) == [f"{message.id}.json"] and outgoing_box(home) == []


async def test_a_reply_waiting_at_start_up_is_delivered(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    Spool(home).put_reply(reply("written while the listener was down"))
    async with run_telegram(scan_interval=30):
        await until(lambda: sent_box(home), what="the start-up scan delivered it")
    assert telegram_fake.texts() == ["written while the listener was down"]


async def test_a_long_reply_is_split_at_4096_with_code_blocks_intact(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    code = "\n".join(f"    step_{i}()  # do the thing number {i}" for i in range(250))
    prose = " ".join(["The plan has many words."] * 120)
    text = f"{prose}\n\n```python\n{code}\n```\n\nThat is all."
    async with run_telegram():
        Spool(home).put_reply(reply(text, reply_to_message_id="5"))
        await until(lambda: sent_box(home), what="the long reply delivered")
    parts = telegram_fake.texts()
    assert len(parts) >= 3
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert parts[0] == prose  # cut at the paragraph break
    for part in parts[1:]:
        fences = [line for line in part.split("\n") if line.startswith("```")]
        assert len(fences) % 2 == 0, "every part closes the code block it opens"
    assert [s.reply_to for s in telegram_fake.sent] == [5] + [None] * (len(parts) - 1)
    assert parts[-1].endswith("That is all.")


async def test_files_are_sent_only_from_inside_the_workspace(
    home: Home, tmp_path: Path, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    workspace = home.actors / "assistant" / "workspace"  # a home's actor workspace
    workspace.mkdir(parents=True)
    (workspace / "report.txt").write_text("quarterly numbers")
    (workspace / "chart.png").write_bytes(b"\x89PNG chart")
    secret = tmp_path / "secret.txt"
    secret.write_text("the owner's secret")
    os.symlink(secret, workspace / "innocent.txt")
    files = [
        "report.txt",
        str(workspace / "chart.png"),
        "../secret.txt",
        "innocent.txt",
        "gone.txt",
    ]
    async with run_telegram():
        Spool(home).put_reply(reply("Here are the files.", files=files, workspace=str(workspace)))
        await until(lambda: sent_box(home), what="the reply with files delivered")
    kinds = [(s.kind, s.file_name) for s in telegram_fake.sent]
    assert kinds[:3] == [("text", None), ("document", "report.txt"), ("photo", "chart.png")]
    assert [s.data for s in telegram_fake.sent[1:3]] == [b"quarterly numbers", b"\x89PNG chart"]
    refusals = [s.text for s in telegram_fake.sent[3:]]
    assert len(refusals) == 3 and all(r.startswith("(file not sent:") for r in refusals)
    assert "outside the actor's workspace" in refusals[0] and "outside" in refusals[1]
    assert "does not exist" in refusals[2]
    assert not any(s.data == b"the owner's secret" for s in telegram_fake.sent)


async def test_server_errors_are_retried_with_backoff(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, sleeps: RecordedSleeps
) -> None:
    telegram_fake.fail("sendMessage", SERVER_ERROR, BAD_GATEWAY)
    async with run_telegram():
        Spool(home).put_reply(reply("third time lucky"))
        await until(lambda: sent_box(home), what="delivered after two errors")
    assert telegram_fake.texts() == ["third time lucky"]
    statuses = [c.status for c in telegram_fake.calls_to("sendMessage")]
    assert statuses == [500, 502, 200]
    assert sleeps[:2] == [0.5, 1.0]  # exponential backoff


async def test_a_429_is_retried_after_the_time_telegram_asks_for(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, sleeps: RecordedSleeps
) -> None:
    telegram_fake.fail("sendMessage", rate_limited(7))
    async with run_telegram():
        Spool(home).put_reply(reply("not so fast"))
        await until(lambda: sent_box(home), what="delivered after the rate limit")
    assert 7.0 in sleeps
    assert [c.status for c in telegram_fake.calls_to("sendMessage")] == [429, 200]


async def test_a_permanent_error_moves_the_reply_to_failed_with_the_reason(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    telegram_fake.fail("sendMessage", FORBIDDEN)
    spool = Spool(home)
    async with run_telegram():
        path = spool.put_reply(reply("you blocked me", id="r-blocked"))
        await until(lambda: spool.list_box(spool.failed), what="the reply in failed/")
    assert [p.name for p in spool.list_box(spool.failed)] == [path.name]
    reason = json.loads((spool.failed / (path.name + ".reason")).read_text())
    assert "Forbidden: bot was blocked by the user" in reason["reason"]
    assert sent_box(home) == [] and outgoing_box(home) == []
    assert len(telegram_fake.calls_to("sendMessage")) == 1  # never retried


async def test_a_reply_cut_off_mid_way_resumes_without_resending_parts(
    home: Home, telegram_fake: TelegramFake, sleeps: RecordedSleeps
) -> None:
    """Deliver by hand with a clock the test moves: the second part keeps failing, the
    reply is deferred with its progress recorded, and the next round sends only the
    parts that are missing."""
    now = [1000.0]
    config = ChannelConfig(
        enabled=True,
        allow_from=[CHAT],
        base_url=telegram_fake.base_url,
        base_file_url=telegram_fake.base_file_url,
    )
    channel = TelegramChannel(
        home,
        config,
        token=telegram_fake.token,
        retry=RetryPolicy(tries=2, base=0.1, rounds=3, round_backoff=30),
        sleep=sleeps,
        clock=lambda: now[0],
    )
    text = "\n\n".join(["A" * 3000, "B" * 3000, "C" * 3000])
    spool = Spool(home)
    path = spool.put_reply(reply(text))
    # Part one goes through; part two fails on both tries of this round.
    telegram_fake.fail("sendMessage", None, SERVER_ERROR, SERVER_ERROR)
    await channel.bot.initialize()
    try:
        assert await channel.deliver(path) == "deferred"
        pending = load_reply(path.read_bytes())
        assert pending.meta["parts_sent"] == 1
        assert pending.attempts == 1 and pending.not_before == 1030.0
        assert await channel.deliver(path) == "waiting"  # not before its time
        now[0] = 1031.0
        assert await channel.deliver(path) == "sent"
    finally:
        await channel.bot.shutdown()
    assert telegram_fake.texts() == ["A" * 3000, "B" * 3000, "C" * 3000]
    assert sent_box(home) == [path.name]


async def test_a_reply_that_keeps_failing_goes_to_failed_after_its_rounds(
    home: Home, telegram_fake: TelegramFake, sleeps: RecordedSleeps
) -> None:
    now = [0.0]
    config = ChannelConfig(
        enabled=True, base_url=telegram_fake.base_url, base_file_url=telegram_fake.base_file_url
    )
    channel = TelegramChannel(
        home,
        config,
        token=telegram_fake.token,
        retry=RetryPolicy(tries=1, rounds=2, round_backoff=10),
        sleep=sleeps,
        clock=lambda: now[0],
    )
    spool = Spool(home)
    path = spool.put_reply(reply("the server is down"))
    telegram_fake.fail("sendMessage", SERVER_ERROR, SERVER_ERROR)
    await channel.bot.initialize()
    try:
        assert await channel.deliver(path) == "deferred"
        now[0] = 100.0
        assert await channel.deliver(path) == "failed"
    finally:
        await channel.bot.shutdown()
    reason = json.loads((spool.failed / (path.name + ".reason")).read_text())["reason"]
    assert "still failing after 2 attempts" in reason and "Internal Server Error" in reason


async def test_a_permission_question_arrives_as_text_and_a_typed_yes_answers_it(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    from tinyclaw.config import parse_config
    from tinyclaw.core.live_files import put_approval, read_answer
    from tinyclaw.pairing import Identity, PairingService
    from tinyclaw.worker.approvals import ApprovalDesk

    put_approval(
        home,
        "coder",
        {
            "key": "q1",
            "actor": "coder",
            "tool": "Bash",
            "detail": "make test",
            "asked_at": 1.0,
            "routes": ["chat"],
            "ask_chats": [f"telegram:{CHAT}"],
        },
    )
    question = reply(
        "@coder asks to use Bash: make test\nAnswer yes (allow once), always (allow Bash "
        "for this conversation) or no.",
        id="m1.approval-q1",
        kind="approval",
        meta={"approval": {"actor": "coder", "key": "q1", "choices": ["allow", "deny"]}},
    )
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram():
        Spool(home).put_reply(question)
        await until(lambda: sent_box(home), what="the question delivered")
        telegram_fake.push_message(alice, "yes")
        await until(lambda: incoming(home), what="the answer queued")
    assert telegram_fake.texts()[0].startswith("@coder asks to use Bash: make test")
    [answer] = incoming(home)
    assert (answer.kind, answer.text) == ("chat", "yes")
    # At routing, the worker's desk reads it as the answer of the chat's open question.
    config = parse_config({"actors": {"coder": {}}})
    owner = PairingService(home.pairing, owners={Identity("telegram", CHAT)})
    assert ApprovalDesk(home, config, lambda: owner).answer(answer) == "Allowed once."
    decided = read_answer(home, "coder", "q1")
    assert decided is not None and decided["decision"] == "allow"
