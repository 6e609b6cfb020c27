"""Shared fixtures. Every test runs against a throwaway home: the autouse fixture points
``TINYCLAW_HOME`` (and ``HOME``, which the CLIs write under) at ``tmp_path``, so no
test can touch a real home or a real ``~/.claude``.

Fixtures several folders use live here (a home on the fake CLI, the chat platforms'
fakes, a Telegram listener serving its fake); the real-CLI fixtures come from
``tests.fakes.cli_fixtures``. Helpers a test imports live in ``tests/support/``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TOKEN, TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import NatsServer, single_server
from tests.support.channels import (
    ALICE_ID,
    WHATSAPP_APP_SECRET,
    WHATSAPP_VERIFY,
    RecordedSleeps,
)
from tests.support.worker import fake_cli_config, write_config
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.home import Home

pytest_plugins = ["tests.fakes.cli_fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Test folders live under /var/tmp, not /tmp. Inside an actor's sandbox /tmp is a
    private, empty folder and the temporary directory; codex refuses to set up its own
    command sandbox when its CODEX_HOME lies inside the temporary directory, so a test
    home under /tmp would make every codex tool call fail for a reason no real home
    has (a real CODEX_HOME is ~/.codex)."""
    if config.option.basetemp or os.environ.get("TMPDIR", "/tmp").rstrip("/") != "/tmp":
        return
    root = Path("/var/tmp") / f"tinyclaw-tests-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() looks again


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("TINYCLAW_HOME", str(home_dir))
    monkeypatch.setenv("HOME", str(user_home))
    for name in list(os.environ):
        if name.endswith(("_TOKEN", "_API_KEY", "_SECRET")):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """The isolated home of this test, with its folders created."""
    h = Home(tmp_path / "home")
    h.ensure()
    return h


@pytest.fixture
def fake_home(home: Home) -> Home:
    """The home with two actors (``assistant``, ``coder``) on the fake CLI."""
    write_config(home, fake_cli_config())
    return home


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def telegram_fake() -> Iterator[TelegramFake]:
    with TelegramFake() as fake:
        yield fake


@pytest.fixture
def whatsapp_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[WhatsAppFake]:
    """The Graph API fake, with WHATSAPP_TOKEN / _VERIFY_TOKEN / _APP_SECRET set."""
    with WhatsAppFake() as fake:
        monkeypatch.setenv("WHATSAPP_TOKEN", fake.token)
        monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", WHATSAPP_VERIFY)
        monkeypatch.setenv("WHATSAPP_APP_SECRET", WHATSAPP_APP_SECRET)
        yield fake


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


# -- NATS: one real server for the tests of listeners and workers on the shared spool.


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One ``nats-server -js`` on loopback, started by the first test that asks."""
    with single_server(tmp_path_factory.mktemp("nats-listeners")) as server:
        yield server


@pytest.fixture
def nats_home(nats_server: NatsServer) -> Iterator[NatsHome]:
    """This test's streams (a prefix of its own) on the shared server."""
    shared = NatsHome([nats_server])
    yield shared
    shared.close()
