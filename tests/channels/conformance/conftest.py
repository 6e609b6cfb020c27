"""The platform each conformance test runs against: Telegram, Discord and WhatsApp in
turn, each its real library against its loopback fake (see ``platforms.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.discord_harness import running_fake
from tinyclaw.core.home import Home

from .platforms import Discord, Platform, Telegram, WhatsApp


@pytest.fixture(params=["telegram", "discord", "whatsapp"])
def platform(request: pytest.FixtureRequest, home: Home) -> Iterator[Platform]:
    if request.param == "telegram":
        yield Telegram(
            request.getfixturevalue("telegram_fake"), request.getfixturevalue("run_telegram")
        )
    elif request.param == "discord":
        with running_fake() as fake:
            yield Discord(home, fake)
    else:
        yield WhatsApp(home, request.getfixturevalue("whatsapp_fake"))
