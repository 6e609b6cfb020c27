"""``tinyclaw listen discord`` as the user runs it: a foreground process configured by
``tinyclaw.toml`` (pointed at the loopback fake through ``api_base``/``gateway_url``),
its token in the environment, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.discord_api import DiscordFake, FakeUser
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_inbound
from tinyclaw.spool import Spool

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[DiscordFake]:
    with DiscordFake() as server:
        yield server


def configure(home: Home, fake: DiscordFake, alice: FakeUser) -> None:
    home.config_file.write_text(
        f"""
[actors.assistant]
runner = "claude"

[channels.discord]
enabled = true
token_env = "DISCORD_BOT_TOKEN"
allow_from = ["{alice.id}"]
api_base = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
"""
    )


def listen(home: Home, token: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TINYCLAW_HOME": str(home.root),
        "DISCORD_BOT_TOKEN": token,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "listen", "discord"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_refused_token_exits_2_with_one_line(home: Home, fake: DiscordFake) -> None:
    configure(home, fake, fake.user("alice"))
    process = listen(home, "a-wrong-token")
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == ["error: discord: the bot token was refused; check DISCORD_BOT_TOKEN"]
    assert fake.token not in err


def test_listens_queues_and_stops_cleanly_on_sigterm(home: Home, fake: DiscordFake) -> None:
    alice = fake.user("alice")
    configure(home, fake, alice)
    process = listen(home, fake.token)
    try:
        wait_for(lambda: fake.ready_connections == 1 or process.poll() is not None)
        assert process.poll() is None, process.communicate()[1]
        fake.push_message(channel_id="555", content="hello from discord", author=alice)
        spool = Spool(home)
        wait_for(lambda: spool.list_box(spool.incoming))
        [path] = spool.list_box(spool.incoming)
        assert load_inbound(path.read_bytes()).text == "hello from discord"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "Unclosed" not in err
