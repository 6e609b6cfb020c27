"""Serve one platform listener until a signal; the body of ``tinyclaw listen``.

Free of Typer on purpose: ``python -m tinyclaw.channels PLATFORM`` (what the launcher
runs) starts a listener without the command-line application, so the process holds
the interpreter, the core and its one platform library. Exit codes: 0 after a clean
stop; 2 (:data:`AUTH_EXIT`, "do not retry") when the platform refused the credentials,
a secret is missing or the configuration is wrong (the channel disabled, a bad value):
the supervisor stops restarting, because only a person can fix those; 1 for anything
else (another listener holds the home, the webhook port is still taken, a background
task died), which a restart may well cure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from tinyclaw.config import load_home_config
from tinyclaw.core import ChannelAuthError, ConfigError, Home, TinyclawError

if TYPE_CHECKING:
    from tinyclaw.channels.base import Channel
    from tinyclaw.channels.gate import Gate
    from tinyclaw.channels.pairing_gate import ListenerGate
    from tinyclaw.channels.standby import ListenerLease
    from tinyclaw.config import ChannelConfig, Config
    from tinyclaw.spool import SpoolBackend

log = logging.getLogger("tinyclaw.listen")
AUTH_EXIT = 2
PLATFORMS = ("telegram", "discord", "whatsapp")


def build_channel(
    platform: str,
    home: Home,
    config: ChannelConfig,
    gate: Gate,
    spool: SpoolBackend[Any] | None = None,
) -> Channel:
    """The listener for ``platform``; imports that platform's library and no other.
    ``spool``: the home's queue (None: the files)."""
    from tinyclaw.channels.base import read_secret

    if platform == "telegram":
        from tinyclaw.channels.telegram import TelegramChannel

        token = read_secret(config.token_env, "channels.telegram.token_env")
        return TelegramChannel(home, config, token=token, gate=gate, spool=spool)
    if platform == "discord":
        from tinyclaw.channels.discord import DiscordChannel

        token = read_secret(config.token_env, "channels.discord.token_env")
        return DiscordChannel(home, config, token=token, gate=gate, spool=spool)
    if platform == "whatsapp":
        from tinyclaw.channels.whatsapp import WhatsAppChannel

        return WhatsAppChannel(home, config, gate=gate, spool=spool)
    raise ConfigError(f"unknown platform {platform!r}; use telegram, discord or whatsapp")


def run_listener(home: Home, platform: str, *, level: int = logging.INFO) -> int:
    """Load the home, build the listener, serve until a signal; returns the exit code."""
    from tinyclaw.core import setup_logging

    try:
        config = load_home_config(home)
        home.ensure()
        channel_config = config.channels.get(platform)
        setup_logging(
            home.logs,
            f"listen-{platform}",
            level=level,
            secret_names=[
                name
                for name in (
                    channel_config.token_env,
                    channel_config.verify_token_env,
                    channel_config.app_secret_env,
                    config.spool.token_env,
                    config.spool.password_env,
                )
                if name
            ],
        )
        if not channel_config.enabled:
            raise ConfigError(
                f"channels.{platform}.enabled is false in {home.config_file}; "
                "set it to true to run this listener"
            )
        from tinyclaw.channels.pairing_gate import ListenerGate
        from tinyclaw.pairing import pairing_service
        from tinyclaw.spool import open_spool

        spool = open_spool(home, config)
        try:
            gate = ListenerGate(pairing_service(home, config, spool=spool))
            channel = build_channel(platform, home, channel_config, gate, spool)
            standby = _standby(spool, config, platform)
            asyncio.run(_serve(home, channel, config, gate, standby))
        finally:
            close = getattr(spool, "close", None)
            if close is not None:
                close()
    except (ChannelAuthError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return AUTH_EXIT
    except TinyclawError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


def _standby(spool: object, config: Config, platform: str) -> ListenerLease | None:
    """The listener lease when the queue is shared by several machines (NATS); None
    on files, where the home's lock alone keeps one listener per bot."""
    kv = getattr(spool, "kv", None)
    if kv is None:
        return None
    import os
    import socket

    from tinyclaw.channels.standby import ListenerLease, lease_key
    from tinyclaw.spool import Lease

    holder = f"{socket.gethostname()}:{os.getpid()}"
    lease = Lease(kv("leases"), lease_key(platform), holder, config.spool.lease_ttl)
    return ListenerLease(lease, platform, log=log)


async def _serve(
    home: Home,
    channel: Channel,
    config: Config,
    gate: ListenerGate,
    standby: ListenerLease | None = None,
) -> None:
    from tinyclaw.channels.listener_reload import CHECK_EVERY, ListenerReload
    from tinyclaw.core import EventLog, sdnotify

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        sdnotify.stopping()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping)
    events = EventLog(home.logs / "events.jsonl")
    reload = ListenerReload(home, config, channel, gate, events)
    loop.add_signal_handler(signal.SIGHUP, reload.reload)

    async def watch_config() -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            reload.check()

    def ready() -> None:
        events.emit("listener.ready", channel=channel.name)
        sdnotify.touch_ready()
        sdnotify.ready(f"{channel.name} listener serving")
        log.info("%s listener running; Ctrl-C stops it", channel.name)

    watcher = asyncio.create_task(watch_config())
    keeper: asyncio.Task[None] | None = None

    def lost(error: TinyclawError) -> None:
        channel.abort(error)
        stop.set()

    async def hold(stopping: asyncio.Event) -> bool:
        """Wait for the lease, then keep renewing it while the listener serves."""
        nonlocal keeper
        assert standby is not None

        def waiting(holder: str) -> None:
            events.emit("listener.standby", channel=channel.name, holder=holder)

        if not await standby.acquire(stopping, waiting):
            return False
        events.emit(
            "listener.lease",
            channel=channel.name,
            lease=standby.lease.key,
            holder=standby.lease.holder,
            waited=standby.waited,
        )
        channel.outbox.may_deliver = standby.fresh
        keeper = asyncio.create_task(standby.keep(lost), name=f"{channel.name}-lease")
        return True

    try:
        await channel.run(stop, on_ready=ready, standby=hold if standby is not None else None)
        if standby is not None and standby.lost is not None:
            raise standby.lost
    finally:
        watcher.cancel()
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        if standby is not None:
            await asyncio.to_thread(standby.release)
        events.emit("listener.stop", channel=channel.name)
        log.info("%s listener stopped", channel.name)
