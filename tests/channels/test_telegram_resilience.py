"""The Telegram listener as a process: it survives a flaky network, stops cleanly, and
a refused token ends it with one clear line instead of a loop of tracebacks."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, RecordedSleeps, incoming, until
from tests.fakes.telegram_api import BAD_GATEWAY, TelegramFake
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import AlreadyRunningError, ChannelAuthError
from tinyclaw.core.home import Home

REPO = Path(__file__).resolve().parents[2]


async def test_a_wrong_token_fails_at_once_with_a_clear_error(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    with pytest.raises(ChannelAuthError, match=r"refused the bot token.*TELEGRAM_BOT_TOKEN"):
        async with run_telegram(token="123:wrong", token_env="TELEGRAM_BOT_TOKEN"):
            pass  # pragma: no cover
    assert [c.method for c in telegram_fake.calls] == ["getMe"]  # no retry loop


async def test_a_token_revoked_while_running_stops_the_listener(
    home: Home, telegram_fake: TelegramFake
) -> None:
    config = ChannelConfig(
        enabled=True, base_url=telegram_fake.base_url, base_file_url=telegram_fake.base_file_url
    )
    channel = TelegramChannel(home, config, token=telegram_fake.token, poll_timeout=1)
    run = asyncio.create_task(channel.run(asyncio.Event()))
    await until(lambda: telegram_fake.calls_to("getUpdates"), "polling")
    telegram_fake.token = "revoked"
    with pytest.raises(ChannelAuthError, match="refused the bot token"):
        await asyncio.wait_for(run, 10)


async def test_a_second_listener_of_the_same_platform_is_refused(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    """Two listeners would each deliver every reply; the second one stops at once."""
    async with run_telegram():
        config = ChannelConfig(enabled=True, base_url=telegram_fake.base_url)
        second = TelegramChannel(home, config, token=telegram_fake.token, poll_timeout=1)
        polls = len(telegram_fake.calls_to("getMe"))
        with pytest.raises(AlreadyRunningError, match=rf"telegram listener .*pid {os.getpid()}"):
            await asyncio.wait_for(second.run(asyncio.Event()), 10)
        assert len(telegram_fake.calls_to("getMe")) == polls  # it never connected
    async with run_telegram():  # the lock goes with its holder
        pass


async def test_lost_connection_is_retried_with_backoff_and_logged(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, caplog: pytest.LogCaptureFixture
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    caplog.set_level(logging.INFO, logger="tinyclaw.channels.telegram")
    telegram_fake.fail("getUpdates", BAD_GATEWAY, BAD_GATEWAY)
    async with run_telegram():
        await until(lambda: len(telegram_fake.calls_to("getUpdates")) >= 3, "two failed polls")
        telegram_fake.push_message(alice, "are you still there?")
        await until(lambda: incoming(home), "the message after the outage")
    warnings = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(warnings) == 2 and "Bad Gateway" in warnings[0]
    assert any("polling works again" in r.getMessage() for r in caplog.records)


async def test_polling_reconnects_with_growing_delays(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, sleeps: RecordedSleeps
) -> None:
    """The waits go through the listener's ``sleep`` (recorded here, not waited out):
    0.05 s doubling while the Bot API keeps failing, back to normal once it answers."""
    alice = telegram_fake.user(ALICE_ID)
    telegram_fake.fail("getUpdates", BAD_GATEWAY, BAD_GATEWAY, BAD_GATEWAY, BAD_GATEWAY)
    async with run_telegram():
        telegram_fake.push_message(alice, "after the outage")
        await until(lambda: incoming(home), "the message after four failed polls")
    assert sleeps[:4] == [0.05, 0.1, 0.2, 0.4]
    statuses = [c.status for c in telegram_fake.calls_to("getUpdates")]
    assert statuses[:5] == [502, 502, 502, 502, 200]


async def test_bot_api_unreachable_at_start_is_retried_until_it_answers(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any, sleeps: RecordedSleeps
) -> None:
    """A listener started while the Bot API (or the self-hosted server) is down keeps
    trying with backoff instead of exiting; it connects as soon as getMe answers."""
    alice = telegram_fake.user(ALICE_ID)
    telegram_fake.fail("getMe", BAD_GATEWAY, BAD_GATEWAY, BAD_GATEWAY)
    async with run_telegram() as channel:
        assert channel.mention_tokens == ("@tiny_claw_bot",)
        telegram_fake.push_message(alice, "hello once it is up")
        await until(lambda: incoming(home), "the first message")
    assert [c.status for c in telegram_fake.calls_to("getMe")][:4] == [502, 502, 502, 200]
    assert sleeps[:3] == [0.05, 0.1, 0.2]


async def test_a_stop_while_the_bot_api_is_still_unreachable_ends_the_listener(
    home: Home, telegram_fake: TelegramFake
) -> None:
    """SIGTERM during the start-up retries must not wait for a server that may never
    come back (the supervisor would sit out its whole timeout, then kill)."""
    telegram_fake.fail("getMe", *[BAD_GATEWAY] * 10_000)
    config = ChannelConfig(enabled=True, base_url=telegram_fake.base_url)
    channel = TelegramChannel(home, config, token=telegram_fake.token, reconnect_delay=0.05)
    stop = asyncio.Event()
    run = asyncio.create_task(channel.run(stop))
    await until(lambda: len(telegram_fake.calls_to("getMe")) >= 2, "a retry")

    stop.set()

    await asyncio.wait_for(run, 10)  # returns instead of retrying for ever
    assert not telegram_fake.calls_to("getUpdates")


async def test_stop_releases_the_long_poll_and_confirms_handled_updates(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    async with run_telegram(poll_timeout=60):
        update = telegram_fake.push_message(alice, "handled")
        await until(lambda: incoming(home), "handled")
        stop_started = asyncio.get_running_loop().time()
    # The context exit stopped it well before the 60 s long poll would have ended.
    assert asyncio.get_running_loop().time() - stop_started < 30
    assert telegram_fake.confirmed_offset == update["update_id"] + 1


def _write_home(home: Home, fake: TelegramFake, *, enabled: bool = True) -> None:
    home.config_file.write_text(
        f"""
