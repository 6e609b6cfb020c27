"""Worker nodes on the NATS spool: the real ``tinyclaw worker --node NAME`` process,
its actors running the fake CLI, the queue in a real ``nats-server``. A message queued
on NATS is answered once, by the node that runs its actor, and the reply waits on
NATS for the listener; a node killed mid-run answers once after its restart."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from tests.channels.test_nats_listener import serving as listening_on_nats
from tests.fakes.telegram_api import TelegramFake
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import single_server, wait_healthy
from tests.support.channels import ALICE_ID, RecordedSleeps
from tests.support.messages import message
from tests.support.waiting import until, wait_for
from tests.support.worker import (
    fake_cli_config,
    start_worker_process,
    worker_process,
    write_config,
)
from tinyclaw.core.errors import InvalidMessageError, SpoolError, SpoolUnavailableError
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Attachment, Inbound, Reply
from tinyclaw.spool.jetstream import JetStreamSpool
from tinyclaw.worker.node_spool import NodeSpool


def node_home(
    root: Path,
    nats: NatsHome,
    env: dict[str, str] | None = None,
    extra: str = "",
    spool: str = "",
    lease_ttl: float = 3,
) -> Home:
    """One machine's home: two actors on two nodes, the queue on NATS (``spool``: more
    keys of its ``[spool]`` table)."""
    home = Home(root)
    home.ensure()
    extra = (
        nats.toml() + f"claim_ttl = 60\nlease_ttl = {lease_ttl:g}\n{spool}\n"
        '[nodes.box-a]\nactors = ["assistant"]\n\n'
        '[nodes.box-b]\nactors = ["coder"]\n'
    ) + extra
    write_config(home, fake_cli_config(env=env, extra=extra))
    return home


def answered(spool: JetStreamSpool, channel: str = "cli") -> list[Reply]:
    return [spool.load_reply(handle) for handle in spool.replies(channel)]


def test_a_node_answers_its_actors_message_once_and_the_reply_waits_on_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    home = node_home(tmp_path / "box-a", nats_home)
    spool = nats_home.open()
    with worker_process(home, node="box-a"):
        hello = message("@assistant hello over NATS")
        spool.put(hello)
        replies = wait_for(lambda: answered(spool), what="the reply on the NATS spool")
        assert [r.in_reply_to for r in replies] == [hello.id]
        assert "hello over NATS" in replies[0].text
    assert answered(spool) == replies  # once: nothing more after the stop
    assert list(spool.incoming()) == []
    assert list(spool.pending("assistant")) == []


async def test_a_telegram_message_goes_round_through_nats_and_a_worker_node(
    home: Home,
    tmp_path: Path,
    telegram_fake: TelegramFake,
    nats_home: NatsHome,
    sleeps: RecordedSleeps,
) -> None:
    """The listener on one machine, the worker node on another (two homes), NATS
    between them: Alice's message is answered in her chat, once."""
    allowed = f'\n[channels.telegram]\nallow_from = ["{ALICE_ID}"]\n'
    box_a = node_home(tmp_path / "box-a", nats_home, extra=allowed)
    alice = telegram_fake.user(ALICE_ID)
    spool = nats_home.open()
    async with listening_on_nats(home, telegram_fake, spool, sleeps):
        with worker_process(box_a, node="box-a"):
            telegram_fake.push_message(alice, "what is 2+2?")
            await until(
                lambda: [t for t in telegram_fake.texts(ALICE_ID) if "echo:" in t],
                what="the answer in Alice's chat",
            )
            await until(lambda: not spool.replies("telegram"), what="the reply marked sent")
    [answer] = [t for t in telegram_fake.texts(ALICE_ID) if "echo:" in t]
    assert "what is 2+2?" in answer


def test_each_node_answers_only_its_own_actors(tmp_path: Path, nats_home: NatsHome) -> None:
    box_a = node_home(tmp_path / "box-a", nats_home)
    box_b = node_home(tmp_path / "box-b", nats_home)
    spool = nats_home.open()
    for_coder = message("@coder write a test")
    with worker_process(box_a, node="box-a"):
        queued = spool.put(for_coder)
        for_assistant = message("@assistant and you?")
        spool.put(for_assistant)
        wait_for(lambda: answered(spool), what="@assistant's reply")
        assert [r.in_reply_to for r in answered(spool)] == [for_assistant.id]
        # box-a leaves @coder's message in incoming, for the node that runs @coder to
        # route: one router per message, so its inbox keeps the order of incoming.
        assert queued is not None
        assert [h.seq for h in spool.incoming()] == [queued.seq]
        assert list(spool.pending("coder")) == []
        with worker_process(box_b, node="box-b"):
            wait_for(lambda: len(answered(spool)) == 2, what="@coder's reply from box-b")
    assert sorted(r.in_reply_to for r in answered(spool)) == sorted(
        [for_coder.id, for_assistant.id]
    )
    runs = (box_b.logs / "events.jsonl").read_text(encoding="utf-8")
    assert for_coder.id in runs and for_assistant.id not in runs
    assert for_coder.id not in (box_a.logs / "events.jsonl").read_text(encoding="utf-8")


