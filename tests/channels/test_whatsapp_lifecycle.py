"""The WhatsApp listener's life around the messages: it publishes the command menu
when it starts (a refusal is only a warning), and it does not run on deaf if its
webhook server dies."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.channels.test_whatsapp import ALICE, config_for, incoming, listening
from tests.fakes.whatsapp_api import WhatsAppFake
from tinyclaw.channels.commands import CHAT_COMMANDS
from tinyclaw.channels.whatsapp import WhatsAppChannel
from tinyclaw.core.errors import TinyclawError
from tinyclaw.core.home import Home


async def test_the_chat_commands_are_published_as_the_command_menu(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    async with listening(home, whatsapp_fake):
        pass
    menu = [(c["command_name"], c["command_description"]) for c in whatsapp_fake.state.commands]
    assert menu == [(c.name, c.description) for c in CHAT_COMMANDS]
    assert ("help", "What this assistant can do") in menu
    [call] = whatsapp_fake.requests_to("POST", "/conversational_automation")
    assert f"/{whatsapp_fake.phone_id}/conversational_automation" in call.path


async def test_a_refused_command_menu_is_a_warning_and_the_listener_runs_on(
    home: Home, whatsapp_fake: WhatsAppFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tinyclaw.channels.whatsapp")
    whatsapp_fake.fail("automation", whatsapp_fake.forbidden())
    async with listening(home, whatsapp_fake) as (_channel, meta):
        assert (await meta.apost(meta.text("still listening?", wa_id=ALICE))).status_code == 200
    assert [m.text for m in incoming(home)] == ["still listening?"]
    assert whatsapp_fake.state.commands == []
    assert any("command menu" in r.getMessage() for r in caplog.records)


async def test_a_webhook_server_that_dies_stops_the_listener_with_a_clear_error(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    """uvicorn gone means Meta's webhooks go unanswered: the listener must end (and be
    restarted by its supervisor), not run on as a process that only looks alive."""
    channel = WhatsAppChannel(home, config_for(whatsapp_fake), scan_interval=0.2)
    running = asyncio.create_task(channel.run(asyncio.Event()))
    while channel.port == 0 or channel._server is None:
        assert not running.done()
        await asyncio.sleep(0.01)
    uvicorn_server = channel._server._server  # the uvicorn.Server serving the webhook
    assert uvicorn_server is not None
    uvicorn_server.should_exit = True  # uvicorn stops serving on its own
    with pytest.raises(TinyclawError, match=r"webhook server .* stopped unexpectedly"):
        await asyncio.wait_for(running, 10)
