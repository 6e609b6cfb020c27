"""The WhatsApp listener, end to end on loopback: Meta's side is a signed webhook POST
into the listener's real uvicorn server and the Graph API fake behind pywa; the
worker's side is the test writing replies into ``queue/outgoing/whatsapp/``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake, async_wait_for
from tinyclaw.channels.base import RetryPolicy
from tinyclaw.channels.whatsapp import WhatsAppChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import ChannelAuthError, ConfigError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply, load_inbound
from tinyclaw.spool import Spool

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"
ALICE = "16315551234"
MALLORY = "4915112345678"


@pytest.fixture
def fake() -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as running:
        yield running


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch, fake: WhatsAppFake) -> None:
    monkeypatch.setenv("WHATSAPP_TOKEN", fake.token)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", VERIFY)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", APP_SECRET)


def config_for(fake: WhatsAppFake, **overrides: Any) -> ChannelConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "token_env": "WHATSAPP_TOKEN",
        "verify_token_env": "WHATSAPP_VERIFY_TOKEN",
        "app_secret_env": "WHATSAPP_APP_SECRET",
        "phone_id": fake.phone_id,
        "api_base": fake.base_url,
        "host": "127.0.0.1",
        "port": 0,
        "allow_from": [ALICE],
        **overrides,
    }
    return ChannelConfig(**values)


class Sleeps:
    """The outbox's sleep: records each delay, waits only a moment."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@asynccontextmanager
async def listening(
    home: Home, fake: WhatsAppFake, **kwargs: Any
) -> AsyncIterator[tuple[WhatsAppChannel, WebhookSender]]:
    config = kwargs.pop("config", None) or config_for(fake)
    kwargs.setdefault("retry", RetryPolicy(tries=3, base=0.01, round_backoff=0.01))
    kwargs.setdefault("scan_interval", 0.2)
    channel = WhatsAppChannel(home, config, **kwargs)
    await channel.start()
    try:
        url = f"http://127.0.0.1:{channel.port}/"
        yield channel, WebhookSender.for_fake(fake, url, APP_SECRET)
    finally:
        await channel.stop()


async def queued_dm(home: Home, fake: WhatsAppFake, meta: WebhookSender, text: str) -> Inbound:
    """Alice writes; returns her queued message once the typing indicator is up (so
    errors scripted afterwards hit the reply, not the indicator)."""
    assert (await meta.apost(meta.text(text, wa_id=ALICE))).status_code == 200
    await async_wait_for(lambda: len(fake.state.typing) == 1, what="typing indicator")
    (message,) = incoming(home)
    return message


def incoming(home: Home) -> list[Inbound]:
    spool = Spool(home)
    return [load_inbound(p.read_bytes()) for p in spool.list_box(spool.incoming)]


def reply_to(message: Inbound, text: str, **fields: Any) -> Reply:
    return Reply(
        id=f"r-{message.id}",
        in_reply_to=message.id,
        channel="whatsapp",
        chat_id=message.chat_id,
        text=text,
        reply_to_message_id=message.message_id,
        **fields,
    )


def sent_box(home: Home) -> list[str]:
    return [p.name for p in Spool.list_box(Spool(home).sent("whatsapp"))]


# -- a conversation -------------------------------------------------------------------------


