"""Fixtures of the listener tests: the Discord fake, a kit to start listeners against
it, and one started listener. (The Telegram and WhatsApp fakes and ``run_telegram``
are in ``tests/conftest.py``; a test module may define its own ``fake``, the WhatsApp
modules do.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_harness import ListenerKit, running_fake
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.core.home import Home


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
