"""Pairing as people meet it: through a running listener and a running worker.

Real python-telegram-bot (and discord.py) against the loopback platform fakes, the
pairing gate that ``tinyclaw listen`` builds, the real worker in a thread with
``scripts/fake-cli`` as its CLI (it answers ``echo: <prompt>``), and
``tinyclaw pair ...`` through the real command-line app.
"""

from __future__ import annotations

import pytest

from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_harness import running_fake
from tests.fakes.telegram_api import TelegramFake
from tests.fakes.whatsapp_api import WhatsAppFake
from tests.pairing.stack import WHATSAPP_SECRET
from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    write_config,
)
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Sender
from tinyclaw.spool import Spool

from .helpers import code_in
from .stack import (
    ACTORS,
    configure,
    discord_listener,
    downloaded,
    failed_reasons,
    gate_for,
    handled,
    incoming,
    said,
    telegram_listener,
    tinyclaw,
    until,
    whatsapp_listener,
    worker_thread,
)

OLIVIA, ALICE, BOB, CAROL = 100, 1001, 2002, 3003  # Telegram ids; Olivia owns the home


async def pair_by_invite(home: Home, telegram: TelegramFake, user: int, *options: str) -> str:
    """The owner makes an invite on the host; ``user`` sends ``/pair CODE`` in Telegram."""
    code = tinyclaw(home, "pair", "invite", *options).stdout.strip()
    telegram.push_message(telegram.user(user, f"User{user}"), f"/pair {code}")
    return await said(telegram, user, "Paired")


