"""Fixtures of the outbox stories: a home whose actors have chats they may write to,
and the service the worker runs."""

from __future__ import annotations

import pytest

from tests.support.outbox import ACTORS
from tests.support.worker import fake_cli_config, write_config
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.outbox.scanner import OutboxService
from tinyclaw.spool import Spool


@pytest.fixture
def configured(home: Home) -> Home:
    write_config(home, fake_cli_config(ACTORS))
    return home


@pytest.fixture
def service(configured: Home) -> OutboxService:
    return OutboxService(configured, load_config(configured), Spool(configured))
