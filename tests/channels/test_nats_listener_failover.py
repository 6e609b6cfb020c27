"""Two machines, one bot: ``tinyclaw listen telegram`` on two homes with the same
tinyclaw.toml, the queue on one real ``nats-server``, the real python-telegram-bot
against the Telegram fake. One serves, the other waits on the lease
``listener.telegram``; when the first is killed the second takes over within the
lease's ttl, and nothing is queued or delivered twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import TelegramFake
from tests.spool.contract import make_reply
from tests.spool.nats_backend import NatsHome
from tests.support.channels import ALICE_ID
from tests.support.waiting import until
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.spool import Lease
from tinyclaw.spool.jetstream import JetStreamSpool

REPO = Path(__file__).resolve().parents[2]
LEASE_TTL = 3.0


def machine(root: Path, fake: TelegramFake, nats_home: NatsHome) -> Home:
    """One machine's home, with the tinyclaw.toml every machine shares."""
    home = Home(root)
    home.ensure()
    home.config_file.write_text(
        f"""
[actors.assistant]
runner = "claude"

[channels.telegram]
enabled = true
token_env = "TELEGRAM_BOT_TOKEN"
allow_from = ["{ALICE_ID}"]
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"

[spool]
backend = "nats"
servers = {json.dumps(nats_home.urls)}
stream_prefix = "{nats_home.prefix}"
lease_ttl = {LEASE_TTL}
""",
        encoding="utf-8",
    )
    return home


@pytest.fixture
def listeners() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def listen(home: Home, token: str, started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "TINYCLAW_HOME": str(home.root)}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "listen", "telegram"],
        env=env,
        cwd=home.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    return proc


def events(home: Home, kind: str) -> list[dict[str, object]]:
    path = home.logs / "events.jsonl"
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [event for event in found if event.get("event") == kind]


def log_text(home: Home) -> str:
    path = home.logs / "listen-telegram.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def queued(spool: JetStreamSpool) -> list[Inbound]:
    return [spool.load(handle) for handle in spool.incoming()]


async def test_the_second_machine_takes_over_when_the_first_is_killed(
    tmp_path: Path,
    telegram_fake: TelegramFake,
    nats_home: NatsHome,
    listeners: list[subprocess.Popen[str]],
) -> None:
    alice = telegram_fake.user(ALICE_ID)
    box_a = machine(tmp_path / "box-a", telegram_fake, nats_home)
    box_b = machine(tmp_path / "box-b", telegram_fake, nats_home)
    spool = nats_home.open()  # the worker's view, on a third machine

    first = listen(box_a, telegram_fake.token, listeners)
    await until(lambda: events(box_a, "listener.ready"), what="box-a serving", timeout=30)
    second = listen(box_b, telegram_fake.token, listeners)
    await until(
        lambda: "waiting: the telegram listener runs as" in log_text(box_b),
        what="box-b saying it waits",
        timeout=30,
    )
    assert not events(box_b, "listener.ready")  # it never connected to Telegram
    [standby] = events(box_b, "listener.standby")  # what `tinyclaw status` shows
    assert standby["holder"] == f"{socket.gethostname()}:{first.pid}"

    telegram_fake.push_message(alice, "first question")
    await until(lambda: queued(spool), what="the first question on NATS", timeout=15)
    [question] = queued(spool)
    spool.put_reply(make_reply(question, "first answer"))
    await until(lambda: not spool.replies("telegram"), what="the first answer sent", timeout=15)

    # box-a dies without a word; its last update is not confirmed to Telegram.
    telegram_fake.push_message(alice, "second question")
    await until(lambda: len(queued(spool)) == 2, what="the second question", timeout=15)
    first.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    first.wait(10)
    telegram_fake.push_message(alice, "third question")

    await until(lambda: events(box_b, "listener.ready"), what="box-b taking over", timeout=30)
    takeover = time.monotonic() - killed
    assert takeover < LEASE_TTL + 3.0, f"took {takeover:.1f}s"
    [lease_event] = events(box_b, "listener.lease")
    assert lease_event["waited"] is True

    await until(lambda: len(queued(spool)) == 3, what="the third question", timeout=15)
    third = queued(spool)[2]
    spool.put_reply(make_reply(third, "third answer"))
    await until(lambda: not spool.replies("telegram"), what="the third answer sent", timeout=15)

    # Telegram's redelivery of what box-a had not confirmed was filtered: each
    # message is queued once, and each reply was sent once.
    assert [m.text for m in queued(spool)] == [
        "first question",
        "second question",
        "third question",
    ]
    assert telegram_fake.texts(ALICE_ID) == ["first answer", "third answer"]
    assert spool.reply_exists("telegram", question.id) and not spool.replies("telegram")

    # A clean stop gives the lease back at once.
    second.send_signal(signal.SIGTERM)
    _out, err = second.communicate(timeout=20)
    assert second.returncode == 0, err
    lease = Lease(spool.kv("leases"), "listener.telegram", "observer", LEASE_TTL)
    assert lease.current() is None


