"""A real Telegram listener under systemd's eyes: READY=1 once connected, its allow
list follows an edit of tinyclaw.toml on `tinyclaw reload`, and what it cannot apply
without a restart is named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.channels.conftest import ALICE_ID, incoming
from tests.fakes.telegram_api import TelegramFake
from tests.ops.conftest import events, tinyclaw
from tests.worker.conftest import REPO, wait_for
from tinyclaw.core.home import Home

BOB_ID = 2002


def write_home(home: Home, fake: TelegramFake, allow: list[int], base_url: str = "") -> None:
    home.config_file.write_text(
        f"""
[actors.assistant]
runner = "claude"

[channels.telegram]
enabled = true
allow_from = {[str(a) for a in allow]}
base_url = "{base_url or fake.base_url}"
base_file_url = "{fake.base_file_url}"
""",
        encoding="utf-8",
    )


@pytest.fixture
def listener(
    home: Home,
    telegram_fake: TelegramFake,
    notify_socket: tuple[object, str],
) -> Iterator[subprocess.Popen[str]]:
    write_home(home, telegram_fake, [ALICE_ID])
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": telegram_fake.token,
        "TINYCLAW_HOME": str(home.root),
        "NOTIFY_SOCKET": notify_socket[1],
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw.channels", "telegram"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        proc.stderr.close()  # type: ignore[union-attr]


def test_the_allow_list_follows_the_file_without_a_restart(
    home: Home,
    telegram_fake: TelegramFake,
    notify_socket: tuple[object, str],
    listener: subprocess.Popen[str],
) -> None:
    sock = notify_socket[0]
    ready = sock.recv(4096).decode()  # type: ignore[attr-defined]
    assert ready.startswith("READY=1")
    assert events(home, "listener.ready")  # ready only once connected and polling
    bob = telegram_fake.user(BOB_ID)
    telegram_fake.push_message(bob, "let me in")
    wait_for(lambda: telegram_fake.texts(BOB_ID), 20, "the stranger's pairing answer")
    assert incoming(home) == []

    write_home(home, telegram_fake, [ALICE_ID, BOB_ID])
    result = tinyclaw(home, "reload")
    assert result.returncode == 0, result.stderr
    assert "telegram listener: reloaded; applied: channels.telegram.allow_from" in result.stdout
    telegram_fake.push_message(bob, "hello again")
    wait_for(lambda: incoming(home), 20, "Bob's message in the queue")
    assert [m.text for m in incoming(home)] == ["hello again"]

    write_home(home, telegram_fake, [ALICE_ID, BOB_ID], base_url="http://127.0.0.1:1/bot")
    result = tinyclaw(home, "reload")
    assert "channels.telegram.base_url (restart the telegram listener)" in result.stdout
    assert listener.poll() is None

    home.config_file.write_text("[channels.telegram\n", encoding="utf-8")
    result = tinyclaw(home, "reload")
    assert result.returncode == 1 and "not valid TOML" in result.stderr
    wait_for(lambda: events(home, "config.refused"), 20, "the listener's refusal")
    telegram_fake.push_message(bob, "still here")
    wait_for(lambda: len(incoming(home)) == 2, 20, "Bob's message under the running config")

    listener.send_signal(signal.SIGTERM)
    assert sock.recv(4096).decode().startswith("STOPPING=1")  # type: ignore[attr-defined]
    assert listener.wait(30) == 0