[actors.assistant]
runner = "claude"

[channels.telegram]
enabled = {"true" if enabled else "false"}
token_env = "TELEGRAM_BOT_TOKEN"
allow_from = ["{ALICE_ID}"]
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"
""",
        encoding="utf-8",
    )


def _listen(home: Home, token: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "TINYCLAW_HOME": str(home.root)}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "listen", "telegram"],
        env=env,
        cwd=home.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_with_a_refused_token_exits_2_with_one_line(
    home: Home, telegram_fake: TelegramFake
) -> None:
    _write_home(home, telegram_fake)
    proc = _listen(home, "123:wrong")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "refused the bot token" in line and "TELEGRAM_BOT_TOKEN" in line
    assert "123:wrong" not in err  # the token itself is never printed


def test_cli_refuses_a_disabled_channel_and_asks_not_to_be_restarted(
    home: Home, telegram_fake: TelegramFake
) -> None:
    """Exit code 2 tells the supervisor that restarting cannot help (only an edit of
    tinyclaw.toml can), so it stops instead of restarting forever."""
    _write_home(home, telegram_fake, enabled=False)
    proc = _listen(home, telegram_fake.token)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "channels.telegram.enabled is false" in err
    assert telegram_fake.calls == []


def test_cli_without_the_token_exits_2_with_one_line(
    home: Home, telegram_fake: TelegramFake
) -> None:
    _write_home(home, telegram_fake)
    proc = _listen(home, "")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "TELEGRAM_BOT_TOKEN" in line
    assert telegram_fake.calls == []


def test_cli_with_a_broken_config_exits_2(home: Home, telegram_fake: TelegramFake) -> None:
    home.config_file.write_text("[channels.telegram]\nenabled = maybe\n", encoding="utf-8")
    proc = _listen(home, telegram_fake.token)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in err and "error:" in err


async def test_cli_listens_until_sigterm_and_stops_cleanly(
    home: Home, telegram_fake: TelegramFake
) -> None:
    _write_home(home, telegram_fake)
    proc = _listen(home, telegram_fake.token)
    try:
        events = home.logs / "events.jsonl"
        await until(
            lambda: events.exists() and "listener.ready" in events.read_text(),
            "the listener.ready event",
            timeout=30,
        )
        telegram_fake.push_message(telegram_fake.user(ALICE_ID), "hello from the CLI test")
        await until(lambda: incoming(home), "the message queued by the process", timeout=10)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert [m.text for m in incoming(home)] == ["hello from the CLI test"]
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert "listener.ready" in kinds and "listener.stop" in kinds
    assert telegram_fake.token not in (home.logs / "listen-telegram.log").read_text()
