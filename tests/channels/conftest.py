"""Fixtures the listener tests share: the Telegram fake, a listener running against it,
the WhatsApp Graph fake with the listener's secrets in the environment, and a
recording ``sleep`` so backoff and retry-after are asserted without waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_harness import ListenerKit, running_fake
from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TOKEN, TelegramFake, wait_until
from tests.fakes.whatsapp_api import WhatsAppFake
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, load_inbound
from tinyclaw.spool import Spool

ALICE_ID = 1001


class RecordedSleeps(list[float]):
    """An injected ``sleep``: remembers each delay asked for and yields at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def telegram_fake() -> Iterator[TelegramFake]:
    with TelegramFake() as fake:
        yield fake


WHATSAPP_APP_SECRET = "app-secret-for-tests"
WHATSAPP_VERIFY = "verify-me"


@pytest.fixture
def whatsapp_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[WhatsAppFake]:
    """The Graph API fake, with WHATSAPP_TOKEN / _VERIFY_TOKEN / _APP_SECRET set."""
    with WhatsAppFake() as fake:
        monkeypatch.setenv("WHATSAPP_TOKEN", fake.token)
        monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", WHATSAPP_VERIFY)
        monkeypatch.setenv("WHATSAPP_APP_SECRET", WHATSAPP_APP_SECRET)
        yield fake


def incoming(home: Home) -> list[Inbound]:
    """What the worker would find in ``queue/incoming``, oldest first."""
    spool = Spool(home)
    return [load_inbound(path.read_bytes()) for path in spool.list_box(spool.incoming)]


@pytest.fixture
def run_telegram(
    home: Home, telegram_fake: TelegramFake, sleeps: RecordedSleeps
) -> Callable[..., Any]:
    """``async with run_telegram(allow_groups=[...]) as channel:`` a listener serving
    the fake, allowed to hear Alice, with fast retries and the recording sleep
    (keyword arguments other than the listener's options are ChannelConfig fields)."""

    @asynccontextmanager
    async def running(
        *,
        token: str = TOKEN,
        scan_interval: float = 0.2,
        poll_timeout: float = 2,
        typing_interval: float = 0.2,
        typing_cap: float = 600.0,
        retry: RetryPolicy | None = None,
        **settings: Any,
    ) -> AsyncIterator[TelegramChannel]:
        fields: dict[str, Any] = {
            "enabled": True,
            "allow_from": [str(ALICE_ID)],
            "base_url": telegram_fake.base_url,
            "base_file_url": telegram_fake.base_file_url,
            **settings,
        }
        channel = TelegramChannel(
            home,
            ChannelConfig(**fields),
            token=token,
            poll_timeout=poll_timeout,
            retry=retry or RetryPolicy(tries=4, base=0.5, rounds=3, round_backoff=60),
            scan_interval=scan_interval,
            typing_interval=typing_interval,
            typing_cap=typing_cap,
            sleep=sleeps,
            reconnect_delay=0.05,
        )
        async with serving_channel(channel):
            yield channel

    return running


async def until(condition: Callable[[], object], what: str = "", timeout: float = 15.0) -> None:
    await wait_until(lambda: bool(condition()), timeout=timeout, what=what)


# -- Discord: the fake, a kit to start listeners against it, and one started listener.
# (A test module may define its own ``fake``; the WhatsApp modules do.)


@pytest.fixture
def fake() -> Iterator[DiscordFake]:
    with running_fake() as server:
        yield server


@pytest.fixture
async def kit(home: Home, fake: DiscordFake) -> AsyncIterator[ListenerKit]:
    kit = ListenerKit(home, fake)
    yield kit
    await kit.close()


@pytest.fixture
async def listener(kit: ListenerKit) -> DiscordChannel:
    return await kit.start()
