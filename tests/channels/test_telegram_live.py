"""Live runs in a Telegram chat: the assistant's permission question arrives with
buttons, a press answers it, and the steps of a run edit one status message.

The real python-telegram-bot against the loopback Bot API fake, the real worker in a
thread running ``scripts/fake-cli`` (``FAKE_CLI_ASK`` makes it ask for Bash and wait;
``FAKE_CLI_TOOLS`` makes it use two tools), and the state file that lets a restarted
listener find its status message again.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.channels.conftest import ALICE_ID, until
from tests.fakes.telegram_api import Sent, TelegramFake
from tests.worker.conftest import fake_cli_config, worker_thread, write_config
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import approvals_box
from tinyclaw.core.messages import Reply
from tinyclaw.spool import Spool

BOB_ID = 1002


def configure(home: Home, *, env: dict[str, str], progress: str = "off", **actor: object) -> None:
    """Alice owns the assistant; Bob may talk to it but not answer its questions."""
    extra = f"""
[pairing]
owners = ["telegram:{ALICE_ID}"]

[channels.telegram]
allow_from = ["{ALICE_ID}", "{BOB_ID}"]
progress = "{progress}"
"""
    actors: dict[str, dict[str, object]] = {"assistant": {"approvals": ["chat"], **actor}}
    write_config(home, fake_cli_config(actors, env=env, extra=extra, scan_interval=0.2))


def question(fake: TelegramFake) -> Sent:
    return next(s for s in fake.sent if "asks to use Bash" in s.text or "Bash" in s.text)


def has_question(fake: TelegramFake) -> bool:
    return any(fake.buttons(ALICE_ID, s.message_id) for s in fake.sent)


def button(fake: TelegramFake, sent: Sent, label: str) -> str:
    return next(
        b["callback_data"] for b in fake.buttons(ALICE_ID, sent.message_id) if b["text"] == label
    )


def answered(fake: TelegramFake, words: str) -> bool:
    return any(words in t for t in fake.texts(ALICE_ID))


async def test_the_owner_allows_a_tool_with_a_button(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_ASK": "Bash"})
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram(progress="off") as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "tidy up")
            await until(lambda: has_question(telegram_fake), "the question with buttons")
            asked = question(telegram_fake)
            labels = [b["text"] for b in telegram_fake.buttons(ALICE_ID, asked.message_id)]
            assert labels == ["Allow once", "Allow for this chat session", "Deny"]
            query = telegram_fake.press(
                alice, ALICE_ID, asked.message_id, button(telegram_fake, asked, "Allow once")
            )
            await until(lambda: answered(telegram_fake, "(Bash allowed)"), "the answer")
            await until(
                lambda: (
                    "Allowed once by" in telegram_fake.shown(ALICE_ID, asked.message_id)["text"]
                ),
                "the question closed",
            )
    ack = telegram_fake.query_answer(query)
    assert ack is not None and "Allow once" in ack["text"]
    closed = telegram_fake.shown(ALICE_ID, asked.message_id)
    assert closed["markup"] is None  # the buttons are gone
    assert "Alice" in closed["text"]
    # The press is answered on the question itself, not by a second message.
    assert not answered(telegram_fake, "Allowed once.")


async def test_deny_is_a_button_too(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_ASK": "Bash"})
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram() as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "delete everything")
            await until(lambda: has_question(telegram_fake), "the question")
            asked = question(telegram_fake)
            telegram_fake.press(
                alice, ALICE_ID, asked.message_id, button(telegram_fake, asked, "Deny")
            )
            await until(lambda: answered(telegram_fake, "(Bash denied)"), "the answer")
            await until(
                lambda: "Denied by" in telegram_fake.shown(ALICE_ID, asked.message_id)["text"],
                "the question closed",
            )


async def test_a_forged_press_and_a_stranger_s_press_answer_nothing(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_ASK": "Bash"}, approval_timeout=60)
    alice = telegram_fake.user(ALICE_ID, "Alice")
    bob = telegram_fake.user(BOB_ID, "Bob")
    async with run_telegram() as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "tidy up")
            await until(lambda: has_question(telegram_fake), "the question")
            asked = question(telegram_fake)
            real = button(telegram_fake, asked, "Allow once")
            # Made-up callback data, and a real button's data under another message.
            forged = telegram_fake.press(alice, ALICE_ID, asked.message_id, "ao:not-a-token")
            moved = telegram_fake.press(alice, ALICE_ID, asked.message_id + 100, real)
            await until(lambda: telegram_fake.query_answer(forged), "the forged press answered")
            await until(lambda: telegram_fake.query_answer(moved), "the moved press answered")
            for query in (forged, moved):
                assert "not valid" in (telegram_fake.query_answer(query) or {})["text"]
            # Bob may talk to the assistant but is no owner: the worker refuses his press.
            bob_query = telegram_fake.press(bob, ALICE_ID, asked.message_id, real)
            await until(lambda: telegram_fake.query_answer(bob_query), "Bob's press answered")
            spool = Spool(home)
            await until(lambda: not spool.list_box(spool.incoming), "the worker saw it")
            pending = list(approvals_box(home, "assistant").glob("*.json"))
            assert pending and not any(p.name.endswith(".answer.json") for p in pending)
            assert telegram_fake.buttons(ALICE_ID, asked.message_id)  # still open
            telegram_fake.press(
                alice, ALICE_ID, asked.message_id, button(telegram_fake, asked, "Deny")
            )
            await until(lambda: answered(telegram_fake, "(Bash denied)"), "the answer")


async def test_pressing_an_expired_question_says_so(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_ASK": "Bash"}, approval_timeout=1)
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram() as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "tidy up")
            await until(lambda: has_question(telegram_fake), "the question")
            asked = question(telegram_fake)
            await until(lambda: answered(telegram_fake, "(Bash denied)"), "the timeout")
            query = telegram_fake.press(
                alice, ALICE_ID, asked.message_id, button(telegram_fake, asked, "Allow once")
            )
            await until(lambda: telegram_fake.query_answer(query), "the press answered")
    assert "expired or was answered" in (telegram_fake.query_answer(query) or {})["text"]
    assert telegram_fake.shown(ALICE_ID, asked.message_id)["markup"] is None


async def test_steps_edit_one_status_message_that_goes_when_the_answer_lands(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_TOOLS": "1", "FAKE_CLI_SLEEP": "0"}, progress="edit")
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram(progress="edit") as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "look around")
            await until(lambda: answered(telegram_fake, "look around"), "the answer")
            await until(lambda: telegram_fake.calls_to("deleteMessage"), "the status removed")
    [status] = [s for s in telegram_fake.sent if s.text.startswith("@assistant")]
    assert "ls -la" in status.text
    assert telegram_fake.shown(ALICE_ID, status.message_id)["deleted"]
    [delete] = telegram_fake.calls_to("deleteMessage")
    assert int(delete.params["message_id"]) == status.message_id


def step(run: str, n: int, text: str) -> Reply:
    return Reply(
        id=f"{run}.step{n}",
        in_reply_to=run,
        channel="telegram",
        chat_id=str(ALICE_ID),
        text=text,
        kind="progress",
        actor="assistant",
        meta={"progress_of": run, "step": n},
    )


async def test_a_restarted_listener_edits_and_removes_the_same_status_message(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    spool = Spool(home)
    async with run_telegram(progress="edit") as _channel:
        spool.put_reply(step("m1", 1, "@assistant $ make"))
        await until(lambda: telegram_fake.sent, "the status message")
    [status] = telegram_fake.sent
    # A new listener process: it knows the message from its state file.
    async with run_telegram(progress="edit") as _channel:
        spool.put_reply(step("m1", 2, "@assistant ✎ Edit app.py"))
        await until(
            lambda: "app.py" in telegram_fake.shown(ALICE_ID, status.message_id)["text"],
            "the same message edited",
        )
        final = step("m1", 0, "all done").model_copy(
            update={"id": "m1", "kind": "reply", "meta": {}}
        )
        spool.put_reply(final)
        await until(lambda: answered(telegram_fake, "all done"), "the answer")
    assert telegram_fake.shown(ALICE_ID, status.message_id)["deleted"]
    assert len([s for s in telegram_fake.sent if s.text.startswith("@assistant")]) == 1


async def test_status_edits_keep_to_one_every_two_seconds_per_chat(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    spool = Spool(home)
    async with run_telegram(progress="edit") as channel:
        for n in range(1, 11):
            spool.put_reply(step("m2", n, f"@assistant $ step {n}"))
        await until(lambda: not list(spool.list_box(spool.outgoing("telegram"))), "all handled")
    assert channel.live is not None
    times = [at for _chat, at in channel.live.edits]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))
    touched = len(telegram_fake.calls_to("sendMessage")) + len(
        telegram_fake.calls_to("editMessageText")
    )
    assert touched == len(times) <= 2


async def test_a_typed_yes_also_closes_the_buttons(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    configure(home, env={"FAKE_CLI_ASK": "Bash"})
    alice = telegram_fake.user(ALICE_ID, "Alice")
    async with run_telegram() as _channel:
        with worker_thread(home):
            telegram_fake.push_message(alice, "tidy up")
            await until(lambda: has_question(telegram_fake), "the question")
            asked = question(telegram_fake)
            telegram_fake.push_message(alice, "yes")
            await until(lambda: answered(telegram_fake, "(Bash allowed)"), "the answer")
            await until(
                lambda: telegram_fake.shown(ALICE_ID, asked.message_id)["markup"] is None,
                "the buttons gone",
            )
    assert "Allowed once by" in telegram_fake.shown(ALICE_ID, asked.message_id)["text"]
    assert answered(telegram_fake, "Allowed once.")  # the typed answer gets its notice


async def test_a_step_that_goes_out_after_its_answer_opens_no_status_message(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    spool = Spool(home)
    final = step("m3", 0, "the answer").model_copy(update={"id": "m3", "kind": "reply", "meta": {}})
    async with run_telegram(progress="edit") as _channel:
        spool.put_reply(final)
        await until(lambda: answered(telegram_fake, "the answer"), "the answer")
    async with run_telegram(progress="edit") as _channel:  # even after a restart
        spool.put_reply(step("m3", 1, "@assistant $ late"))
        await until(lambda: not spool.list_box(spool.outgoing("telegram")), "the step handled")
    assert [s.text for s in telegram_fake.sent] == ["the answer"]


async def test_an_unreadable_state_file_does_not_stop_the_listener(
    home: Home, telegram_fake: TelegramFake, run_telegram: Any
) -> None:
    state = home.state / "channels" / "telegram-live.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_bytes(b"\x00not json")
    spool = Spool(home)
    async with run_telegram(progress="edit") as _channel:
        spool.put_reply(step("m4", 1, "@assistant $ make"))
        await until(lambda: telegram_fake.sent, "the status message")
    assert json.loads(state.read_text())["status"]["m4"]["message_id"]
