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
import logging
import signal
import sys
from typing import TYPE_CHECKING

from tinyclaw.config import load_home_config
from tinyclaw.core.errors import ChannelAuthError, ConfigError, TinyclawError
from tinyclaw.core.home import Home

if TYPE_CHECKING:
    from tinyclaw.channels.base import Channel
    from tinyclaw.channels.gate import Gate
    from tinyclaw.config import ChannelConfig, Config
    from tinyclaw.pairing.listener import ListenerGate

log = logging.getLogger("tinyclaw.listen")
AUTH_EXIT = 2
PLATFORMS = ("telegram", "discord", "whatsapp")


def build_channel(platform: str, home: Home, config: ChannelConfig, gate: Gate) -> Channel:
    """The listener for ``platform``; imports that platform's library and no other."""
    from tinyclaw.channels.base import read_secret

    if platform == "telegram":
        from tinyclaw.channels.telegram import TelegramChannel

        token = read_secret(config.token_env, "channels.telegram.token_env")
        return TelegramChannel(home, config, token=token, gate=gate)
    if platform == "discord":
        from tinyclaw.channels.discord import DiscordChannel

        token = read_secret(config.token_env, "channels.discord.token_env")
        return DiscordChannel(home, config, token=token, gate=gate)
    if platform == "whatsapp":
        from tinyclaw.channels.whatsapp import WhatsAppChannel

        return WhatsAppChannel(home, config, gate=gate)
    raise ConfigError(f"unknown platform {platform!r}; use telegram, discord or whatsapp")


def run_listener(home: Home, platform: str, *, level: int = logging.INFO) -> int:
    """Load the home, build the listener, serve until a signal; returns the exit code."""
    from tinyclaw.core.logsetup import setup_logging

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
                )
                if name
            ],
        )
        if not channel_config.enabled:
            raise ConfigError(
                f"channels.{platform}.enabled is false in {home.config_file}; "
                "set it to true to run this listener"
            )
        from tinyclaw.pairing.factory import pairing_service
        from tinyclaw.pairing.listener import ListenerGate

        gate = ListenerGate(pairing_service(home, config))
        channel = build_channel(platform, home, channel_config, gate)
        asyncio.run(_serve(home, channel, config, gate))
    except (ChannelAuthError, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return AUTH_EXIT
    except TinyclawError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


async def _serve(home: Home, channel: Channel, config: Config, gate: ListenerGate) -> None:
    from tinyclaw.channels.reload import CHECK_EVERY, ListenerReload
    from tinyclaw.core import sdnotify
    from tinyclaw.core.events import EventLog
    from tinyclaw.launcher.state import touch_ready

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
        touch_ready()
        sdnotify.ready(f"{channel.name} listener serving")
        log.info("%s listener running; Ctrl-C stops it", channel.name)

    watcher = asyncio.create_task(watch_config())
    try:
        await channel.run(stop, on_ready=ready)
    finally:
        watcher.cancel()
        events.emit("listener.stop", channel=channel.name)
        log.info("%s listener stopped", channel.name)
