"""The real ``claude`` CLI asks permission for a shell command (its default mode) and
the owner answers with a button: on Telegram (python-telegram-bot against the Bot API
fake), on Discord (discord.py against the Discord fake) and on WhatsApp (pywa against
the Graph API fake). The model is the loopback
Anthropic fake; the worker is the real one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.conftest import ALICE_ID, until
from tests.channels.test_whatsapp import ALICE, listening
from tests.fakes.cli_fixtures import anthropic_fake, claude_settings  # noqa: F401
from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_harness import ListenerKit
from tests.fakes.providers import Reply
from tests.fakes.telegram_api import TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake, async_wait_for
from tests.worker.test_real_clis import ACTOR, Stage
from tinyclaw.config import RunnerSettings
from tinyclaw.core.home import Home

pytestmark = pytest.mark.cli
DM = "4242"


def asking_stage(home: Home, fake: Any, settings: RunnerSettings, owner: str) -> Stage:
    """claude in its default permission mode, questions to the chat, ``owner`` owns.
    Unsandboxed: what is tested is the question's way through the chat, and bwrap
    cannot bind a CLI installation that is reached through a symlink."""
    stage = Stage("claude", home, fake, settings)
    stage.configure(
        permission_mode=None,
        actor='approvals = ["chat"]\napproval_timeout = 60\nsandbox = { mode = "off" }\n'
        f'\n[pairing]\nowners = ["{owner}"]\n',
    )
    return stage


async def test_telegram_owner_allows_claude_s_command_with_a_button(
    home: Home,
    telegram_fake: TelegramFake,
    run_telegram: Any,
    anthropic_fake: Any,  # noqa: F811
    claude_settings: RunnerSettings,  # noqa: F811
) -> None:
    stage = asking_stage(home, anthropic_fake, claude_settings, f"telegram:{ALICE_ID}")
    target = stage.workspace / "proof.txt"
    anthropic_fake.enqueue(
        Reply.tool("Bash", {"command": f"echo made > {target}", "description": "make it"}),
        Reply.say("finished"),
    )
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram() as _channel:
        with stage.serving():
            telegram_fake.push_message(alice, "make the proof")
            await until(
                lambda: any(
                    telegram_fake.buttons(ALICE_ID, s.message_id) for s in telegram_fake.sent
                ),
                "the question with buttons",
                timeout=60,
            )
            asked = next(
                s for s in telegram_fake.sent if telegram_fake.buttons(ALICE_ID, s.message_id)
            )
            assert "echo made" in asked.text
            allow = telegram_fake.buttons(ALICE_ID, asked.message_id)[0]
            telegram_fake.press(alice, ALICE_ID, asked.message_id, allow["callback_data"])
            await until(lambda: "finished" in telegram_fake.texts(ALICE_ID), "the answer", 90)
    assert target.read_text().strip() == "made"
    assert "Allowed once by" in telegram_fake.shown(ALICE_ID, asked.message_id)["text"]


async def test_discord_owner_denies_claude_s_command_with_a_button(
    home: Home,
    fake: DiscordFake,
    kit: ListenerKit,
    anthropic_fake: Any,  # noqa: F811
    claude_settings: RunnerSettings,  # noqa: F811
) -> None:
    stage = asking_stage(home, anthropic_fake, claude_settings, f"discord:{kit.alice.id}")
    target = stage.workspace / "proof.txt"
    anthropic_fake.enqueue(
        Reply.tool("Bash", {"command": f"echo made > {target}", "description": "make it"}),
        Reply.say("finished"),
    )
    await kit.start()
    with stage.serving():
        fake.push_message(channel_id=DM, content=f"@{ACTOR} make the proof", author=kit.alice)

        def question() -> Any:
            return next((m for m in fake.messages if fake.buttons(DM, str(m.response["id"]))), None)

        await until(question, "the question with buttons", timeout=60)
        asked = question()
        message_id = str(asked.response["id"])
        deny = fake.buttons(DM, message_id)[2]
        assert deny["label"] == "Deny"
        fake.push_press(
            user=kit.alice, channel_id=DM, message_id=message_id, custom_id=deny["custom_id"]
        )
        await until(lambda: any("finished" in m.content for m in fake.messages), "the answer", 90)
    assert not target.exists()
    assert "Denied by" in fake.shown[(DM, message_id)]["content"]


async def test_whatsapp_owner_allows_claude_s_command_with_a_reply_button(
    home: Home,
    whatsapp_fake: WhatsAppFake,
    anthropic_fake: Any,  # noqa: F811
    claude_settings: RunnerSettings,  # noqa: F811
) -> None:
    stage = asking_stage(home, anthropic_fake, claude_settings, f"whatsapp:{ALICE}")
    target = stage.workspace / "proof.txt"
    anthropic_fake.enqueue(
        Reply.tool("Bash", {"command": f"echo made > {target}", "description": "make it"}),
        Reply.say("finished"),
    )
    fake = whatsapp_fake
    async with listening(home, fake) as (_channel, meta):
        with stage.serving():
            await meta.apost(meta.text("make the proof", wa_id=ALICE))

            def question() -> Any:
                return next((m for m in fake.messages if m.type == "interactive"), None)

            await async_wait_for(lambda: question() is not None, 60, what="the question")
            asked = question()
            allow = asked.payload["interactive"]["action"]["buttons"][0]["reply"]
            press = meta.button_reply(
                allow["id"], allow["title"], wa_id=ALICE, reply_to=(asked.id, ALICE)
            )
            await meta.apost(press)
            await async_wait_for(lambda: "finished" in fake.texts, 90, what="the answer")
    assert target.read_text().strip() == "made"