async def test_a_stranger_gets_a_code_and_nothing_of_theirs_is_queued_or_downloaded(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    bob = telegram.user(BOB, "Bob", "bob")
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            telegram.push_message(bob, "hello, who are you?")
            answer = await said(telegram, BOB, "pairing code")
            last = telegram.push_message(bob, "look at this", photo=b"\xff\xd8 holiday photo")
            await handled(telegram, last)
    code = code_in(answer)
    assert f"tinyclaw pair approve {code}" in answer
    assert telegram.texts(BOB) == [answer]  # the photo message was dropped quietly
    assert incoming(home) == [] and failed_reasons(home) == []
    assert telegram.calls_to("getFile") == [] and downloaded(home) == []
    spool = Spool(home)
    assert spool.list_box(spool.outgoing("telegram")) == []
    pending = tinyclaw(home, "pair", "pending").stdout
    assert "telegram:2002" in pending and "Bob" in pending and code not in pending


async def test_the_owner_approves_on_the_host_and_the_sender_is_told_and_served(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    bob = telegram.user(BOB, "Bob", "bob")
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            telegram.push_message(bob, "hi there")
            code = code_in(await said(telegram, BOB, "pairing code"))

            out = tinyclaw(home, "pair", "approve", code).stdout
            assert "Approved telegram:2002" in out and "told in their chat" in out
            notice = await said(telegram, BOB, "You're in")

            telegram.push_message(bob, "what is 2+2?")
            answer = await said(telegram, BOB, "echo:")
    assert "the owner approved your request" in notice
    assert "what is 2+2?" in answer and "[Bob via telegram]" in answer
    assert failed_reasons(home) == []


async def test_an_invite_and_pair_code_let_a_new_user_in_with_only_their_actors(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            welcome = await pair_by_invite(
                home, telegram, CAROL, "--profile", "carol", "--actors", "coder"
            )
            carol = telegram.user(CAROL, f"User{CAROL}")
            telegram.push_message(carol, "@coder write a haiku")
            answer = await said(telegram, CAROL, "echo:")
            telegram.push_message(carol, "and you, assistant?")  # the default actor
            refusal = await said(telegram, CAROL, "may not use")
    assert "profile carol" in welcome
    assert "write a haiku" in answer
    assert refusal == "Sorry, you may not use @assistant. You may talk to: @coder."
    assert incoming(home) == [] and failed_reasons(home) == []


async def test_a_revoked_sender_is_stopped_at_once(home: Home, telegram: TelegramFake) -> None:
    configure(home)
    alice = telegram.user(ALICE, "Alice")
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            await pair_by_invite(home, telegram, ALICE)
            telegram.push_message(alice, "first question")
            await said(telegram, ALICE, "echo:")

            tinyclaw(home, "pair", "revoke", f"telegram:{ALICE}")
            last = telegram.push_message(alice, "second question", photo=b"\xff\xd8 secret")
            await handled(telegram, last)
    answers = [t for t in telegram.texts(ALICE) if t.startswith("echo:")]
    assert len(answers) == 1 and "first question" in answers[0]
    assert "pairing code" in telegram.texts(ALICE)[-1]  # a stranger again: a fresh request
    assert incoming(home) == [] and downloaded(home) == []


async def test_a_revocation_after_queueing_stops_the_run_in_the_worker(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    alice = telegram.user(ALICE, "Alice")
    async with telegram_listener(home, telegram):
        await pair_by_invite(home, telegram, ALICE)
        telegram.push_message(alice, "queued while the worker is down")
        await until(lambda: incoming(home), "the message queued")
        tinyclaw(home, "pair", "revoke", f"telegram:{ALICE}")
        with worker_thread(home):
            await until(lambda: failed_reasons(home), "the message refused by the worker")
    [reason] = failed_reasons(home)
    assert "sender not paired" in reason and "telegram:1001" in reason
    assert not any(t.startswith("echo:") for t in telegram.texts(ALICE))


async def test_a_revocation_stops_a_message_already_waiting_in_the_actors_inbox(
    home: Home, telegram: TelegramFake
) -> None:
    slow = {"FAKE_CLI_SLEEP": "3", "FAKE_CLI_SLEEP_ON": "slowly"}
    write_config(home, fake_cli_config(ACTORS, env=slow))
    alice = telegram.user(ALICE, "Alice")
    spool = Spool(home)
    async with telegram_listener(home, telegram):
        await pair_by_invite(home, telegram, ALICE)
        with worker_thread(home) as worker:
            telegram.push_message(alice, "think slowly about this")
            await until(worker.running_snapshot, "the first run")
            telegram.push_message(alice, "second, queued behind")
            await until(lambda: spool.list_box(spool.inbox("assistant")), "the second in the inbox")

            tinyclaw(home, "pair", "revoke", f"telegram:{ALICE}")

            await until(lambda: failed_reasons(home), "the waiting message refused")
            await said(telegram, ALICE, "echo:")  # the run under way was let finish
    [reason] = failed_reasons(home)
    assert "sender not paired" in reason and f"telegram:{ALICE}" in reason
    answers = [t for t in telegram.texts(ALICE) if t.startswith("echo:")]
    assert len(answers) == 1 and "slowly" in answers[0]


async def test_one_profile_linked_on_telegram_and_discord(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    with running_fake() as discord:
        alice_d = discord.user("alice")
        dm = "555"  # her DM channel with the bot: not her user id
        async with telegram_listener(home, telegram), discord_listener(home, discord):
            with worker_thread(home):
                await pair_by_invite(home, telegram, ALICE, "--profile", "alice")
                code = tinyclaw(home, "pair", "invite", "--profile", "alice").stdout.strip()
                discord.push_message(channel_id=dm, content=f"/pair {code}", author=alice_d)
                await until(lambda: _discord_texts(discord, dm, "Paired"), "paired on discord")

                discord.push_message(channel_id=dm, content="hello from discord", author=alice_d)
                await until(lambda: _discord_texts(discord, dm, "echo:"), "an answer on discord")
                listing = tinyclaw(home, "pair", "list").stdout

                tinyclaw(home, "pair", "revoke", "alice")  # the whole person, both accounts
                discord.push_message(channel_id=dm, content="still there?", author=alice_d)
                telegram.push_message(telegram.user(ALICE), "still there?")
                await until(lambda: len(_discord_texts(discord, dm, "")) >= 3, "a discord answer")
                await said(telegram, ALICE, "pairing code")
    assert f"telegram:{ALICE} discord:{alice_d.id}" in listing
    assert "hello from discord" in _discord_texts(discord, dm, "echo:")[0]
    assert "pairing code" in _discord_texts(discord, dm, "")[-1]  # not an answer
    assert len(_discord_texts(discord, dm, "echo:")) == 1
    assert incoming(home) == [] and failed_reasons(home) == []


def _discord_texts(fake: DiscordFake, channel_id: str, needle: str) -> list[str]:
    return [m.content for m in fake.messages if m.channel_id == channel_id and needle in m.content]


async def test_a_discord_request_is_announced_in_the_dm_it_came_from(home: Home) -> None:
    configure(home)
    with running_fake() as discord:
        bob_d = discord.user("bob")
        async with discord_listener(home, discord):
            with worker_thread(home):
                discord.push_message(channel_id="777", content="hi", author=bob_d)
                await until(lambda: _discord_texts(discord, "777", "pairing code"), "a code")
                code = code_in(_discord_texts(discord, "777", "pairing code")[0])
                tinyclaw(home, "pair", "approve", code)
                await until(lambda: _discord_texts(discord, "777", "You're in"), "the notice")
    assert bob_d.id != "777"


def test_the_worker_refuses_a_hand_dropped_message_from_an_unpaired_sender(
    home: Home,
) -> None:
    configure(home)
    spool = Spool(home)
    code = tinyclaw(home, "pair", "invite").stdout.strip()
    assert "Paired" in gate_for(home).handle_pair("telegram", str(ALICE), code)  # as /pair
    stranger = message("run rm -rf ~", channel="telegram", chat="666", sender=_who(666))
    command = message("/status", channel="telegram", chat="666", kind="command", sender=_who(666))
    paired = message("hello", channel="telegram", chat=str(ALICE), sender=_who(ALICE))
    local = message("from the terminal")  # the host's own channel is not gated
    with worker_thread(home):
        for msg in (stranger, command, paired, local):
            spool.put(msg)
        assert "echo:" in reply_for(home, paired).text
        assert "echo:" in reply_for(home, local).text
        wait_for(lambda: len(failed_reasons(home)) == 2, what="two refusals in failed/")
    reasons = failed_reasons(home)
    assert all("sender not paired" in r and "telegram:666" in r for r in reasons)
    assert not spool.reply_exists("telegram", stranger.id)
    assert not spool.reply_exists("telegram", command.id)
    assert {p.name for p in spool.failed.glob("*.json")} == {
        f"{stranger.id}.json",
        f"{command.id}.json",
    }


async def test_a_corrupted_store_denies_everyone_but_the_configured_owner(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home, f'[pairing]\nowners = ["telegram:{OLIVIA}"]\n')
    alice = telegram.user(ALICE, "Alice")
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            await pair_by_invite(home, telegram, ALICE)
            (home.pairing / "store.json").write_text('{"version": 1, "profiles": [{')
            telegram.push_message(alice, "am I still in?", photo=b"\xff\xd8")
            telegram.push_message(telegram.user(BOB), "let me in")
            telegram.push_message(telegram.user(OLIVIA, "Olivia"), "status report please")
            await said(telegram, OLIVIA, "echo:")  # the owner of tinyclaw.toml gets in
            spool = Spool(home)
            dropped = message("by hand", channel="telegram", chat=str(ALICE), sender=_who(ALICE))
            spool.put(dropped)
            await until(lambda: failed_reasons(home), "the hand-dropped message refused")
    assert telegram.texts(ALICE)[-1].startswith("Paired")  # nothing after the damage
    assert telegram.texts(BOB) == []  # not even a code: the store cannot take a request
    assert downloaded(home) == []
    [reason] = failed_reasons(home)
    assert "sender not paired" in reason and "unreadable" in reason
    assert (home.pairing / "store.json").read_text().endswith("[{")  # never overwritten


async def test_the_owner_approves_from_chat_and_nobody_else_can(
    home: Home, telegram: TelegramFake
) -> None:
    configure(home)
    olivia, bob, carol = (
        telegram.user(i, n) for i, n in ((OLIVIA, "Olivia"), (BOB, "Bob"), (CAROL, "Carol"))
    )
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            await pair_by_invite(home, telegram, OLIVIA, "--owner", "--profile", "olivia")
            await pair_by_invite(home, telegram, CAROL)
            telegram.push_message(bob, "hello?")
            code = code_in(await said(telegram, BOB, "pairing code"))

            telegram.push_message(carol, f"/approve {code}")
            refused = await said(telegram, CAROL, "only the owner")
            telegram.push_message(carol, "/pending")
            await until(lambda: len(_with(telegram, CAROL, "only the owner")) == 2, "refused")
            telegram.push_message(carol, "/status")
            carol_status = await said(telegram, CAROL, "waiting")

            telegram.push_message(olivia, "/pending")
            pending = await said(telegram, OLIVIA, "Pending requests")
            telegram.push_message(olivia, "/status")
            owner_status = await said(telegram, OLIVIA, "owner view")
            telegram.push_message(olivia, f"/approve {code}")
            approved = await said(telegram, OLIVIA, "Approved")
            await said(telegram, BOB, "You're in")
            telegram.push_message(bob, "thanks!")
            await said(telegram, BOB, "echo:")
    assert refused == "Sorry, only the owner can do that."
    assert "owner view" not in carol_status
    assert "telegram:2002 (Bob)" in pending and code not in pending
    assert "Queue: 0 incoming," in owner_status  # its own /status is not counted
    assert "telegram:2002" in approved and "being told" in approved


async def test_the_owner_denies_from_chat(home: Home, telegram: TelegramFake) -> None:
    configure(home, f'[pairing]\nowners = ["telegram:{OLIVIA}"]\n')
    async with telegram_listener(home, telegram):
        with worker_thread(home):
            telegram.push_message(telegram.user(BOB, "Bob"), "hello?")
            code = code_in(await said(telegram, BOB, "pairing code"))
            telegram.push_message(telegram.user(OLIVIA), f"/deny {code}")
            denied = await said(telegram, OLIVIA, "Denied")
            telegram.push_message(telegram.user(OLIVIA), "/pending")
            await said(telegram, OLIVIA, "No pending requests")
            last = telegram.push_message(telegram.user(BOB, "Bob"), "please?")
            await handled(telegram, last)
    assert "telegram:2002" in denied
    assert len(telegram.texts(BOB)) == 1  # a denied sender gets silence, not a new code


def _with(fake: TelegramFake, chat: int, needle: str) -> list[str]:
    return [t for t in fake.texts(chat) if needle in t]


def _who(user: int) -> Sender:
    return Sender(id=str(user), name=f"User{user}")


async def test_an_invite_works_through_whatsapp_and_a_stranger_there_gets_a_code(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(home)
    alice, mallory = "16315551234", "4915112345678"
    with WhatsAppFake() as fake:
        monkeypatch.setenv("WHATSAPP_TOKEN", fake.token)
        monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verify-me")
        monkeypatch.setenv("WHATSAPP_APP_SECRET", WHATSAPP_SECRET)
        media = fake.add_media(b"secret plans", "application/pdf")
        code = tinyclaw(home, "pair", "invite", "--profile", "alice").stdout.strip()
        async with whatsapp_listener(home, fake) as meta:
            with worker_thread(home):
                await meta.apost(meta.media("document", media, "application/pdf", wa_id=mallory))
                await meta.apost(meta.text(f"/pair {code}", wa_id=alice, name="Alice"))
                await until(lambda: any("Paired" in t for t in fake.texts), "alice paired")
                await meta.apost(meta.text("hello from whatsapp", wa_id=alice, name="Alice"))
                await until(lambda: any(t.startswith("echo:") for t in fake.texts), "an answer")
    to_mallory = [m.text or "" for m in fake.messages if m.to == mallory]
    assert len(to_mallory) == 1 and "pairing code" in to_mallory[0]
    assert fake.state.media_lookups == [] and fake.state.downloads == []
    [answer] = [m for m in fake.messages if (m.text or "").startswith("echo:")]
    assert answer.to == alice and "hello from whatsapp" in (answer.text or "")
    assert "whatsapp:16315551234" in tinyclaw(home, "pair", "list").stdout
