"""Pairing on a home whose queue is on NATS: the store is the ``PREFIX_pairing``
bucket, shared by every machine. Each "machine" is a home folder of its own with the
same ``[spool]``; the servers are real ``nats-server`` processes on loopback."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from tests.channels.test_nats_listener import queued, reachable
from tests.fakes.serving import serving_channel
from tests.fakes.telegram_api import TelegramFake
from tests.pairing.stack import tinyclaw
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server
from tests.support.channels import ALICE_ID, RecordedSleeps
from tests.support.messages import message
from tests.support.waiting import until, wait_for
from tests.support.worker import fake_cli_config, worker_process, write_config
from tests.worker.test_nats_worker import answered
from tinyclaw.channels.pairing_gate import ListenerGate
from tinyclaw.channels.telegram import TelegramChannel
from tinyclaw.config import ChannelConfig, load_config
from tinyclaw.core.errors import PairingError, PairingStoreError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender
from tinyclaw.pairing import (
    Identity,
    KVPairingStore,
    PairingService,
    PairingStore,
    RedeemOutcome,
    copy_pairing,
    open_pairing_store,
    pairing_service,
)
from tinyclaw.spool.jetstream import JetStreamSpool

BOB_ID = 2002
CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")
T = TypeVar("T")


def machine(root: Path, nats: NatsHome, extra: str = "") -> Home:
    """One machine's home, its queue (and so its pairing store) on ``nats``."""
    home = Home(root)
    home.ensure()
    spool = (
        "[spool]\n"
        'backend = "nats"\n'
        f"servers = {json.dumps(nats.urls)}\n"
        f'stream_prefix = "{nats.prefix}"\n'
        "timeout = 2.0\n"
    )
    write_config(home, fake_cli_config(extra=spool + extra))
    return home


def service_of(home: Home) -> PairingService:
    """What a listener, the worker or ``tinyclaw pair`` of that machine builds."""
    return pairing_service(home, load_config(home))


def code_in(text: str | None) -> str:
    found = CODE.search(text or "")
    assert found is not None, text
    return found.group(0)


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run ``calls`` in threads released together; their results in order."""
    start = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        start.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def test_a_sender_approved_on_one_machine_is_let_in_by_the_listener_of_another(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    box_a = machine(tmp_path / "box-a", nats_home)
    box_b = machine(tmp_path / "box-b", nats_home)
    listener_a = ListenerGate(service_of(box_a))
    asked = listener_a.check("telegram", str(BOB_ID), chat_id=str(BOB_ID), display_name="Bob")
    assert not asked.allowed
    code = code_in(asked.reply)

    # The owner approves on the other machine, with the command they would type there.
    approved = tinyclaw(box_b, "pair", "approve", code, "--profile", "bob")
    assert "telegram:2002" in approved.stdout

    assert listener_a.check("telegram", str(BOB_ID)).allowed  # the very next message
    assert ListenerGate(service_of(box_b)).check("telegram", str(BOB_ID)).allowed
    assert [p.name for p in service_of(box_a).profiles()] == ["bob"]
    # Nothing of it is in either machine's files, and the notice waits on NATS for
    # whichever machine runs the Telegram listener.
    assert not list(box_a.pairing.glob("*")) and not list(box_b.pairing.glob("*"))
    spool = nats_home.open()
    [notice] = [spool.load_reply(h) for h in spool.replies("telegram")]
    assert notice.kind == "notice" and notice.chat_id == str(BOB_ID)


def test_an_invite_is_redeemed_once_when_two_machines_redeem_it_at_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    box_a = service_of(machine(tmp_path / "box-a", nats_home))
    box_b = service_of(machine(tmp_path / "box-b", nats_home))
    for round_ in range(5):
        code = box_a.invite()
        first, second = Identity("telegram", f"3{round_}1"), Identity("telegram", f"3{round_}2")
        results = at_once(partial(box_a.redeem, first, code), partial(box_b.redeem, second, code))
        outcomes = sorted(r.outcome for r in results)
        assert outcomes == sorted([RedeemOutcome.LINKED, RedeemOutcome.WRONG]), round_
        [winner] = [r.identity for r in results if r.ok]
        assert box_a.check(winner).allowed and box_b.check(winner).allowed
        loser = second if winner == first else first
        assert not box_b.check(loser).allowed
    assert len(box_a.profiles()) == 5


def test_a_request_is_approved_once_when_two_owners_approve_it_at_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    box_a = service_of(machine(tmp_path / "box-a", nats_home))
    box_b = service_of(machine(tmp_path / "box-b", nats_home))
    code = code_in(box_a.handle_unknown(Identity("telegram", str(BOB_ID))))

    def approve(service: PairingService) -> Callable[[], str]:
        def run() -> str:
            try:
                return service.approve(code).profile.name
            except PairingError as exc:
                return f"refused: {exc}"

        return run

    answers = at_once(approve(box_a), approve(box_b))
    assert sorted(a.startswith("refused: no pending request") for a in answers) == [False, True]
    assert [p.identities for p in box_b.profiles()] == [("telegram:2002",)]


def test_many_changes_from_two_machines_at_once_all_count(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """Compare-and-set with retries: two machines inviting concurrently lose none."""
    box_a = service_of(machine(tmp_path / "box-a", nats_home))
    box_b = service_of(machine(tmp_path / "box-b", nats_home))
    codes = at_once(
        lambda: [box_a.invite() for _ in range(10)], lambda: [box_b.invite() for _ in range(10)]
    )
    assert len(box_a.invites()) == 20 == len({c for batch in codes for c in batch})


def test_a_damaged_store_on_nats_lets_in_only_the_owners_of_tinyclaw_toml(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    home = machine(tmp_path / "box-a", nats_home, '\n[pairing]\nowners = ["telegram:1"]\n')
    service = service_of(home)
    service.invite()  # the store exists, then someone writes garbage over it
    nats_home.open().kv("pairing").put("store", b"{not json")
    gate = ListenerGate(service)
    assert gate.check("telegram", "1").allowed
    stranger = gate.check("telegram", str(BOB_ID))
    assert not stranger.allowed and stranger.reply is None
    with pytest.raises(PairingStoreError, match="pairing store is unreadable"):
        service.invite()
    assert nats_home.open().kv("pairing").get("store") == b"{not json"  # not written over


def test_copying_the_store_from_files_to_nats_keeps_profiles_and_live_codes(
    tmp_path: Path, home: Home, nats_home: NatsHome
) -> None:
    on_files = PairingService(home.pairing)
    code = on_files.invite(profile="carol")
    on_files.redeem(Identity("telegram", str(ALICE_ID)), on_files.invite(profile="alice"))

    box_a = machine(tmp_path / "box-a", nats_home)
    target = open_pairing_store(box_a, load_config(box_a))
    assert isinstance(target, KVPairingStore)
    assert copy_pairing(PairingStore(home.pairing), target) == 1

    on_nats = service_of(box_a)
    assert on_nats.check(Identity("telegram", str(ALICE_ID))).allowed
    # The invite handed out before the move still works: the key came along.
    assert on_nats.redeem(Identity("telegram", "77"), code).ok
    # And back again, onto another home's files.
    back = Home(tmp_path / "back")
    assert copy_pairing(target, PairingStore(back.pairing)) == 2
    assert PairingService(back.pairing).check(Identity("telegram", "77")).allowed


def from_bob(text: str) -> Inbound:
    """What a Telegram listener queues for Bob's message."""
    return message(text, channel="telegram", chat=str(BOB_ID), sender=Sender(id=str(BOB_ID)))


