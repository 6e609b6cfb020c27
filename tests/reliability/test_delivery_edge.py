"""A reply file is input too: a forged or planted one in ``queue/outgoing/telegram``
must not make the listener upload or quote a file from outside the home.

The real Telegram listener (python-telegram-bot) serves the loopback Telegram fake;
bad reply files are dropped into its outbox, then a good one proves it still serves.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TOKEN, TelegramFake, wait_until
from tests.reliability.corpus import Lab
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.fsutil import unique_name

CHAT = "1001"
FORGED_WORKSPACE = (
    "the outbox confines reply.files to reply.workspace, which the reply file itself "
    "names; a forged reply with workspace '/' uploads any file. Confine to the "
    "configured actors' workspaces (config.workspace_for) instead"
)


@pytest.fixture
def telegram_fake() -> Iterator[TelegramFake]:
    with TelegramFake() as fake:
        yield fake


@asynccontextmanager
async def listening(lab: Lab, fake: TelegramFake) -> AsyncIterator[TelegramChannel]:
    config = ChannelConfig(
        enabled=True,
        allow_from=[CHAT],
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
    )
    channel = TelegramChannel(
        lab.home,
        config,
        token=TOKEN,
        poll_timeout=1,
        retry=RetryPolicy(tries=1, rounds=1),
        scan_interval=0.2,
        reconnect_delay=0.05,
    )
    async with serving_channel(channel, stop_timeout=30):
        yield channel


def reply(text: str, **fields: object) -> dict[str, object]:
    ident = unique_name()
    return {
        "id": ident,
        "in_reply_to": ident,
        "channel": "telegram",
        "chat_id": CHAT,
        "text": text,
        **fields,
    }


def drop(lab: Lab, body: dict[str, object]) -> Path:
    box = lab.spool.outgoing("telegram")
    box.mkdir(parents=True, exist_ok=True)
    path = box / f"{body['id']}.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


async def still_serving(lab: Lab, fake: TelegramFake) -> None:
    drop(lab, reply("canary"))
    await wait_until(lambda: "canary" in fake.texts(CHAT), timeout=30, what="the canary")


def uploads(fake: TelegramFake) -> list[bytes]:
    return [s.data for s in fake.sent if s.kind != "text"]


async def test_a_symlink_planted_in_the_outbox_is_refused_not_followed(
    tmp_path: Path, telegram_fake: TelegramFake
) -> None:
    lab = Lab.create(tmp_path)
    outside = lab.outside / "reply.json"
    outside.write_text(json.dumps(reply(lab.secret)), encoding="utf-8")
    box = lab.spool.outgoing("telegram")
    box.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, box / "planted.json")
    async with listening(lab, telegram_fake):
        await wait_until((lab.spool.failed / "planted.json.reason").exists, timeout=30)
        await still_serving(lab, telegram_fake)
    assert not any(lab.secret in t for t in telegram_fake.texts())
    reason = json.loads((lab.spool.failed / "planted.json.reason").read_text())["reason"]
    assert "symlink" in reason


async def test_a_reply_asking_for_a_file_outside_its_workspace_sends_a_note_instead(
    tmp_path: Path, telegram_fake: TelegramFake
) -> None:
    lab = Lab.create(tmp_path)
    relative = os.path.relpath(lab.sentinel, lab.workspace)
    drop(lab, reply("here", workspace=str(lab.workspace), files=[relative]))
    async with listening(lab, telegram_fake):
        await wait_until(lambda: len(telegram_fake.texts(CHAT)) >= 2, timeout=30)
        await still_serving(lab, telegram_fake)
    assert uploads(telegram_fake) == []
    assert any("outside the actor's workspace" in t for t in telegram_fake.texts(CHAT))


async def test_a_forged_reply_naming_its_own_workspace_cannot_upload_any_file(
    tmp_path: Path, telegram_fake: TelegramFake
) -> None:
    lab = Lab.create(tmp_path)
    drop(lab, reply("look", workspace="/", files=[str(lab.sentinel)]))
    async with listening(lab, telegram_fake):
        await wait_until(lambda: len(telegram_fake.sent) >= 2, timeout=30)
        await still_serving(lab, telegram_fake)
    assert not any(lab.secret.encode() in data for data in uploads(telegram_fake))


async def test_a_deeply_nested_reply_goes_to_failed_and_the_replies_behind_it_are_sent(
    tmp_path: Path, telegram_fake: TelegramFake
) -> None:
    """10 KB of ``[`` made json.loads raise RecursionError, which killed the listener
    on every start, with every valid reply stuck behind the bad one."""
    lab = Lab.create(tmp_path)
    box = lab.spool.outgoing("telegram")
    box.mkdir(parents=True, exist_ok=True)
    deep = box / f"{unique_name()}.json"
    head = json.dumps(reply("deep"))[:-1]
    deep.write_bytes(head.encode() + b', "meta": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}")
    infinite = drop(lab, {**reply("never"), "not_before": "__INF__"})
    infinite.write_text(infinite.read_text().replace('"__INF__"', "Infinity"))
    behind = drop(lab, reply("the reply behind them"))
    async with listening(lab, telegram_fake):
        await wait_until(
            lambda: "the reply behind them" in telegram_fake.texts(CHAT), timeout=30, what="it"
        )
        await still_serving(lab, telegram_fake)
    assert not behind.exists()
    reasons = {
        path.name: json.loads((lab.spool.failed / f"{path.name}.reason").read_text())["reason"]
        for path in (deep, infinite)
    }
    assert "nested too deeply" in reasons[deep.name]
    assert "finite number" in reasons[infinite.name]
    assert "deep" not in telegram_fake.texts(CHAT) and "never" not in telegram_fake.texts(CHAT)
