"""A home served end to end, for the pairing stories: real listeners with the pairing
gate against the loopback platform fakes, the real worker in a thread running
``scripts/fake-cli`` (it answers ``echo: <prompt>``), and ``tinyclaw pair ...`` run
through the real command-line app, exactly as the owner would type it.

The listener's gate and the worker's pairing check take a clock (``now``), so a story
can let a code expire or a lockout run out without waiting for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from typer.testing import CliRunner, Result

from tests.fakes.discord_api import DiscordFake
from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TOKEN, TelegramFake, wait_until
from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake
from tests.worker.conftest import fake_cli_config, serving, write_config
from tinyclaw.channels.delivery import RetryPolicy
from tinyclaw.channels.discord import DiscordChannel
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.channels.whatsapp import WhatsAppChannel
from tinyclaw.cli.app import app
from tinyclaw.config import ChannelConfig, load_config
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, load_inbound
from tinyclaw.pairing import pairing_service
from tinyclaw.pairing.gate import Clock, utc_now
from tinyclaw.pairing.listener import ListenerGate
from tinyclaw.pairing.worker_check import WorkerAccess
from tinyclaw.spool import Spool
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.loop import Worker

ACTORS: dict[str, dict[str, object]] = {
    "assistant": {"description": "general help"},
    "coder": {"description": "writes code"},
}


def configure(home: Home, pairing: str = "") -> None:
    """A home whose only way in is pairing (no ``allow_from``), plus ``[pairing]``."""
    write_config(home, fake_cli_config(ACTORS, extra=pairing))


def tinyclaw(home: Home, *args: str) -> Result:
    """``tinyclaw --home HOME args...`` through the real app; must succeed."""
    result = CliRunner().invoke(app, ["--home", str(home.root), *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def gate_for(home: Home, now: Clock = utc_now) -> ListenerGate:
    """What ``tinyclaw listen`` builds: the pairing gate of the home's config (on the
    clock ``now``: a test passes one it moves to make codes and lockouts expire)."""
    return ListenerGate(pairing_service(home, load_config(home), now=now))


@contextmanager
def worker_thread(home: Home, now: Clock = utc_now) -> Iterator[Worker]:
    """The real worker in a thread, as ``tests.worker.conftest.worker_thread`` runs it,
    but with its pairing check (and the owner's chat commands) on the clock ``now``."""
    config = load_config(home)
    access = WorkerAccess.for_home(home, config, now=now)
    with serving(Worker(home, config, build_runners(home, config), access=access)) as worker:
        yield worker


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    await wait_until(lambda: bool(condition()), timeout=timeout, what=what)


async def said(fake: TelegramFake, chat: int, needle: str, timeout: float = 15.0) -> str:
    """The first text sent to ``chat`` containing ``needle`` (waits for it)."""

    def found() -> str | None:
        return next((t for t in fake.texts(chat) if needle in t), None)

    await until(found, f"{needle!r} in chat {chat}", timeout)
    text = found()
    assert text is not None
    return text


async def handled(fake: TelegramFake, update: dict[str, Any]) -> None:
    """Wait until the listener has dealt with ``update`` (it confirmed it)."""
    await until(lambda: fake.confirmed_offset > update["update_id"], "the update handled")


def incoming(home: Home) -> list[Inbound]:
    spool = Spool(home)
    return [load_inbound(p.read_bytes()) for p in spool.list_box(spool.incoming)]


def failed_reasons(home: Home) -> list[str]:
    return [p.read_text() for p in sorted(Spool(home).failed.glob("*.reason"))]


def downloaded(home: Home) -> list[str]:
    root = Spool(home).files_root
    return [p.name for p in root.rglob("*")] if root.exists() else []


@asynccontextmanager
async def telegram_listener(
    home: Home, fake: TelegramFake, gate: ListenerGate | None = None
) -> AsyncIterator[TelegramChannel]:
    """The Telegram listener serving ``fake``, gated by pairing (``gate``, default
    :func:`gate_for` the home), until the block ends."""
    channel = TelegramChannel(
        home,
        ChannelConfig(enabled=True, base_url=fake.base_url, base_file_url=fake.base_file_url),
        token=TOKEN,
        gate=gate or gate_for(home),
        poll_timeout=2,
        retry=RetryPolicy(tries=4, base=0.05, rounds=3, round_backoff=1),
        scan_interval=0.1,
        typing_interval=0.5,
        reconnect_delay=0.05,
    )
    async with serving_channel(channel):
        yield channel


@asynccontextmanager
async def discord_listener(home: Home, fake: DiscordFake) -> AsyncIterator[DiscordChannel]:
    """The Discord listener serving ``fake``, gated by pairing, until the block ends."""
    channel = DiscordChannel(
        home,
        ChannelConfig(enabled=True, api_base=fake.api_base, gateway_url=fake.gateway_url),
        token=fake.token,
        gate=gate_for(home),
        retry=RetryPolicy(tries=3, base=0.05, rounds=3, round_backoff=0.05),
        scan_interval=0.1,
        typing_interval=0.5,
        ready_timeout=5.0,
        identify_delay=0.0,
    )
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


WHATSAPP_SECRET = "app-secret-for-pairing-tests"


@asynccontextmanager
async def whatsapp_listener(home: Home, fake: WhatsAppFake) -> AsyncIterator[WebhookSender]:
    """The WhatsApp listener (its own webhook server, pywa against the Graph fake), gated
    by pairing; yields Meta's side: a signer that posts webhooks to it. The caller sets
    WHATSAPP_TOKEN / WHATSAPP_VERIFY_TOKEN / WHATSAPP_APP_SECRET in the environment."""
    config = ChannelConfig(
        enabled=True,
        token_env="WHATSAPP_TOKEN",
        verify_token_env="WHATSAPP_VERIFY_TOKEN",
        app_secret_env="WHATSAPP_APP_SECRET",
        phone_id=fake.phone_id,
        api_base=fake.base_url,
        host="127.0.0.1",
        port=0,
    )
    channel = WhatsAppChannel(
        home,
        config,
        gate=gate_for(home),
        retry=RetryPolicy(tries=3, base=0.01, round_backoff=0.01),
        scan_interval=0.1,
    )
    await channel.start()
    try:
        url = f"http://127.0.0.1:{channel.port}/"
        yield WebhookSender.for_fake(fake, url, WHATSAPP_SECRET)
    finally:
        await channel.stop()
