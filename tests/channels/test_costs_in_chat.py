"""``/model``, ``/cost`` and the spend limits as a Telegram user meets them: the real
listener against the fake Bot API, the real worker running ``scripts/fake-cli``
(which reports each run cost $0.25), answers and notices delivered into the chats."""

from __future__ import annotations

from typing import Any

from tests.channels.conftest import ALICE_ID, until
from tests.fakes.telegram_api import TelegramFake
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home

OWNER_ID = 7007
RUN_COST = "0.25"


def configure(home: Home, actor: dict[str, object]) -> None:
    extra = f"""
[channels.telegram]
allow_from = ["{ALICE_ID}"]

[pairing]
owners = ["telegram:{OWNER_ID}"]
"""
    actors: dict[str, dict[str, object]] = {"assistant": actor}
    text = fake_cli_config(actors, env={"FAKE_CLI_COST": RUN_COST}, extra=extra)
    write_config(home, text.replace("scan_interval = 0.5", "scan_interval = 0.2"))


async def said(fake: TelegramFake, chat: int, count: int) -> list[str]:
    """The first ``count`` texts the bot sent into ``chat``, once they are all there."""
    await until(lambda: len(fake.texts(chat)) >= count, f"{count} messages in {chat}")
    return fake.texts(chat)[:count]


async def test_a_user_switches_the_model_and_sees_what_the_chat_cost(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, {"models": ["sonnet", "opus"], "model": "sonnet"})
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(allow_from=[str(ALICE_ID)]) as _channel:
        with worker_thread(home):
            for number, text in enumerate(
                ["/model", "/model opus", "write a poem", "/model haiku", "/cost"], 1
            ):
                telegram_fake.push_message(alice, text)
                answers = await said(telegram_fake, ALICE_ID, number)

    shown, switched, poem, refused, cost = answers
    assert shown.startswith("@assistant uses sonnet in this chat.")
    assert "You may pick: sonnet, opus." in shown
    assert switched == "@assistant now uses opus in this chat, from the next message on."
    assert "write a poem" in poem
    assert refused == (
        "@assistant has no model called 'haiku'. You may pick: sonnet, opus (or default)."
    )
    assert "@assistant: today $0.25 (1 run), this month $0.25 (1 run)" in cost
    [start] = [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"]
    assert start["model"] == "opus"  # the CLI was started with --model opus


async def test_a_message_over_the_limit_is_answered_and_the_owner_is_told_once(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, {"max_usd_per_day": 0.2})
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(allow_from=[str(ALICE_ID)]) as _channel:
        with worker_thread(home):
            for number, text in enumerate(["first", "second", "third"], 1):
                telegram_fake.push_message(alice, text)
                answers = await said(telegram_fake, ALICE_ID, number)
            [notice] = await said(telegram_fake, OWNER_ID, 1)

    first, second, third = answers
    assert "echo:" in first
    for refused in (second, third):
        assert refused.startswith(
            "Not run: @assistant's limit of $0.20 a day is reached ($0.25 spent). It resets at "
        ), refused
        assert "echo:" not in refused
    assert notice.startswith("Spend limit reached: @assistant's limit of $0.20 a day")
    assert len(telegram_fake.texts(OWNER_ID)) == 1


async def test_only_the_owner_sees_everyones_spend(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, {"max_usd_per_month": 10})
    alice = telegram_fake.user(ALICE_ID)
    owner = telegram_fake.user(OWNER_ID, "Olivia", "olivia")
    # The test's listener is built without tinyclaw.toml, so it lets the owner in by id.
    async with run_telegram(allow_from=[str(ALICE_ID), str(OWNER_ID)]) as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "hello")
            await said(telegram_fake, ALICE_ID, 1)
            telegram_fake.push_message(alice, "/cost all")
            [_, refused] = await said(telegram_fake, ALICE_ID, 2)
            telegram_fake.push_message(owner, "/cost all")
            [report] = await said(telegram_fake, OWNER_ID, 1)

    assert refused == "Sorry, only the owner can do that."
    assert "By actor:\n  @assistant: today $0.25 (1 run), this month $0.25 (1 run)" in report
    assert "(limit $10.00/month)" in report
    assert f"By person:\n  telegram:{ALICE_ID}: today $0.25 (1 run)" in report
