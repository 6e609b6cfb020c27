"""The Telegram listener on the NATS spool: the real python-telegram-bot against the
Telegram fake, the queue in a real ``nats-server``. What arrives is queued once in the
incoming stream (however often Telegram sends it), attachments go to the object
store, and a reply put on the spool is delivered once and marked sent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TelegramFake
from tests.spool.contract import make_reply
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server
from tests.support.channels import ALICE_ID, RecordedSleeps
from tests.support.waiting import until
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import SpoolError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply
from tinyclaw.spool.jetstream import JetStreamSpool


def queued(spool: JetStreamSpool) -> list[Inbound]:
    """What a worker would find in the NATS incoming stream, oldest first."""
    return [spool.load(handle) for handle in spool.incoming()]


@asynccontextmanager
async def serving(
    home: Home,
    fake: TelegramFake,
    spool: JetStreamSpool,
    sleeps: RecordedSleeps,
    *,
    scan_interval: float = 0.2,
) -> AsyncIterator[TelegramChannel]:
    """A Telegram listener allowed to hear Alice, queueing into ``spool``."""
    config = ChannelConfig(
        enabled=True,
        allow_from=[str(ALICE_ID)],
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
    )
    channel = TelegramChannel(
        home,
        config,
        token=fake.token,
        spool=spool,
        poll_timeout=1,
        retry=RetryPolicy(tries=4, base=0.5, rounds=3, round_backoff=60),
        scan_interval=scan_interval,
        sleep=sleeps,
        reconnect_delay=0.05,
    )
    async with serving_channel(channel):
        yield channel


async def test_a_telegram_message_is_queued_on_nats_once_even_when_redelivered(
    home: Home, telegram_fake: TelegramFake, nats_home: NatsHome, sleeps: RecordedSleeps
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    spool = nats_home.open()
    async with serving(home, telegram_fake, spool, sleeps):
        update = telegram_fake.push_message(alice, "hello over NATS")
        await until(lambda: queued(spool), what="the message in the NATS incoming stream")
    # The listener restarts (another process, its own connection) and Telegram sends
    # the same message again, as it does when the offset was not confirmed.
    async with serving(home, telegram_fake, nats_home.open(), sleeps):
        telegram_fake.redeliver(update)
        telegram_fake.push_message(alice, "and a new one")
        await until(lambda: len(queued(spool)) >= 2, what="the new message")
    [first, second] = queued(spool)
    assert (first.text, second.text) == ("hello over NATS", "and a new one")
    assert first.channel == "telegram" and first.chat_id == str(ALICE_ID)
    assert not list((home.queue / "incoming").glob("*.json"))  # nothing went to the files


async def test_an_attachment_goes_to_the_object_store_for_a_worker_elsewhere(
    home: Home, telegram_fake: TelegramFake, nats_home: NatsHome, sleeps: RecordedSleeps
) -> None:
    spool = nats_home.open()
    report = b"%PDF-1.4 quarterly numbers"
    async with serving(home, telegram_fake, spool, sleeps):
        telegram_fake.push_message(
            telegram_fake.user(ALICE_ID),
            None,
            caption="see attached",
            document=("report.pdf", report, "application/pdf"),
        )
        await until(lambda: queued(spool), what="the message with its attachment")
    [message] = queued(spool)
    [attachment] = message.attachments
    assert attachment.path.startswith("nats-object:") and attachment.name == "report.pdf"
    elsewhere = nats_home.open()  # a worker on another machine reads it from NATS
    assert elsewhere.read_attachment(attachment.path) == report
    assert not (home.queue / "files").exists() or not any((home.queue / "files").iterdir())


async def test_a_reply_on_nats_is_delivered_once_and_marked_sent(
    home: Home, telegram_fake: TelegramFake, nats_home: NatsHome, sleeps: RecordedSleeps
) -> None:
    spool = nats_home.open()
    async with serving(home, telegram_fake, spool, sleeps):
        telegram_fake.push_message(telegram_fake.user(ALICE_ID), "what time is it?")
        await until(lambda: queued(spool), what="the question")
        [question] = queued(spool)
        worker = nats_home.open()  # the worker's own connection, as on another machine
        worker.put_reply(
            make_reply(question, "Half past four.").model_copy(
                update={"reply_to_message_id": question.message_id}
            )
        )
        await until(lambda: not worker.replies("telegram"), what="the reply delivered")
        await until(lambda: telegram_fake.texts(ALICE_ID), what="the reply in the chat")
    assert telegram_fake.texts(ALICE_ID) == ["Half past four."]
    [sent] = telegram_fake.sent
    assert str(sent.reply_to) == question.message_id
    assert worker.reply_exists("telegram", question.id)  # in the delivery ledger
    # A second listener finds nothing left to send.
    async with serving(home, telegram_fake, nats_home.open(), sleeps) as again:
        await again.outbox.drain()
    assert telegram_fake.texts(ALICE_ID) == ["Half past four."]


async def test_a_reply_wakes_delivery_at_once_without_waiting_for_the_scan(
    home: Home, telegram_fake: TelegramFake, nats_home: NatsHome, sleeps: RecordedSleeps
) -> None:
    """The listener subscribes to its channel's reply subjects: a reply published
    while it waits is sent within moments, not at the next scan a minute later."""
    spool = nats_home.open()
    async with serving(home, telegram_fake, spool, sleeps, scan_interval=60):
        await until(lambda: telegram_fake.calls_to("getUpdates"), what="the listener polling")
        nats_home.open().put_reply(
            Reply(
                id="m-wake",
                channel="telegram",
                chat_id=str(ALICE_ID),
                in_reply_to="m-wake",
                text="woken",
            )
        )
        await until(lambda: not spool.replies("telegram"), what="the reply sent", timeout=10)
    assert telegram_fake.texts(ALICE_ID) == ["woken"]
    assert spool.reply_exists("telegram", "m-wake")


async def test_a_message_that_arrives_while_nats_is_down_is_queued_once_it_is_back(
    home: Home,
    telegram_fake: TelegramFake,
    sleeps: RecordedSleeps,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The update is left unconfirmed while the queue cannot take it, so Telegram
    hands it over again: late, but not lost."""
    caplog.set_level(logging.WARNING, logger="tinyclaw.channels.telegram")
    with single_server(tmp_path / "nats") as server:
        own = NatsHome([server], timeout=1.0)
        try:
            spool = own.open()
            async with serving(home, telegram_fake, spool, sleeps):
                server.kill()
                telegram_fake.push_message(telegram_fake.user(ALICE_ID), "are you there?")
                await until(
                    lambda: any("cannot queue update" in r.getMessage() for r in caplog.records),
                    what="the listener finding the queue away",
                    timeout=30,
                )
                server.start()
                await until(lambda: reachable(queued, spool), what="the message, NATS back", timeout=60)
            assert [m.text for m in queued(spool)] == ["are you there?"]
        finally:
            own.close()


