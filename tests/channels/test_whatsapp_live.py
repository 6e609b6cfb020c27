"""A permission question on WhatsApp: sent with three reply buttons (pywa against the
Graph API fake, which checks WhatsApp's button limits); a press (an interactive
``button_reply`` webhook) answers it through the real worker running
``scripts/fake-cli`` (``FAKE_CLI_ASK`` asks for Bash). WhatsApp cannot edit the
question, so the worker's notice tells the chat what was decided.
"""

from __future__ import annotations

from tests.channels.test_whatsapp import ALICE, config_for, listening
from tests.fakes.whatsapp_api import SentMessage, WhatsAppFake, async_wait_for
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.channels.whatsapp import WhatsAppChannel
from tinyclaw.core.home import Home


def configure(home: Home) -> None:
    extra = f"""
[pairing]
owners = ["whatsapp:{ALICE}"]

[channels.whatsapp]
allow_from = ["{ALICE}"]
"""
    actors: dict[str, dict[str, object]] = {"assistant": {"approvals": ["chat"]}}
    write_config(
        home, fake_cli_config(actors, env={"FAKE_CLI_ASK": "Bash"}, extra=extra, scan_interval=0.2)
    )


def question(fake: WhatsAppFake) -> SentMessage | None:
    return next((m for m in fake.messages if m.type == "interactive"), None)


def buttons(sent: SentMessage) -> list[dict[str, str]]:
    return [b["reply"] for b in sent.payload["interactive"]["action"]["buttons"]]


async def test_the_owner_allows_a_tool_with_a_reply_button(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    configure(home)
    fake = whatsapp_fake
    async with listening(home, fake) as (_channel, meta):
        with worker_thread(home):
            await meta.apost(meta.text("tidy up", wa_id=ALICE))
            await async_wait_for(lambda: question(fake) is not None, what="the question")
            asked = question(fake)
            assert asked is not None and "Bash" in (asked.text or "")
            titles = [b["title"] for b in buttons(asked)]
            assert titles == ["Allow once", "Allow for session", "Deny"]
            forged = meta.button_reply(
                "ao:forged", "Allow once", wa_id=ALICE, reply_to=(asked.id, ALICE)
            )
            await meta.apost(forged)
            await async_wait_for(lambda: any("not valid" in t for t in fake.texts), what="refused")
            allow = buttons(asked)[0]
            press = meta.button_reply(
                allow["id"], allow["title"], wa_id=ALICE, reply_to=(asked.id, ALICE)
            )
            assert (await meta.apost(press)).status_code == 200
            await async_wait_for(
                lambda: any("(Bash allowed)" in t for t in fake.texts), what="answer"
            )
    assert any(t == "Allowed once." for t in fake.texts)  # the worker's notice


def test_progress_edit_on_whatsapp_falls_back_to_notes(
    home: Home, whatsapp_fake: WhatsAppFake
) -> None:
    """WhatsApp cannot edit a message: asked to, the listener sends each step instead."""
    channel = WhatsAppChannel(home, config_for(whatsapp_fake, progress="edit"))
    assert channel.live is not None and channel.live.progress == "notes"