async def test_a_dm_becomes_a_queue_file_and_the_reply_reaches_the_user(
    home: Home, fake: WhatsAppFake
) -> None:
    async with listening(home, fake) as (_channel, meta):
        update = meta.text("what's on my calendar?", wa_id=ALICE, name="Alice")
        response = await meta.apost(update)
        assert response.status_code == 200

        (message,) = incoming(home)  # queued before Meta got its 200
        wamid = update["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        assert (message.channel, message.chat_id, message.message_id) == ("whatsapp", ALICE, wamid)
        assert (message.sender.id, message.sender.name) == (ALICE, "Alice")
        assert message.text == "what's on my calendar?"
        assert not message.is_group
        assert message.meta["wa_id"] == ALICE
        # Shown (and the message marked read) on queueing, until the reply goes out.
        await async_wait_for(lambda: fake.state.typing == [wamid], what="typing indicator")

        Spool(home).put_reply(reply_to(message, "Nothing today."))
        await async_wait_for(lambda: sent_box(home) == [f"r-{message.id}.json"], what="sent/")

    (answer,) = fake.messages
    assert (answer.to, answer.text, answer.reply_to) == (ALICE, "Nothing today.", wamid)
    assert fake.state.typing == [wamid]  # once, not again after the reply


async def test_meta_can_verify_the_webhook_with_the_verify_token(
    home: Home, fake: WhatsAppFake
) -> None:
    async with listening(home, fake) as (_channel, meta), httpx.AsyncClient() as http:
        params = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
        good = await http.get(meta.url, params={**params, "hub.verify_token": VERIFY})
        bad = await http.get(meta.url, params={**params, "hub.verify_token": "guess"})
    assert (good.status_code, good.text) == (200, "1158201444")
    assert bad.status_code == 403


async def test_chat_commands_go_to_the_worker_as_commands(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        await meta.apost(meta.text("/Reset   @coder", wa_id=ALICE))
    (message,) = incoming(home)
    assert (message.kind, message.text) == ("command", "/reset @coder")


async def test_a_quoted_message_carries_its_id_and_author(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        await meta.apost(meta.text("and this?", wa_id=ALICE, reply_to=("wamid.old", ALICE)))
    (message,) = incoming(home)
    assert message.reply_to is not None
    assert (message.reply_to.message_id, message.reply_to.author) == ("wamid.old", ALICE)


# -- who gets in ------------------------------------------------------------------------------


async def test_a_forged_signature_is_rejected_and_nothing_is_queued(
    home: Home, fake: WhatsAppFake
) -> None:
    async with listening(home, fake) as (_channel, meta):
        forged = await meta.apost(meta.text("hi", wa_id=ALICE), signature="sha256=" + "ab" * 32)
        unsigned = await meta.apost(meta.text("hi", wa_id=ALICE), signed=False)
        other_secret = WebhookSender.for_fake(fake, meta.url, "someone-elses-secret")
        wrong_key = await other_secret.apost(other_secret.text("hi", wa_id=ALICE))
    assert forged.status_code == 403
    assert wrong_key.status_code == 403
    assert unsigned.status_code == 401
    assert incoming(home) == []
    assert fake.messages == []


def test_without_an_app_secret_the_listener_refuses_to_start(
    home: Home, fake: WhatsAppFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHATSAPP_APP_SECRET")
    with pytest.raises(ChannelAuthError) as refused:
        WhatsAppChannel(home, config_for(fake))
    message = str(refused.value)
    assert "WHATSAPP_APP_SECRET" in message
    assert "\n" not in message
    assert fake.state.requests == []  # not even a call to Meta


def test_without_a_phone_id_the_listener_refuses_to_start(home: Home, fake: WhatsAppFake) -> None:
    with pytest.raises(ConfigError, match="phone_id"):
        WhatsAppChannel(home, config_for(fake, phone_id=None))


async def test_a_refused_token_stops_the_listener_with_one_clear_error(
    home: Home, fake: WhatsAppFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_TOKEN", "expired-token")
    channel = WhatsAppChannel(home, config_for(fake))
    with pytest.raises(ChannelAuthError, match="WHATSAPP_TOKEN"):
        await channel.start()
    await channel.stop()


async def test_a_denied_sender_gets_their_id_and_nothing_is_queued_or_downloaded(
    home: Home, fake: WhatsAppFake
) -> None:
    media_id = fake.add_media(b"secret plans", "application/pdf")
    async with listening(home, fake) as (_channel, meta):
        await meta.apost(meta.text("let me in", wa_id=MALLORY))
        await meta.apost(
            meta.media("document", media_id, "application/pdf", filename="x.pdf", wa_id=MALLORY)
        )
    assert incoming(home) == []
    assert fake.state.media_lookups == [] and fake.state.downloads == []
    assert not Spool(home).files_root.exists() or not any(Spool(home).files_root.iterdir())
    assert all(MALLORY in text for text in fake.texts) and len(fake.texts) == 2
    assert fake.state.typing == []


async def test_pair_goes_to_the_gate_before_the_allow_list(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        await meta.apost(meta.text("/pair 123456", wa_id=MALLORY))
    assert incoming(home) == []
    assert fake.texts == ["pairing is not enabled"]


# -- redelivery -------------------------------------------------------------------------------


async def test_a_webhook_retry_with_the_same_message_id_is_queued_once(
    home: Home, fake: WhatsAppFake
) -> None:
    async with listening(home, fake) as (_channel, meta):
        update = meta.text("only once", wa_id=ALICE)
        first = await meta.apost(update)
        again = await meta.apost(update)
    assert (first.status_code, again.status_code) == (200, 200)
    # ... also after a restart, when no memory of the first delivery is left
    async with listening(home, fake) as (_channel, meta):
        assert (await meta.apost(update)).status_code == 200
    assert [m.text for m in incoming(home)] == ["only once"]


async def test_every_message_of_a_batched_webhook_is_queued(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        first = meta.text("first", wa_id=ALICE)
        second = meta.text("second", wa_id=ALICE)
        value = first["entry"][0]["changes"][0]["value"]
        value["messages"] += second["entry"][0]["changes"][0]["value"]["messages"]
        assert (await meta.apost(first)).status_code == 200
    assert sorted(m.text for m in incoming(home)) == ["first", "second"]


# -- groups -----------------------------------------------------------------------------------


async def test_group_messages_need_an_allowed_group_and_a_mention(
    home: Home, fake: WhatsAppFake
) -> None:
    group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    config = config_for(fake, allow_groups=[group])
    mention = f"@{fake.display_phone_number}"
    async with listening(home, fake, config=config) as (_channel, meta):
        await meta.apost(meta.text(f"{mention} hi", wa_id=ALICE, group_id="other-group"))
        await meta.apost(meta.text("just chatting", wa_id=ALICE, group_id=group))
        await meta.apost(meta.text(f"{mention} summarize this", wa_id=ALICE, group_id=group))
        bot_message = ("wamid.bot", fake.display_phone_number)
        await meta.apost(meta.text("and again", wa_id=ALICE, group_id=group, reply_to=bot_message))
    queued = incoming(home)
    assert [(m.text, m.chat_id, m.is_group) for m in queued] == [
        ("summarize this", group, True),
        ("and again", group, True),
    ]
    assert fake.messages == []


# -- attachments ------------------------------------------------------------------------------


async def test_attachments_are_downloaded_into_the_message_files_folder(
    home: Home, fake: WhatsAppFake
) -> None:
    pdf = fake.add_media(b"%PDF-1.4 the report", "application/pdf")
    voice = fake.add_media(b"OggS voice", "audio/ogg; codecs=opus")
    async with listening(home, fake) as (_channel, meta):
        await meta.apost(
            meta.media(
                "document",
                pdf,
                "application/pdf",
                filename="../../Q3 report.pdf",
                caption="please summarize",
                wa_id=ALICE,
            )
        )
        await meta.apost(meta.media("audio", voice, "audio/ogg; codecs=opus", voice=True))
    document, note = incoming(home)
    assert document.text == "please summarize"
    (attachment,) = document.attachments
    assert attachment.name == "Q3_report.pdf"
    assert attachment.kind == "document" and attachment.mime == "application/pdf"
    path = Path(attachment.path)
    assert path.parent == Spool(home).files_dir(document.id)
    assert path.read_bytes() == b"%PDF-1.4 the report"
    (recording,) = note.attachments
    assert (recording.kind, recording.name) == ("voice", "voice.oga")
    assert Path(recording.path).read_bytes() == b"OggS voice"


async def test_an_attachment_over_the_cap_is_listed_not_downloaded(
    home: Home, fake: WhatsAppFake
) -> None:
    honest = fake.add_media(b"x" * 3 * 1024 * 1024, "application/zip")
    liar = fake.add_media(b"y" * 3 * 1024 * 1024, "application/zip", reported_size=10)
    config = config_for(fake, max_attachment_mb=1)
    async with listening(home, fake, config=config) as (_channel, meta):
        await meta.apost(meta.media("document", honest, "application/zip", filename="big.zip"))
        await meta.apost(meta.media("document", liar, "application/zip", filename="sly.zip"))
    big, sly = incoming(home)
    assert big.attachments == [] and "big.zip skipped: too large (3.0 MB; limit 1.0 MB)" in big.text
    assert sly.attachments == [] and "sly.zip skipped: too large" in sly.text
    assert fake.state.downloads == [liar]  # the honest one was never fetched
    assert not any(Spool(home).files_dir(m.id).exists() for m in (big, sly))


async def test_files_from_the_actors_workspace_are_uploaded_and_others_refused(
    home: Home, fake: WhatsAppFake, tmp_path: Path
) -> None:
    workspace = home.actors / "assistant" / "workspace"  # a home's actor workspace
    workspace.mkdir(parents=True)
    (workspace / "report.pdf").write_bytes(b"%PDF-1.4 out")
    (workspace / "chart.png").write_bytes(b"\x89PNG chart")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not send")
    (workspace / "link.txt").symlink_to(secret)
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "send me the report")
        reply = reply_to(
            message,
            "Here it is.",
            workspace=str(workspace),
            files=["report.pdf", "chart.png", "link.txt", str(secret)],
        )
        Spool(home).put_reply(reply)
        await async_wait_for(lambda: len(sent_box(home)) == 1, what="sent/")

    kinds = [(m.type, m.filename) for m in fake.messages]
    assert kinds[:3] == [("text", None), ("document", "report.pdf"), ("image", None)]
    assert fake.upload_of(fake.messages[1]).data == b"%PDF-1.4 out"
    assert fake.upload_of(fake.messages[2]).mime_type == "image/png"
    refusals = [m.text or "" for m in fake.messages[3:]]
    assert len(refusals) == 2 and all("outside the actor's workspace" in t for t in refusals)
    assert [u.data for u in fake.uploads] == [b"%PDF-1.4 out", b"\x89PNG chart"]


# -- delivery -------------------------------------------------------------------------------


async def test_a_long_reply_is_split_at_4096_characters(home: Home, fake: WhatsAppFake) -> None:
    paragraphs = ["word " * 700, "line\n" * 600, "end " * 700]
    text = "\n\n".join(p.strip() for p in paragraphs)
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "write a lot")
        Spool(home).put_reply(reply_to(message, text))
        await async_wait_for(lambda: len(sent_box(home)) == 1, what="sent/")
    parts = fake.texts
    assert len(parts) >= 3 and all(len(p) <= 4096 for p in parts)
    assert "".join(p.replace("\n", "").replace(" ", "") for p in parts) == text.replace(
        "\n", ""
    ).replace(" ", "")
    assert fake.messages[0].reply_to == message.message_id
    assert all(m.reply_to is None for m in fake.messages[1:])


async def test_a_5xx_is_retried_until_meta_accepts(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "hello")
        fake.fail("messages", fake.server_error(500), fake.server_error(503))
        Spool(home).put_reply(reply_to(message, "pong"))
        await async_wait_for(lambda: len(sent_box(home)) == 1, what="sent/")
    assert fake.texts == ["pong"]


async def test_a_429_waits_as_long_as_retry_after_says(home: Home, fake: WhatsAppFake) -> None:
    sleeps = Sleeps()
    async with listening(home, fake, sleep=sleeps) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "hello")
        fake.fail("messages", fake.rate_limited(7))
        Spool(home).put_reply(reply_to(message, "pong"))
        await async_wait_for(lambda: len(sent_box(home)) == 1, what="sent/")
    assert 7.0 in sleeps.delays
    assert fake.texts == ["pong"]


async def test_a_permanent_refusal_moves_the_reply_to_failed_with_the_reason(
    home: Home, fake: WhatsAppFake
) -> None:
    spool = Spool(home)
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "hello")
        fake.fail("messages", fake.forbidden())
        spool.put_reply(reply_to(message, "pong"))
        name = f"r-{message.id}.json"
        await async_wait_for(lambda: (spool.failed / name).exists(), what="failed/")
        fake.fail("messages", fake.outside_window())
        late = reply_to(message, "a day later").model_copy(update={"id": "late"})
        spool.put_reply(late)
        await async_wait_for(lambda: (spool.failed / "late.json").exists(), what="failed/")
    reason = json.loads((spool.failed / f"{name}.reason").read_text())["reason"]
    assert "403" in reason and "Permissions error" in reason
    late_reason = json.loads((spool.failed / "late.json.reason").read_text())["reason"]
    assert "24 hours" in late_reason
    assert fake.texts == [] and sent_box(home) == []


async def test_failed_webhook_queueing_answers_500_so_meta_retries(
    home: Home, fake: WhatsAppFake
) -> None:
    spool = Spool(home)
    async with listening(home, fake) as (_channel, meta):
        update = meta.text("keep me", wa_id=ALICE)
        spool.tmp.rmdir()
        spool.tmp.write_text("not a directory")  # the disk says no: queueing fails
        failed = await meta.apost(update)
        spool.tmp.unlink()
        retried = await meta.apost(update)
    assert (failed.status_code, retried.status_code) == (500, 200)
    assert [m.text for m in incoming(home)] == ["keep me"]


async def test_a_token_revoked_while_running_stops_the_listener_and_keeps_the_reply(
    home: Home, fake: WhatsAppFake
) -> None:
    spool = Spool(home)
    channel = WhatsAppChannel(
        home, config_for(fake), retry=RetryPolicy(tries=2, base=0.01), scan_interval=0.2
    )
    stop = asyncio.Event()
    running = asyncio.create_task(channel.run(stop))
    await async_wait_for(lambda: channel.port != 0, what="the webhook port")
    meta = WebhookSender.for_fake(fake, f"http://127.0.0.1:{channel.port}/", APP_SECRET)
    message = await queued_dm(home, fake, meta, "hello")

    fake.token = "rotated-by-meta"  # the listener's token is no longer valid
    spool.put_reply(reply_to(message, "pong"))

    with pytest.raises(ChannelAuthError, match="WHATSAPP_TOKEN"):
        await asyncio.wait_for(running, timeout=10)
    assert [p.name for p in spool.list_box(spool.outgoing("whatsapp"))] == [f"r-{message.id}.json"]
    assert fake.texts == []


async def test_an_oversized_webhook_body_is_refused_before_parsing(
    home: Home, fake: WhatsAppFake
) -> None:
    async with listening(home, fake) as (_channel, meta):
        huge = meta.text("x" * (5 * 1024 * 1024), wa_id=ALICE)
        response = await meta.apost(huge)
    assert response.status_code == 413
    assert incoming(home) == []


async def test_a_phone_id_the_token_cannot_use_stops_the_listener(
    home: Home, fake: WhatsAppFake
) -> None:
    channel = WhatsAppChannel(home, config_for(fake, phone_id="123000"))
    with pytest.raises(ChannelAuthError, match="phone_id 123000"):
        await channel.start()
    await channel.stop()


async def test_an_unreachable_graph_api_at_start_does_not_stop_receiving(
    home: Home, fake: WhatsAppFake
) -> None:
    fake.fail("phone", fake.server_error(503))
    async with listening(home, fake) as (_channel, meta):
        assert (await meta.apost(meta.text("still there?", wa_id=ALICE))).status_code == 200
    assert [m.text for m in incoming(home)] == ["still there?"]


MARKDOWN_ANSWER = (
    "## Status\n\nThe build is **green**; run `make test` again, see "
    "[the log](https://ci.example.org/42).\n\n```sh\nmake test\n```"
)


async def test_a_markdown_reply_arrives_in_whatsapp_markup(home: Home, fake: WhatsAppFake) -> None:
    async with listening(home, fake) as (_channel, meta):
        message = await queued_dm(home, fake, meta, "status?")
        Spool(home).put_reply(reply_to(message, MARKDOWN_ANSWER, actor="assistant"))
        await async_wait_for(lambda: sent_box(home), what="sent/")
    assert fake.texts == [
        "*Status*\n\nThe build is *green*; run `make test` again, see the log "
        "(https://ci.example.org/42).\n\n```\nmake test\n```"
    ]