def reachable(read: Callable[[JetStreamSpool], list[Inbound]], spool: JetStreamSpool) -> object:
    """``read(spool)``, or nothing while the connection is still coming back."""
    try:
        return read(spool)
    except SpoolError:
        return []


def test_the_listener_spool_is_what_the_config_names(home: Home, nats_home: NatsHome) -> None:
    """``open_spool`` gives the files by default and NATS when ``[spool]`` says so."""
    from tinyclaw.config import parse_config
    from tinyclaw.spool import Spool, open_spool

    actors = {"assistant": {"runner": "claude"}}
    assert isinstance(open_spool(home, parse_config({"actors": actors})), Spool)
    config = parse_config(
        {
            "actors": actors,
            "spool": {
                "backend": "nats",
                "servers": nats_home.urls,
                "stream_prefix": nats_home.prefix,
            },
        }
    )
    spool: Any = open_spool(home, config)
    try:
        assert isinstance(spool, JetStreamSpool) and spool.layout.prefix == nats_home.prefix
    finally:
        spool.close()


@pytest.mark.parametrize(
    "locator",
    ["nats-object:../etc/passwd", "nats-object:m1/../x", "nats-object:m1", "relative.txt"],
)
def test_an_attachment_locator_that_could_escape_is_refused(locator: str) -> None:
    """A queued message is input: its attachment is a path in the home or a
    locator of two bare names in the object store, nothing else."""
    from pydantic import ValidationError

    from tinyclaw.core.messages import Attachment

    with pytest.raises(ValidationError, match="path"):
        Attachment(path=locator, name="x")
    assert Attachment(path="nats-object:m1/report.pdf", name="report.pdf").path.endswith(".pdf")
