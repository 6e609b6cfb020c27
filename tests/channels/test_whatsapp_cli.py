"""``tinyclaw listen whatsapp`` as the user runs it: a foreground process configured by
``tinyclaw.toml`` (Graph calls sent to the loopback fake through ``api_base``), secrets
in the environment, Meta's webhooks POSTed to its port, stopped by SIGTERM. (Its idle RSS
and latency are measured by ``python -m bench.listeners``, not asserted here.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake, sign
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply, load_inbound
from tinyclaw.spool import Spool

REPO = Path(__file__).resolve().parents[2]
APP_SECRET = "app-secret-for-cli-tests"
VERIFY = "verify-cli"
ALICE = "16315551234"


@pytest.fixture
def fake() -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as server:
        yield server


def configure(home: Home, fake: WhatsAppFake, port: int) -> None:
    home.config_file.write_text(
        f"""
[actors.assistant]
runner = "claude"

[channels.whatsapp]
enabled = true
phone_id = "{fake.phone_id}"
api_base = "{fake.base_url}"
host = "127.0.0.1"
port = {port}
allow_from = ["{ALICE}"]
"""
    )


def listen(home: Home, fake: WhatsAppFake, **secrets: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TINYCLAW_HOME": str(home.root),
        **secrets,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tinyclaw", "listen", "whatsapp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answering(url: str) -> bool:
    try:
        params = {"hub.verify_token": VERIFY, "hub.challenge": "ok"}
        return httpx.get(url, params=params, timeout=1).text == "ok"
    except httpx.TransportError:
        return False


def test_without_the_app_secret_it_refuses_to_start_with_one_line(
    home: Home, fake: WhatsAppFake
) -> None:
    configure(home, fake, free_port())
    process = listen(home, fake, WHATSAPP_TOKEN=fake.token, WHATSAPP_VERIFY_TOKEN=VERIFY)
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "WHATSAPP_APP_SECRET" in line and "refusing to start" in line
    assert fake.state.requests == []


def test_a_refused_token_exits_2_without_a_traceback(home: Home, fake: WhatsAppFake) -> None:
    configure(home, fake, free_port())
    process = listen(
        home,
        fake,
        WHATSAPP_TOKEN="revoked",
        WHATSAPP_VERIFY_TOKEN=VERIFY,
        WHATSAPP_APP_SECRET=APP_SECRET,
    )
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "WHATSAPP_TOKEN" in line
    assert "revoked" not in err and APP_SECRET not in err


def test_a_dm_round_trip_through_the_listener_process(home: Home, fake: WhatsAppFake) -> None:
    port = free_port()
    configure(home, fake, port)
    process = listen(
        home,
        fake,
        WHATSAPP_TOKEN=fake.token,
        WHATSAPP_VERIFY_TOKEN=VERIFY,
        WHATSAPP_APP_SECRET=APP_SECRET,
    )
    spool = Spool(home)
    url = f"http://127.0.0.1:{port}/"
    meta = WebhookSender.for_fake(fake, url, APP_SECRET)
    try:
        wait_for(lambda: answering(url) or process.poll() is not None)
        assert process.poll() is None, process.communicate()[1]

        assert meta.post(meta.text("hello from the phone", wa_id=ALICE)).status_code == 200
        (path,) = spool.list_box(spool.incoming)
        message = load_inbound(path.read_bytes())
        assert (message.chat_id, message.text) == (ALICE, "hello from the phone")

        spool.put_reply(
            Reply(
                id="r1",
                in_reply_to=message.id,
                channel="whatsapp",
                chat_id=ALICE,
                text="hello from tinyclaw",
                reply_to_message_id=message.message_id,
            )
        )
        wait_for(lambda: (spool.sent("whatsapp") / "r1.json").exists())
        assert fake.texts == ["hello from tinyclaw"]

        with httpx.Client() as http:  # one connection, as Meta keeps one
            for n in range(5):
                body = meta.body_of(meta.text(f"ping {n}", wa_id=ALICE))
                headers = {"X-Hub-Signature-256": sign(body, APP_SECRET)}
                assert http.post(url, content=body, headers=headers).status_code == 200
        # 200 is answered only after the message is queued.
        assert len(spool.list_box(spool.incoming)) == 6
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_without_the_access_token_it_exits_2_so_it_is_not_restarted(
    home: Home, fake: WhatsAppFake
) -> None:
    """A missing secret needs a person: exit code 2 stops the supervisor's restarts."""
    configure(home, fake, free_port())
    env = {k: v for k, v in os.environ.items() if k != "WHATSAPP_TOKEN"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyclaw.channels", "whatsapp"],
        env={
            **env,
            "PYTHONPATH": str(REPO),
            "TINYCLAW_HOME": str(home.root),
            "WHATSAPP_VERIFY_TOKEN": VERIFY,
            "WHATSAPP_APP_SECRET": APP_SECRET,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "WHATSAPP_TOKEN" in line
    assert fake.state.requests == []
