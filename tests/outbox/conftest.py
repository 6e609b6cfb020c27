"""Fixtures of the outbox stories: a home whose actors have chats they may write to,
the service the worker runs, and (for the end-to-end story) the real ``claude`` CLI
against the Anthropic fake and the Telegram listener against the Bot API fake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.channels.conftest import run_telegram, sleeps, telegram_fake  # noqa: F401
from tests.fakes.cli_fixtures import *  # noqa: F403
from tests.schedule.running import write_file
from tests.worker.conftest import fake_cli_config, write_config
from tinyclaw.actors.shared import SETTLE_SECONDS
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.outbox.service import OutboxService
from tinyclaw.spool import Spool

ACTORS: dict[str, dict[str, object]] = {
    "coder": {"owner_chat": "telegram:1001", "may_message": ["discord:55"]},
    "helper": {"owner_chat": "telegram:1001"},
    "loner": {},
}


@pytest.fixture
def configured(home: Home) -> Home:
    write_config(home, fake_cli_config(ACTORS))
    return home


@pytest.fixture
def service(configured: Home) -> OutboxService:
    return OutboxService(configured, load_config(configured), Spool(configured))


def settled() -> float:
    """A moment when every file written so far has been still for the settle time:
    a tick then decides about each file and also takes it out of the outbox."""
    return time.time() + SETTLE_SECONDS + 1


def workspace(home: Home, actor: str = "coder") -> Path:
    return home.actor_dir(actor) / "workspace"


def drop(home: Home, name: str, content: object, actor: str = "coder") -> Path:
    """What the actor's CLI does: write a file into its outbox."""
    return write_file(workspace(home, actor) / "outbox" / name, content)
