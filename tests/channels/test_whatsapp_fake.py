"""The real pywa against the loopback Graph API fake, and real signed webhooks into
pywa's own FastAPI routes on uvicorn: the facts the WhatsApp listener relies on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from pywa.errors import RateLimitHit, WhatsAppError
from pywa.handlers import MessageHandler
from pywa_async.client import WhatsApp

from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake
from tests.support.waiting import until
from tinyclaw.channels.whatsapp_graph import GraphRewriteTransport
from tinyclaw.channels.whatsapp_webhook import WebhookServer

APP_SECRET = "app-secret-for-tests"
VERIFY = "verify-me"


@pytest.fixture
def fake() -> Iterator[WhatsAppFake]:
    with WhatsAppFake() as running:
        yield running


def client(fake: WhatsAppFake, token: str | None = None, **kwargs: object) -> WhatsApp:
    session = httpx.AsyncClient(transport=GraphRewriteTransport(fake.base_url))
    return WhatsApp(
        phone_id=fake.phone_id,
        token=token or fake.token,
        session=session,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_pywa_sends_text_and_files_through_the_rewritten_graph_host(
    fake: WhatsAppFake,
) -> None:
    wa = client(fake)

    sent = await wa.send_message(to="16315551234", text="hello", reply_to_message_id="wamid.in1")
    media = await wa.upload_media(b"%PDF-1.4 tiny", mime_type="application/pdf", filename="r.pdf")
    await wa.send_document(to="16315551234", document=media.id, filename="r.pdf", caption="here")
    await wa.indicate_typing("wamid.in1")

    text, document = fake.messages
    assert sent.id == text.id
    assert (text.to, text.text, text.reply_to) == ("16315551234", "hello", "wamid.in1")
    assert (document.type, document.filename, document.caption) == ("document", "r.pdf", "here")
    assert fake.upload_of(document).data == b"%PDF-1.4 tiny"
    assert fake.state.typing == ["wamid.in1"]
    assert all(r.path.startswith("/v26.0/") for r in fake.state.requests)


async def test_pywa_downloads_media_with_the_bearer_token(fake: WhatsAppFake) -> None:
    wa = client(fake)
    media_id = fake.add_media(b"\x89PNG fake", "image/png")

    info = await wa.get_media_url(media_id)
    data = b"".join([chunk async for chunk in wa.stream_media(info.url)])

    assert data == b"\x89PNG fake"
    assert info.file_size == len(data)
    assert fake.state.downloads == [media_id]
    assert all(r.authorized for r in fake.state.requests)


async def test_the_fake_refuses_a_wrong_token_like_meta(fake: WhatsAppFake) -> None:
    wa = client(fake, token="not-the-token")
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to="16315551234", text="hi")
    assert (caught.value.status_code, caught.value.code) == (401, 190)


async def test_scripted_errors_reach_pywa_with_status_code_and_retry_after(
    fake: WhatsAppFake,
) -> None:
    wa = client(fake)
    fake.fail("messages", fake.rate_limited(2), fake.server_error(503))

    with pytest.raises(RateLimitHit) as limited:
        await wa.send_message(to="16315551234", text="one")
    with pytest.raises(WhatsAppError) as unavailable:
        await wa.send_message(to="16315551234", text="two")
    await wa.send_message(to="16315551234", text="three")

    assert limited.value.status_code == 429
    assert limited.value.raw_response is not None
    assert limited.value.raw_response.headers["Retry-After"] == "2"
    assert unavailable.value.status_code == 503
    assert fake.texts == ["three"]


async def test_the_fake_enforces_the_4096_character_limit(fake: WhatsAppFake) -> None:
    wa = client(fake)
    await wa.send_message(to="16315551234", text="x" * 4096)
    with pytest.raises(WhatsAppError) as caught:
        await wa.send_message(to="16315551234", text="x" * 4097)
    assert caught.value.status_code == 400


# -- pywa's own webhook routes on uvicorn --------------------------------------------------


@pytest.fixture
async def pywa_webhook(
    fake: WhatsAppFake,
) -> AsyncIterator[tuple[WebhookSender, list[object]]]:
    """pywa registering its routes on a FastAPI app, served by uvicorn on 127.0.0.1."""
    app = FastAPI()
    received: list[object] = []
    wa = client(fake, server=app, verify_token=VERIFY, app_secret=APP_SECRET)

    async def on_message(_: object, msg: object) -> None:
        received.append(msg)

    wa.add_handlers(MessageHandler(on_message))
    server = WebhookServer(app, "127.0.0.1", 0, logging.getLogger("test"))
    port = await server.start()
    try:
        yield WebhookSender.for_fake(fake, f"http://127.0.0.1:{port}/", APP_SECRET), received
    finally:
        await server.stop()


async def test_pywa_accepts_a_signed_text_update(
    pywa_webhook: tuple[WebhookSender, list[object]],
) -> None:
    sender, received = pywa_webhook
    response = await sender.apost(sender.text("hello there"))
    assert response.status_code == 200
    await until(lambda: len(received) == 1, what="pywa's handler")
    assert received[0].text == "hello there"  # type: ignore[attr-defined]


async def test_pywa_rejects_a_forged_signature(
    pywa_webhook: tuple[WebhookSender, list[object]],
) -> None:
    sender, received = pywa_webhook
    forged = await sender.apost(sender.text("hi"), signature="sha256=" + "0" * 64)
    unsigned = await sender.apost(sender.text("hi"), signed=False)
    await asyncio.sleep(0.1)
    assert forged.status_code == 403
    assert unsigned.status_code == 422  # pywa's FastAPI route requires the header
    assert received == []


async def test_pywa_silently_drops_an_update_for_another_number_or_without_user_id(
    pywa_webhook: tuple[WebhookSender, list[object]],
) -> None:
    sender, received = pywa_webhook
    other_number = sender.text("not for us", phone_number_id="999")
    no_user_id = sender.text("old shape")
    del no_user_id["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"]

    assert (await sender.apost(other_number)).status_code == 200
    assert (await sender.apost(no_user_id)).status_code == 200
    await sender.apost(sender.text("marker"))
    await until(lambda: len(received) == 1, what="the marker message")
    await asyncio.sleep(0.05)
    assert [m.text for m in received] == ["marker"]  # type: ignore[attr-defined]


async def test_pywa_echoes_the_verify_challenge_only_for_the_right_token(
    pywa_webhook: tuple[WebhookSender, list[object]],
) -> None:
    sender, _ = pywa_webhook
    async with httpx.AsyncClient() as http:
        good = await http.get(
            sender.url, params={"hub.verify_token": VERIFY, "hub.challenge": "42"}
        )
        bad = await http.get(sender.url, params={"hub.verify_token": "no", "hub.challenge": "42"})
    assert (good.status_code, good.text) == (200, "42")
    assert bad.status_code == 403


def test_rewrite_keeps_path_prefix_and_query_and_leaves_other_hosts() -> None:
    transport = GraphRewriteTransport("http://127.0.0.1:9/proxy/")
    graph = httpx.Request("GET", "https://graph.facebook.com/v26.0/123?fields=a%20b")
    other = httpx.Request("GET", "https://lookaside.fbsbx.com/whatsapp_business/x?mid=1")

    transport.rewrite(graph)
    transport.rewrite(other)

    assert str(graph.url) == "http://127.0.0.1:9/proxy/v26.0/123?fields=a%20b"
    assert graph.headers["Host"] == "127.0.0.1:9"
    assert other.url.host == "lookaside.fbsbx.com"