def test_a_worker_node_checks_senders_against_the_store_on_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The worker's second look reads the shared store too: a stranger's message that
    got into the queue is failed, and once Bob is paired on another machine his next
    message is answered."""
    box_a = machine(tmp_path / "box-a", nats_home)
    box_b = machine(tmp_path / "box-b", nats_home)
    spool = nats_home.open()
    with worker_process(box_a):
        spool.put(from_bob("@assistant hello"))
        wait_for(lambda: spool.depths()["failed"] == 1, what="the stranger's message failed")
        assert answered(spool, "telegram") == []
        on_b = service_of(box_b)
        assert on_b.redeem(Identity("telegram", str(BOB_ID)), on_b.invite()).ok
        again = from_bob("@assistant hello again")
        spool.put(again)
        [reply] = wait_for(lambda: answered(spool, "telegram"), what="the answer to Bob")
    assert reply.in_reply_to == again.id and spool.depths()["failed"] == 1


def serve_telegram(
    home: Home, fake: TelegramFake, spool: JetStreamSpool, sleeps: RecordedSleeps
) -> TelegramChannel:
    """``tinyclaw listen telegram`` on a NATS home: the pairing gate on the spool's
    connection, no allow_from (pairing is the only way in)."""
    gate = ListenerGate(pairing_service(home, load_config(home), spool=spool))
    config = ChannelConfig(enabled=True, base_url=fake.base_url, base_file_url=fake.base_file_url)
    return TelegramChannel(
        home,
        config,
        token=fake.token,
        spool=spool,
        gate=gate,
        poll_timeout=1,
        sleep=sleeps,
        reconnect_delay=0.05,
    )


@asynccontextmanager
async def listening(channel: TelegramChannel) -> AsyncIterator[None]:
    async with serving_channel(channel):
        yield


async def test_with_the_servers_down_a_stranger_is_neither_queued_nor_answered(
    tmp_path: Path,
    telegram_fake: TelegramFake,
    sleeps: RecordedSleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No server, no answer from the store: nobody is let in on a guess. The updates
    stay unconfirmed, as when the queue itself is away, so once the servers are back
    the paired sender's message is queued and the stranger gets a pairing code."""
    caplog.set_level(logging.WARNING, logger="tinyclaw.channels.telegram")
    with single_server(tmp_path / "nats") as server:
        own = NatsHome([server], timeout=1.0)
        try:
            home = machine(tmp_path / "box-a", own)
            service = service_of(home)
            assert service.redeem(Identity("telegram", str(ALICE_ID)), service.invite()).ok
            spool = own.open()
            async with listening(serve_telegram(home, telegram_fake, spool, sleeps)):
                server.kill()
                telegram_fake.push_message(telegram_fake.user(BOB_ID), "let me in")
                telegram_fake.push_message(telegram_fake.user(ALICE_ID), "still there?")
                await until(
                    lambda: any("cannot queue update" in r.getMessage() for r in caplog.records),
                    what="the listener finding the servers away",
                    timeout=30,
                )
                assert telegram_fake.texts(BOB_ID) == []
                server.start()
                await until(
                    lambda: reachable(queued, spool), what="Alice's message, NATS back", timeout=60
                )
                await until(lambda: telegram_fake.texts(BOB_ID), what="Bob's pairing code")
            assert [m.text for m in queued(spool)] == ["still there?"]
            assert CODE.search(telegram_fake.texts(BOB_ID)[0])
        finally:
            own.close()