def test_a_node_killed_mid_run_answers_once_after_its_restart(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    mark = tmp_path / "box-a" / "actors" / "assistant" / "workspace" / "running"  # CLI-writable
    slow = {"FAKE_CLI_SLEEP": "120", "FAKE_CLI_MARK": str(mark)}
    home = node_home(tmp_path / "box-a", nats_home, env=slow)
    spool = nats_home.open()
    killed = start_worker_process(home, node="box-a")
    try:
        spool.put(message("@assistant take your time"))
        wait_for(mark.exists, what="the CLI running")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)
        killed.stderr.close()  # type: ignore[union-attr]
    assert answered(spool) == []
    node_home(tmp_path / "box-a", nats_home)  # the same home, a quick CLI this time
    with worker_process(home, node="box-a"):
        replies = wait_for(lambda: answered(spool), what="the reply after the restart")
    assert len(replies) == 1 and "take your time" in replies[0].text
    assert answered(spool) == replies
    assert list(spool.pending("assistant")) == []


def test_an_attachment_in_the_object_store_reaches_the_cli_as_a_local_file(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    home = node_home(tmp_path / "box-a", nats_home)
    spool = nats_home.open()
    note = message("@assistant read this", attachments=[])
    locator = spool.save_attachment(note.id, "notes.txt", b"the shopping list")
    note = note.model_copy(
        update={"attachments": [Attachment(path=locator, name="notes.txt", size=17)]}
    )
    with worker_process(home, node="box-a"):
        spool.put(note)
        [reply] = wait_for(lambda: answered(spool), what="the reply")
    local = home.state / "nats-node" / "files"
    assert f"- {local}/" in reply.text and "/notes.txt (document" in reply.text
    assert list(local.iterdir()) == []  # the copy goes with the completed message


def test_a_node_copies_a_message_s_attachments_out_of_the_object_store(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    home = Home(tmp_path / "box-a")
    home.ensure()
    spool = nats_home.open()
    node = NodeSpool(spool, home, frozenset({"assistant"}))
    note = message("look", attachments=[])
    locator = spool.save_attachment(note.id, "notes.txt", b"the shopping list")
    gone = spool.save_attachment(note.id, "gone.txt", b"soon deleted")
    spool.put_for(
        "assistant",
        note.model_copy(update={"attachments": [Attachment(path=locator, name="notes.txt")]}),
    )
    [handle] = node.pending("assistant")
    [copy] = node.load(handle).attachments
    assert Path(copy.path).read_bytes() == b"the shopping list"
    assert Path(copy.path).is_relative_to(home.state)
    assert list(node.pending("coder")) == []  # another node's actor: not served here

    lost = message("and this", attachments=[Attachment(path=gone, name="gone.txt")])
    spool.discard_attachments(note.id)
    spool.put_for("assistant", lost)
    with pytest.raises(InvalidMessageError, match=r"gone\.txt"):
        node.load(list(node.pending("assistant"))[1])


def test_a_node_lists_incoming_from_what_it_has_not_settled_yet(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """A pass walks only what is new: the message this node left for another node's
    actor is not looked at again, one it routed is gone, and one the router put off
    (a passing error) is listed again, in its place."""
    home = Home(tmp_path / "box-a")
    home.ensure()
    spool = nats_home.open()
    node = NodeSpool(spool, home, frozenset({"assistant"}))
    for_coder = spool.put(message("@coder yours"))
    put_off = spool.put(message("@assistant first"))
    assert for_coder is not None and put_off is not None
    first, _put_off = node.list_box(node.incoming)  # the router puts the second off
    assert node.route(first, "coder") is None  # box-b's actor: left in incoming
    assert [h.seq for h in spool.incoming()] == [for_coder.seq, put_off.seq]
    later = spool.put(message("@assistant second"))
    assert later is not None
    assert [h.seq for h in node.list_box(node.incoming)] == [put_off.seq, later.seq]
    for handle in node.list_box(node.incoming):
        assert node.route(handle, "assistant") is not None
    assert node.list_box(node.incoming) == []
    assert [h.seq for h in spool.incoming()] == [for_coder.seq]  # for box-b to route
    assert [spool.load(h).text for h in spool.pending("assistant")] == [
        "@assistant first",
        "@assistant second",
    ]


def test_a_node_stopped_mid_run_gives_the_message_back_and_answers_it_once_restarted(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    mark = tmp_path / "box-a" / "actors" / "assistant" / "workspace" / "running"
    slow = {"FAKE_CLI_SLEEP": "120", "FAKE_CLI_MARK": str(mark)}
    home = node_home(tmp_path / "box-a", nats_home, env=slow)
    spool = nats_home.open()
    with worker_process(home, node="box-a"):  # SIGTERM at the end: exit code 0
        asked = message("@assistant a long one")
        spool.put(asked)
        wait_for(mark.exists, what="the CLI running")
    [back] = spool.pending("assistant")  # released as it was, for the next start
    assert spool.load(back).id == asked.id and answered(spool) == []
    node_home(tmp_path / "box-a", nats_home)
    with worker_process(home, node="box-a"):
        [reply] = wait_for(lambda: answered(spool), what="the reply after the restart")
    assert reply.in_reply_to == asked.id and answered(spool) == [reply]


def test_a_claim_a_run_could_not_give_back_is_taken_again_once_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    """The servers did not answer when a run ended (a cluster electing leaders, a
    network blip): the message could not be returned, and the node no longer renews
    its claim; once the servers are back, the message is pending again within
    claim_ttl instead of staying claimed by a run that is over."""
    with single_server(tmp_path / "nats") as server:
        nats = NatsHome([server], timeout=1.0)
        home = Home(tmp_path / "box-a")
        home.ensure()
        node = NodeSpool(nats.open(claim_ttl=1.5), home, frozenset({"assistant"}))
        try:
            node.put_for("assistant", message("@assistant hi"))
            [handle] = node.pending("assistant")
            claimed = node.claim(handle, "assistant", sync=False)
            assert list(node.pending("assistant")) == []  # held, renewed by this node
            server.stop()  # cleanly: the claim record stays in its store
            with pytest.raises(SpoolError):
                node.retry(claimed, "assistant", 5, 0.0, "internal error: boom")
            server.start()
            wait_healthy([server])
            pending = wait_for(
                lambda: list(node.pending("assistant")), what="the message pending again"
            )
            assert [node.load(h).text for h in pending] == ["@assistant hi"]
        finally:
            nats.close()


def put_when_back(spool: JetStreamSpool, queued: Inbound) -> bool:
    """Queue ``queued``; False while the client has not reconnected yet."""
    try:
        spool.put(queued)
    except SpoolUnavailableError:
        return False
    return True


def test_a_node_serves_on_through_a_short_outage_of_its_server(tmp_path: Path) -> None:
    """The servers stop answering for a few seconds (a cluster electing new leaders
    after one of three died takes that long): the node logs it and keeps serving
    instead of exiting, and answers what arrives once they are back."""
    with single_server(tmp_path / "nats") as server:
        nats = NatsHome([server], timeout=1.0)
        # A node lease of 20 s: the outage stays within the 80 % it may last.
        home = node_home(tmp_path / "box-a", nats, spool="timeout = 1", lease_ttl=20)
        spool = nats.open()
        try:
            with worker_process(home, node="box-a") as worker:
                spool.put(message("@assistant before"))
                wait_for(lambda: answered(spool), what="the first reply")
                server.stop()
                log = home.logs / "worker.log"
                wait_for(
                    lambda: "does not answer" in log.read_text(encoding="utf-8"),
                    what="the node noticing the outage",
                )
                time.sleep(1.5)  # a few of its passes meet the silent server
                server.start()
                wait_healthy([server])
                assert worker.poll() is None  # still serving
                after = message("@assistant after")
                wait_for(lambda: put_when_back(spool, after), what="the put after the outage")
                replies = wait_for(
                    lambda: [r for r in answered(spool) if r.in_reply_to == after.id],
                    what="the reply after the outage",
                )
            assert len(replies) == 1
        finally:
            nats.close()


def test_a_run_ending_while_the_server_is_silent_completes_once_it_is_back(
    tmp_path: Path,
) -> None:
    """The CLI finished and its reply is written, but the servers do not answer when
    the node completes the message (a cluster electing leaders): the node waits for
    them instead of failing the run half-way, which left the message's claim record
    held for ever (and the run's journal entry behind)."""
    with single_server(tmp_path / "nats") as server:
        nats = NatsHome([server], timeout=1.0)
        home = Home(tmp_path / "box-a")
        home.ensure()
        node = NodeSpool(nats.open(), home, frozenset({"assistant"}))
        try:
            node.put_for("assistant", message("@assistant hi"))
            [handle] = node.pending("assistant")
            claimed = node.claim(handle, "assistant", sync=False)
            server.stop()
            done: list[object] = []
            ending = threading.Thread(target=lambda: done.append(node.complete(claimed)))
            ending.start()
            time.sleep(2.5)  # a few of its tries meet the silent server
            server.start()
            wait_healthy([server])
            ending.join(30)
            assert done == [None]  # completed, no error
            assert node.depths()["processing"] == 0
            assert list(node.pending("assistant")) == []
        finally:
            nats.close()
