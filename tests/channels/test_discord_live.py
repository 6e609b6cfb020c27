"""Live runs in a Discord DM: the permission question comes with buttons (message
components), a press (a component interaction) answers it, and the steps of a run
edit one status message that is deleted when the answer lands.

The real discord.py against the loopback Discord fake, the real worker in a thread
running ``scripts/fake-cli`` (``FAKE_CLI_ASK`` asks for Bash; ``FAKE_CLI_TOOLS`` uses
two tools).
"""

from __future__ import annotations

from tests.channels.conftest import until
from tests.fakes.discord_api import DiscordFake, SentMessage
from tests.fakes.discord_harness import ListenerKit
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.core.home import Home

DM = "4242"


def configure(
    kit: ListenerKit, *, env: dict[str, str], progress: str = "off", **actor: object
) -> None:
    extra = f"""
[pairing]
owners = ["discord:{kit.alice.id}"]

[channels.discord]
progress = "{progress}"
"""
    actors: dict[str, dict[str, object]] = {"assistant": {"approvals": ["chat"], **actor}}
    write_config(kit.home, fake_cli_config(actors, env=env, extra=extra, scan_interval=0.2))


def in_dm(fake: DiscordFake) -> list[SentMessage]:
    return [m for m in fake.messages if m.channel_id == DM]


def question(fake: DiscordFake) -> SentMessage | None:
    return next((m for m in in_dm(fake) if fake.buttons(DM, str(m.response["id"]))), None)


def posted(fake: DiscordFake, words: str) -> bool:
    return any(words in m.content for m in in_dm(fake))


def custom_id(fake: DiscordFake, sent: SentMessage, label: str) -> str:
    buttons = fake.buttons(DM, str(sent.response["id"]))
    return str(next(b["custom_id"] for b in buttons if b["label"] == label))


async def test_the_owner_allows_a_tool_with_a_button(
    home: Home, fake: DiscordFake, kit: ListenerKit
) -> None:
    configure(kit, env={"FAKE_CLI_ASK": "Bash"})
    await kit.start()
    with worker_thread(home):
        fake.push_message(channel_id=DM, content="tidy up", author=kit.alice)
        await until(lambda: question(fake), "the question with buttons")
        asked = question(fake)
        assert asked is not None
        message_id = str(asked.response["id"])
        labels = [b["label"] for b in fake.buttons(DM, message_id)]
        assert labels == ["Allow once", "Allow for this chat session", "Deny"]
        forged = fake.push_press(
            user=kit.alice, channel_id=DM, message_id=message_id, custom_id="ao:forged"
        )
        await until(lambda: fake.callback_for(forged["id"]), "the forged press acknowledged")
        pressed = fake.push_press(
            user=kit.alice,
            channel_id=DM,
            message_id=message_id,
            custom_id=custom_id(fake, asked, "Allow once"),
        )
        await until(lambda: posted(fake, "(Bash allowed)"), "the answer")
        await until(
            lambda: "Allowed once by" in fake.shown[(DM, message_id)]["content"],
            "the question closed",
        )
    forged_ack, ack = fake.callback_for(forged["id"]), fake.callback_for(pressed["id"])
    assert forged_ack is not None and "not valid" in forged_ack.content
    assert ack is not None and ack.ephemeral and "Allow once" in ack.content
    assert fake.shown[(DM, message_id)]["components"] == []  # the buttons are gone


async def test_steps_edit_one_status_message_that_goes_when_the_answer_lands(
    home: Home, fake: DiscordFake, kit: ListenerKit
) -> None:
    configure(kit, env={"FAKE_CLI_TOOLS": "1"}, progress="edit")
    await kit.start(progress="edit")
    with worker_thread(home):
        fake.push_message(channel_id=DM, content="look around", author=kit.alice)
        await until(lambda: posted(fake, "look around"), "the answer")
        await until(lambda: fake.requests_to("DELETE", "/messages/"), "the status removed")
    [status] = [m for m in in_dm(fake) if m.content.startswith("@assistant")]
    assert "ls -la" in status.content
    assert fake.shown[(DM, str(status.response["id"]))]["deleted"]
