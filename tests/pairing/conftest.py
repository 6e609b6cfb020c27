"""Fixtures for the pairing tests: services over the isolated home's ``pairing/``
folder, on a clock the test moves. Two services over one folder behave like two
processes: each reads the file on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tinyclaw.home import Home
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
