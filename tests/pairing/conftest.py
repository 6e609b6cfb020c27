"""Fixtures for the pairing tests: services over the isolated home's ``pairing/``
folder, on a clock the test moves. Two services over one folder behave like two
processes: each reads the file on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.telegram_api import TelegramFake
from tinyclaw.core.home import Home
from tinyclaw.pairing import PairingService

from .helpers import FakeClock

ServiceFactory = Callable[..., PairingService]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_service(home: Home, clock: FakeClock) -> ServiceFactory:
    def make(**kwargs: Any) -> PairingService:
        kwargs.setdefault("now", clock)
        return PairingService(home.pairing, **kwargs)

    return make


@pytest.fixture
def service(make_service: ServiceFactory) -> PairingService:
    return make_service()


@pytest.fixture
def telegram() -> Iterator[TelegramFake]:
    """The loopback Telegram Bot API the end-to-end stories' listener talks to."""
    with TelegramFake() as fake:
        yield fake