async def test_a_frozen_holder_stops_serving_once_another_took_the_lease(
    tmp_path: Path,
    telegram_fake: TelegramFake,
    nats_home: NatsHome,
    listeners: list[subprocess.Popen[str]],
) -> None:
    """A machine suspended past the lease's ttl (SIGSTOP here) finds on waking that
    its renewal is refused: it stops serving (exit code 1, so its supervisor starts
    it again as the one that waits) and sends nothing meanwhile."""
    box_a = machine(tmp_path / "box-a", telegram_fake, nats_home)
    box_b = machine(tmp_path / "box-b", telegram_fake, nats_home)
    spool = nats_home.open()

    first = listen(box_a, telegram_fake.token, listeners)
    await until(lambda: events(box_a, "listener.ready"), what="box-a serving", timeout=30)
    listen(box_b, telegram_fake.token, listeners)
    await until(lambda: "waiting:" in log_text(box_b), what="box-b waiting", timeout=30)

    first.send_signal(signal.SIGSTOP)
    await until(lambda: events(box_b, "listener.ready"), what="box-b taking over", timeout=30)
    message = Inbound(
        id="m-frozen",
        channel="telegram",
        chat_id=str(ALICE_ID),
        sender={"id": str(ALICE_ID)},
        text="hi",
    )
    spool.put_reply(make_reply(message, "sent by box-b only"))
    first.send_signal(signal.SIGCONT)

    _out, err = first.communicate(timeout=30)
    assert first.returncode == 1
    assert "was taken over by another listener" in err
    await until(lambda: telegram_fake.texts(ALICE_ID), what="the reply", timeout=15)
    await until(lambda: not spool.replies("telegram"), what="the reply marked sent", timeout=15)
    assert telegram_fake.texts(ALICE_ID) == ["sent by box-b only"]


async def test_a_waiting_listener_stops_at_once_and_leaves_the_lease_alone(
    tmp_path: Path,
    telegram_fake: TelegramFake,
    nats_home: NatsHome,
    listeners: list[subprocess.Popen[str]],
) -> None:
    box_a = machine(tmp_path / "box-a", telegram_fake, nats_home)
    box_b = machine(tmp_path / "box-b", telegram_fake, nats_home)
    first = listen(box_a, telegram_fake.token, listeners)
    await until(lambda: events(box_a, "listener.ready"), what="box-a serving", timeout=30)
    second = listen(box_b, telegram_fake.token, listeners)
    await until(lambda: events(box_b, "listener.standby"), what="box-b waiting", timeout=30)

    second.send_signal(signal.SIGTERM)
    _out, err = second.communicate(timeout=10)
    assert second.returncode == 0, err
    lease = Lease(nats_home.open().kv("leases"), "listener.telegram", "observer", LEASE_TTL)
    await asyncio.sleep(LEASE_TTL)  # longer than the lease: box-a renewed it meanwhile
    current = lease.current()
    assert current is not None and current.holder.endswith(f":{first.pid}")
    assert first.poll() is None
