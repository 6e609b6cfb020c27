"""The worker's second look and the owner's chat commands, without a running worker:
the real ``WorkerAccess`` and ``handle_command`` over a real store and config."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.pairing.helpers import ServiceFactory
from tests.support.messages import failed_reasons, message, outgoing, reply_for
from tests.support.waiting import wait_for
from tests.support.worker import serving
from tinyclaw.config import Config, load_config, parse_config
from tinyclaw.core.errors import SpoolError, SpoolUnavailableError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Sender, load_inbound, load_reply
from tinyclaw.pairing import Identity, PairingService
from tinyclaw.pairing.owner_side import ONLY_OWNER
from tinyclaw.pairing.records import Notice
from tinyclaw.pairing.wiring import notice_reply, queue_notifier
from tinyclaw.spool import Spool
from tinyclaw.worker.access import WorkerAccess
from tinyclaw.worker.assembly import build_runners
from tinyclaw.worker.commands import CommandContext, handle_command
from tinyclaw.worker.loop import Worker
from tinyclaw.worker.router import Router

from .helpers import ALICE, ALICE_DISCORD, BOB, OWNER, code_in


@pytest.fixture
def config() -> Config:
    return parse_config(
        {
            "actors": {"assistant": {}, "coder": {}, "reviewer": {}},
            "teams": {"devs": {"leader": "coder", "members": ["coder", "reviewer"]}},
        }
    )


@pytest.fixture
def owned(make_service: ServiceFactory, home: Home) -> PairingService:
    """A service whose owner is telegram:1, with notices going to the outgoing queue."""
    return make_service(owners={OWNER}, notify=queue_notifier(home))


def chat(ident: Identity, text: str, *, kind: str = "chat") -> Inbound:
    return message(
        text,
        channel=ident.channel,
        chat=f"chat-{ident.user_id}",
        kind=kind,
        sender=Sender(id=ident.user_id, name="Someone"),
    )


def context(config: Config, pairing: PairingService | None) -> CommandContext:
    return CommandContext(
        config,
        reset_session=lambda actor, key: None,
        chat_status=lambda m: "Nothing waiting.",
        cancel_chat=lambda m: [],
        pairing=pairing,
        overview=lambda asking: "Everything (owner view):",
    )


def test_only_platform_chat_is_checked(owned: PairingService, config: Config) -> None:
    access = WorkerAccess(owned, config)
    assert access.refuse_sender(message("from the terminal")) is None
    for kind in ("schedule", "heartbeat", "operator"):
        assert access.refuse_sender(chat(BOB, "ping", kind=kind)) is None
    refused = access.refuse_sender(chat(BOB, "hi"))
    assert refused is not None and refused.startswith("sender not paired: telegram:2002")
    assert access.refuse_sender(chat(BOB, "/status", kind="command")) is not None
    odd = message("hi", channel="telegram", sender=Sender(id="has space"))
    assert "not a user id" in (access.refuse_sender(odd) or "")
    assert access.refuse_sender(chat(OWNER, "hi")) is None


def test_a_profile_may_name_an_actor_or_the_team_it_reaches(
    owned: PairingService, config: Config
) -> None:
    access = WorkerAccess(owned, config)
    owned.redeem(ALICE, owned.invite(actors=["devs"]))
    owned.redeem(BOB, owned.invite(actors=["reviewer"]))
    assert access.refuse_actor(chat(ALICE, "@devs fix it"), "coder") is None
    assert access.refuse_actor(chat(BOB, "@reviewer look"), "reviewer") is None
    refusal = access.refuse_actor(chat(BOB, "@devs fix it"), "coder")
    assert refusal == "Sorry, you may not use @devs. You may talk to: @reviewer."
    assert access.refuse_actor(chat(BOB, "hello"), "assistant") is not None  # the default
    assert access.refuse_actor(chat(OWNER, "@coder hi"), "coder") is None


def test_owner_commands_need_an_owner(owned: PairingService, config: Config) -> None:
    owned.redeem(ALICE, owned.invite())
    code = code_in(owned.handle_unknown(BOB, "Bob", chat_id="chat-2002"))
    ctx = context(config, owned)
    for text in (f"/approve {code}", f"/deny {code}", "/pending"):
        assert handle_command(chat(ALICE, text, kind="command"), ctx) == ONLY_OWNER
    assert "owner view" not in handle_command(chat(ALICE, "/status", kind="command"), ctx)
    assert "/approve" not in handle_command(chat(ALICE, "/help", kind="command"), ctx)
    assert [r.identity for r in owned.pending()] == ["telegram:2002"]


def test_the_owner_approves_from_chat_and_the_sender_is_told_in_their_chat(
    owned: PairingService, config: Config, home: Home
) -> None:
    code = code_in(owned.handle_unknown(BOB, "Bob", chat_id="chat-2002"))
    ctx = context(config, owned)
    pending = handle_command(chat(OWNER, "/pending", kind="command"), ctx)
    assert "telegram:2002 (Bob): asked" in pending and code not in pending
    assert "/approve CODE" in handle_command(chat(OWNER, "/help", kind="command"), ctx)
    assert "owner view" in handle_command(chat(OWNER, "/status", kind="command"), ctx)

    answer = handle_command(chat(OWNER, f"/approve {code} bob", kind="command"), ctx)
    assert answer == "Approved telegram:2002 as profile bob. They are being told in their chat."
    spool = Spool(home)
    [path] = spool.list_box(spool.outgoing("telegram"))
    notice = load_reply(path.read_bytes())
    assert (notice.chat_id, notice.kind) == ("chat-2002", "notice")
    again = handle_command(chat(OWNER, f"/approve {code}", kind="command"), ctx)
    assert again.startswith("That did not work: no pending request")
    assert handle_command(chat(OWNER, "/approve", kind="command"), ctx).startswith("Usage:")


def test_the_terminal_is_the_owner_and_deny_works_by_identity(
    owned: PairingService, config: Config
) -> None:
    owned.handle_unknown(BOB)
    ctx = context(config, owned)
    answer = handle_command(message("/deny telegram:2002", kind="command"), ctx)
    assert answer.startswith("Denied the request of telegram:2002")
    assert handle_command(message("/pending", kind="command"), ctx) == "No pending requests."


def test_without_pairing_owner_commands_are_refused(config: Config) -> None:
    ctx = context(config, None)
    assert handle_command(chat(OWNER, "/pending", kind="command"), ctx) == ONLY_OWNER


def test_a_request_remembers_the_chat_it_came_from(service: PairingService) -> None:
    code = code_in(service.handle_unknown(ALICE_DISCORD, "Alice", chat_id="dm-1"))
    assert service.pending()[0].chat_id == "dm-1"
    approval = service.approve(code)
    assert approval.chat_id == "dm-1"


def test_a_notice_without_a_chat_goes_to_the_user_where_that_is_the_dm() -> None:
    assert notice_reply(Notice(ALICE, "You're in")).chat_id == "1001"
    assert notice_reply(Notice(ALICE_DISCORD, "You're in", "dm-9")).chat_id == "dm-9"
    with pytest.raises(SpoolError, match="which discord chat"):
        notice_reply(Notice(ALICE_DISCORD, "You're in"))


def test_pairing_is_built_when_a_persons_message_first_needs_it(
    owned: PairingService, config: Config
) -> None:
    built: list[PairingService] = []

    def build() -> PairingService:
        built.append(owned)
        return owned

    access = WorkerAccess(build, config)
    assert access.refuse_sender(message("from the terminal")) is None
    assert access.refuse_sender(chat(BOB, "ping", kind="schedule")) is None
    assert built == []  # the terminal and the home's own messages never need it
    assert access.refuse_sender(chat(OWNER, "hi")) is None
    assert access.refuse_sender(chat(BOB, "hi")) is not None
    assert built == [owned]  # built once


def test_a_message_waits_in_incoming_while_the_pairing_store_does_not_answer(
    owned: PairingService, config: Config, home: Home
) -> None:
    # On NATS the pairing store is a bucket on the servers; while they do not answer,
    # the message is theirs to wait for, not one to fail.
    silent = [SpoolUnavailableError("NATS at nats://x did not answer (read pairing/store)")]

    def build() -> PairingService:
        if silent:
            raise silent.pop()
        return owned

    spool = Spool(home)
    events = EventLog(home.logs / "events.jsonl")
    router = Router(
        spool,
        config,
        WorkerAccess(build, config),
        events,
        lambda: context(config, owned),
        lambda conversation: False,
    )
    path = spool.put(chat(OWNER, "hello"))
    assert path is not None
    router.route_safely(path)
    assert path.exists() and failed_reasons(home) == {}
    router.route_safely(path)  # the servers answer again
    router.flush()
    assert not path.exists() and failed_reasons(home) == {}
    inbox = spool.list_box(spool.inbox("assistant"))
    assert [load_inbound(path.read_bytes()).text for path in inbox] == ["hello"]


def test_a_message_whose_check_before_its_run_cannot_be_made_waits_and_runs_later(
    owned: PairingService, fake_home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker asks pairing again just before a run. While it cannot (on NATS the
    # store is on the servers), the message must neither run nor stay claimed with
    # nothing running it: it waits in its inbox and runs once pairing answers.
    config = load_config(fake_home)
    answering = threading.Event()

    def build() -> PairingService:
        if not answering.is_set():
            raise SpoolUnavailableError("NATS at nats://x did not answer (read pairing/store)")
        return owned

    spool = Spool(fake_home)
    asked = chat(OWNER, "hello")
    spool.put(asked, spool.inbox("assistant"))  # as a file put there by hand would be
    access = WorkerAccess(build, config)
    worker = Worker(fake_home, config, build_runners(fake_home, config), access=access)
    with caplog.at_level(logging.WARNING, logger="tinyclaw.worker"), serving(worker):
        processing = spool.processing("assistant")
        wait_for(
            lambda: "before its run; it waits" in caplog.text and not spool.list_box(processing),
            what="the check put off and the claim given back",
        )
        time.sleep(2.5)  # it is tried again every second meanwhile, and never runs
        assert outgoing(fake_home, "telegram") == [] and not worker.inflight.actors()
        assert caplog.text.count("it waits") == 1  # said once, not at every try
        answering.set()
        reply = reply_for(fake_home, asked, timeout=30)
    assert reply.text.endswith("hello")
    assert failed_reasons(fake_home) == {}


def test_a_stranger_refused_between_two_runs_does_not_hold_up_the_actor(
    owned: PairingService, fake_home: Home
) -> None:
    # Three messages wait in one inbox, the middle one from a stranger (a file put
    # there by hand). The run thread takes each next message itself; the stranger's
    # is refused at its run, and the third must still run.
    config = load_config(fake_home)
    spool = Spool(fake_home)
    first, strangers, third = message("one"), chat(BOB, "let me in"), message("three")
    for waiting in (first, strangers, third):
        spool.put(waiting, spool.inbox("assistant"))
    worker = Worker(
        fake_home, config, build_runners(fake_home, config), access=WorkerAccess(owned, config)
    )
    with serving(worker):
        assert reply_for(fake_home, third, timeout=30).text.endswith("three")
    assert reply_for(fake_home, first).text.endswith("one")
    [reason] = failed_reasons(fake_home).values()
    assert reason.startswith("sender not paired: telegram:2002")
