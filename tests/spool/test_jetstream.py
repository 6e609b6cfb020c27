"""What the JetStream spool does beyond the shared contract: claims that outlive their
worker, a cluster losing a server, replies across a crash, a server that is down,
and the key-value store that leases are built on. Real servers throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.spool.contract import make_message, make_reply
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import NatsServer, cluster, single_server, wait_healthy
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tinyclaw.core.errors import SpoolError, UnsafePathError
from tinyclaw.spool.jetstream import (
    JetStreamKeyValue,
    JetStreamSpool,
    NatsConnection,
    NatsSettings,
    SpoolUnavailableError,
)

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture
def nats(nats_single: NatsServer) -> Iterator[NatsHome]:
    home = NatsHome([nats_single])
    yield home
    home.close()


# -- claims that outlive their worker ----------------------------------------------------


def test_a_claim_whose_worker_was_killed_is_delivered_again(nats: NatsHome) -> None:
    """A worker process claims a message and is SIGKILLed mid-run. Nobody completes
    or releases the claim; once its lease runs out the message is pending again, and
    the next claim takes it with the lost run counted as an attempt."""
    spool = nats.open()
    message = make_message("run me")
    spool.put_for("coder", message)
    script = textwrap.dedent(
        f"""
        import sys, time
        from tinyclaw.spool.jetstream import JetStreamSpool, NatsConnection, NatsSettings
        conn = NatsConnection(NatsSettings(servers={nats.urls!r}))
        spool = JetStreamSpool(conn, prefix={nats.prefix!r}, claim_ttl=1.0)
        claimed = spool.claim(next(spool.pending("coder")), "coder")
        print("claimed" if claimed else "lost", flush=True)
        time.sleep(600)
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "claimed"
        assert list(spool.pending("coder")) == []  # the lease is renewed while it lives
        time.sleep(1.5)
        assert list(spool.pending("coder")) == []
        assert spool.depths()["processing"] == 1
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

    back = wait_for(lambda: next(spool.pending("coder"), None), 10.0, "the redelivery")
    claimed = spool.claim(back, "coder")  # type: ignore[arg-type]
    assert claimed is not None
    again = spool.load(claimed)
    assert (again.id, again.text, again.attempts) == (message.id, "run me", 1)
    spool.complete(claimed)
    assert spool.depths() == {
        "incoming": 0,
        "outgoing": 0,
        "failed": 0,
        "processing": 0,
        "inboxes": 0,
    }


def test_a_message_completed_by_two_workers_is_gone_without_an_error(nats: NatsHome) -> None:
    """A worker whose claim ran out finishes late, after the worker that took the
    message over completed it: its complete finds the message gone, which is done,
    not an error (the server says "no message found")."""
    late, taker = nats.open(), nats.open()
    late.put_for("coder", make_message("run me once"))
    claimed = late.claim(next(late.pending("coder")), "coder")
    assert claimed is not None
    taker.complete(claimed)
    late.complete(claimed)
    assert list(late.pending("coder")) == []


def test_three_nodes_routing_incoming_at_once_land_each_message_once_without_errors(
    nats: NatsHome,
) -> None:
    """Every worker node routes what arrives in incoming, so two nodes often take the
    same message: both publish it to the inbox (deduplicated by ``route:<seq>``) and
    both delete it from incoming. The one whose delete comes second finds it gone;
    that is the race lost, not a failed routing."""
    nodes = [nats.open() for _ in range(3)]
    sent = [make_message(f"message {i}") for i in range(20)]
    for message in sent:
        nodes[0].put(message)
    errors: list[Exception] = []

    def route_all(node: JetStreamSpool) -> None:
        for handle in list(node.incoming()):
            try:
                node.route(handle, "coder")
            except SpoolError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=route_all, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert list(nodes[0].incoming()) == []
    inbox = [nodes[0].load(h).text for h in nodes[0].pending("coder")]
    assert sorted(inbox) == sorted(m.text for m in sent)


def test_a_message_whose_workers_keep_vanishing_ends_in_failed_with_its_reason(
    nats: NatsHome,
) -> None:
    message = make_message("poison")
    nats.open().put_for("coder", message)
    for _ in range(2):  # two workers claim it and stop answering (no renewal)
        vanishing = nats.open(claim_ttl=0.3, max_deliveries=2)
        handle = wait_for(lambda s=vanishing: next(s.pending("coder"), None), 10.0, "pending")
        assert vanishing.claim(handle, "coder") is not None  # type: ignore[arg-type]
        vanishing.close()
    third = nats.open(claim_ttl=0.3, max_deliveries=2)
    handle = wait_for(lambda: next(third.pending("coder"), None), 10.0, "the third delivery")
    assert third.claim(handle, "coder") is None  # type: ignore[arg-type]
    [(key, reason, data)] = list(third.failures())
    assert key == message.id
    assert reason.startswith("claimed 3 times by workers that stopped answering")
    assert json.loads(data)["text"] == "poison"
    assert list(third.pending("coder")) == []
    assert third.depths()["processing"] == 0


def test_a_rewritten_message_lives_with_its_claim_and_is_failed_as_rewritten(
    nats: NatsHome,
) -> None:
    """The stream's copy of a message never changes: the transcript a worker writes
    in is kept in the claim record, which another worker's view reads too, and it
    is what the failed stream keeps; nothing of it is left once the message ends."""
    spool, other = nats.open(), nats.open()
    message = make_message("")
    spool.put_for("coder", message)
    claimed = spool.claim(next(spool.pending("coder")), "coder")
    assert claimed is not None
    heard = message.model_copy(update={"text": "water the plants"})
    spool.release(spool.rewrite(claimed, heard), "coder")
    [seen] = other.pending("coder")
    assert other.load(seen).text == "water the plants"
    claimed = other.claim(seen, "coder")
    assert claimed is not None
    other.fail(claimed, "refused")
    [(_, reason, data)] = list(other.failures())
    assert (reason, json.loads(data)["text"]) == ("refused", "water the plants")
    assert other.claims.keys() == []


def test_a_worker_recovers_only_the_claims_of_its_own_actors(nats: NatsHome) -> None:
    """Two nodes share the streams: a node restarting returns its own actors' claims,
    never those another node is running."""
    other_node = nats.open(actors=frozenset({"writer"}))
    other_node.put_for("writer", make_message("the other node's"))
    assert other_node.claim(next(other_node.pending("writer")), "writer") is not None
    crashed = nats.open(actors=frozenset({"coder"}))
    crashed.put_for("coder", make_message("mine"))
    assert crashed.claim(next(crashed.pending("coder")), "coder") is not None

    restarted = nats.open(actors=frozenset({"coder"}))
    assert restarted.recover(max_attempts=3, backoff=0.0).requeued == 1
    assert [restarted.load(h).text for h in restarted.pending("coder")] == ["mine"]
    assert list(restarted.pending("writer")) == []  # still claimed by the other node


# -- replies across a crash --------------------------------------------------------------


def test_a_reply_written_before_a_crash_is_found_and_sent_once(nats: NatsHome) -> None:
    """The worker writes the reply, then dies before it completes the claim. The
    restarted worker finds the reply (so the CLI does not run again), and writing it
    again on a rerun still leaves one reply to send."""
    crashed = nats.open()
    message = make_message("question")
    crashed.put_for("coder", message)
    claimed = crashed.claim(next(crashed.pending("coder")), "coder")
    assert claimed is not None
    crashed.put_reply(make_reply(message, "answer"))
    crashed.close()  # gone before complete()

    restarted = nats.open()
    result = restarted.recover(
        max_attempts=3, backoff=5.0, ran=lambda mid: restarted.reply_exists("cli", mid)
    )
    assert result.requeued == 1
    [back] = list(restarted.pending("coder"))
    assert restarted.load(back) == message  # back as it was: its result is saved
    assert restarted.reply_exists("cli", message.id)
    restarted.put_reply(make_reply(message, "answer"))  # a rerun that could not be avoided
    [waiting] = restarted.replies("cli")
    assert restarted.load_reply(waiting).text == "answer"
    restarted.mark_sent(waiting, "cli")
    restarted.complete(restarted.claim(back, "coder"))  # type: ignore[arg-type]
    assert restarted.reply_exists("cli", message.id)
    assert restarted.replies("cli") == []


def test_the_seen_filter_holds_after_the_message_was_handled(nats: NatsHome) -> None:
    spool = nats.open()
    handle = spool.put(make_message("hi"), dedupe_key="chat1:99")
    assert handle is not None
    routed = spool.route(handle, "coder")
    spool.complete(spool.claim(routed, "coder"))  # type: ignore[arg-type]
    assert spool.put(make_message("hi"), dedupe_key="chat1:99") is None


def test_attachments_are_kept_in_the_object_store(nats: NatsHome) -> None:
    first, second = nats.open(), nats.open()
    locator = first.save_attachment("m1", "voice.ogg", b"OggS" * 100_000)
    assert locator == "nats-object:m1/voice.ogg"
    assert second.read_attachment(locator) == b"OggS" * 100_000  # another machine reads it
    assert len(second.read_attachment(locator, limit=10)) == 11
    with pytest.raises(UnsafePathError, match="invalid attachment name"):
        first.save_attachment("m1", "../escape", b"x")


def test_a_message_a_wrong_read_hid_is_found_once_the_listings_are_forgotten(
    nats: NatsHome,
) -> None:
    # A walk remembers where each inbox's head was, since sequences only grow. A
    # server that has just become leader can answer one read from an outdated copy:
    # had that read put the head past a waiting message, as set here, the message
    # would never be walked again. A worker node forgets its listings on its timed
    # rescan, and the message is found.
    spool = nats.open()
    spool.put_for("coder", make_message("waiting"))
    [head] = list(spool.pending("coder"))
    subject = head.subject
    spool._floors[subject] = head.seq + 1  # what the wrong read left behind
    assert list(spool.pending("coder")) == []
    spool.forget_listings()
    assert [spool.load(h).text for h in spool.pending("coder")] == ["waiting"]


# -- a cluster losing a server -----------------------------------------------------------


def _local_messages(server: NatsServer, stream: str) -> int:
    """How many messages ``server`` itself holds of ``stream`` (its own copy)."""
    url = f"http://127.0.0.1:{server.http_port}/jsz?streams=true"
    with urllib.request.urlopen(url, timeout=2) as answer:
        report = json.load(answer)
    for account in report.get("account_details", []):
        for detail in account.get("stream_detail", []):
            if detail["name"] == stream:
                return int(detail["state"]["messages"])
    return -1


def patiently(call: Callable[[], T], within: float = 30.0) -> T:
    """``call``, retried while the cluster elects new leaders after a server died
    (each try fails clearly by its timeout meanwhile, as a worker's would)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except SpoolUnavailableError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.slow
def test_a_cluster_keeps_working_with_a_server_killed_and_the_server_catches_up(
    tmp_path: Path,
) -> None:
    with cluster(tmp_path / "cluster") as servers:
        home = NatsHome(servers, replicas=3, timeout=2.0)
        try:
            spool = home.open()
            for i in range(10):
                spool.put_for("coder", make_message(f"before {i}"))
            victim = servers[0]
            victim.kill()
            for i in range(10):
                message = make_message(f"during {i}")
                patiently(lambda m=message: spool.put_for("coder", m))  # type: ignore[misc]
            texts = []
            for _ in range(5):
                claimed = patiently(lambda: spool.claim(next(spool.pending("coder")), "coder"))
                assert claimed is not None
                texts.append(spool.load(claimed).text)
                patiently(lambda c=claimed: spool.complete(c))  # type: ignore[misc]
            assert texts == [f"before {i}" for i in range(5)]

            victim.start()
            wait_healthy([victim], timeout=60.0)
            for i in range(5):
                message = make_message(f"after {i}")
                patiently(lambda m=message: spool.put_for("coder", m))  # type: ignore[misc]
            wait_for(
                lambda: _local_messages(victim, home.prefix + "_queue") == 20,
                30.0,
                "the restarted server to catch up",
            )
            left = patiently(lambda: [spool.load(h).text for h in spool.pending("coder")])
            assert left == (
                [f"before {i}" for i in range(5, 10)]
                + [f"during {i}" for i in range(10)]
                + [f"after {i}" for i in range(5)]
            )
        finally:
            home.close()


# -- a server that is down ---------------------------------------------------------------


def test_no_server_is_one_clear_error_not_a_hang() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(
        SpoolUnavailableError, match=f"cannot reach NATS at nats://127.0.0.1:{port}"
    ):
        NatsConnection(NatsSettings(servers=[f"nats://127.0.0.1:{port}"], timeout=1.0))
    assert time.monotonic() - started < 10


def test_a_server_that_dies_makes_each_call_fail_clearly_within_the_timeout(
    tmp_path: Path,
) -> None:
    with single_server(tmp_path / "one") as server:
        home = NatsHome([server], timeout=1.0)
        try:
            spool = home.open()
            spool.put_for("coder", make_message())
            server.kill()
            started = time.monotonic()
            with pytest.raises(SpoolUnavailableError, match="did not answer"):
                spool.put_for("coder", make_message())
            assert time.monotonic() - started < 5
            server.start()
            wait_healthy([server])
            wait_for(
                lambda: _answers(lambda: spool.put_for("coder", make_message())),
                20.0,
                "the reconnect",
            )
        finally:
            home.close()


def _answers(call: Callable[[], object]) -> bool:
    try:
        call()
    except SpoolError:
        return False
    return True


def test_the_file_backend_imports_nothing_of_nats() -> None:
    code = "import sys, tinyclaw.spool, tinyclaw.config; print('nats' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert result.stdout.strip() == "False"


# -- the key-value store -----------------------------------------------------------------


def test_the_key_value_store_compares_and_sets(nats: NatsHome) -> None:
    spool = nats.open()
    leases = spool.kv("leases")
    other = nats.open().kv("leases")
    first = leases.create("listener:telegram", b"host-a")
    assert first is not None
    assert other.create("listener:telegram", b"host-b") is None  # held: one winner
    renewed = leases.update("listener:telegram", b"host-a", first)
    assert renewed is not None
    assert other.update("listener:telegram", b"host-b", first) is None  # a stale revision
    taken = other.update("listener:telegram", b"host-b", renewed)  # expired: take over
    assert taken is not None
    assert leases.entry("listener:telegram") == (b"host-b", taken)
    leases.put("session/coder", b"{}")
    assert leases.keys() == ["listener:telegram", "session/coder"]
    leases.delete("listener:telegram")
    assert leases.get("listener:telegram") is None
    assert leases.keys() == ["session/coder"]
    assert leases.create("listener:telegram", b"host-c") is not None  # free again
    assert isinstance(leases, JetStreamKeyValue)


def test_a_deleted_key_leaves_nothing_behind_in_its_bucket(nats: NatsHome) -> None:
    # The claims bucket sees one key per message: a marker left per deleted key would
    # grow it for ever and make every listing slower.
    claims = nats.open().kv("claims")
    for n in range(50):
        claims.put(f"m.{n}", b"{}")
        claims.delete(f"m.{n}")
    claims.put("m.kept", b"{}")
    assert claims.keys() == ["m.kept"]
    assert _local_messages(nats.servers[0], claims.stream) == 1


def test_listing_a_bucket_answers_while_one_server_of_three_is_down(tmp_path: Path) -> None:
    with cluster(tmp_path / "cluster") as servers:
        home = NatsHome(servers, replicas=3, timeout=2.0)
        try:
            buckets = [home.open().kv(name) for name in ("claims", "teams", "leases")]
            for bucket in buckets:
                bucket.put("kept", b"1")
            servers[1].kill()
            for bucket in buckets:
                patiently(bucket.keys)  # until the cluster has settled without it
            started = time.monotonic()
            for _ in range(3):
                assert [bucket.keys() for bucket in buckets] == [["kept"]] * 3
            assert time.monotonic() - started < 2.0  # none waited for the dead server
        finally:
            home.close()


# -- worker nodes sharing one queue ------------------------------------------------------


def serve_node(spool: JetStreamSpool, actors: list[str], stop: threading.Event) -> None:
    """What a worker node does with the spool: per actor, take the head, answer it,
    complete it; a message already answered (a rerun after a crash) is not run again."""
    while not stop.is_set():
        idle = True
        for actor in actors:
            head = next(spool.pending(actor), None)
            if head is None:
                continue
            claimed = spool.claim(head, actor)
            if claimed is None:
                continue
            idle = False
            message = spool.load(claimed)
            if not spool.reply_exists(message.channel, message.id):
                spool.put_reply(make_reply(message, f"{actor} answers {message.text}"))
            spool.complete(claimed)
        if idle:
            time.sleep(0.01)


def test_two_nodes_share_the_queue_each_answering_its_actors_in_order(nats: NatsHome) -> None:
    """Two machines run two actors each. A third of the way through, node b dies with
    a claim in hand and starts again: every message is answered once, and each
    actor's answers come in the order its messages were sent."""
    sender = nats.open()
    nodes = {"a": ["coder", "writer"], "b": ["researcher", "critic"]}
    sent = {actor: [] for actors in nodes.values() for actor in actors}  # type: ignore[var-annotated]
    for i in range(30):
        for actor in sent:
            message = make_message(f"{actor}-{i}")
            sender.put_for(actor, message)
            sent[actor].append(message.id)

    stop = threading.Event()
    a = nats.open(actors=frozenset(nodes["a"]))
    running = [threading.Thread(target=serve_node, args=(a, nodes["a"], stop), daemon=True)]
    b_dying = nats.open(actors=frozenset(nodes["b"]), claim_ttl=2.0)
    held = b_dying.claim(next(b_dying.pending("critic")), "critic")  # then b dies
    assert held is not None
    b_dying.close()
    b = nats.open(actors=frozenset(nodes["b"]))
    assert b.recover(max_attempts=3, backoff=0.0).requeued == 1  # b restarted
    running.append(threading.Thread(target=serve_node, args=(b, nodes["b"], stop), daemon=True))
    for thread in running:
        thread.start()
    try:
        wait_for(lambda: len(sender.replies("cli")) == 120, 60.0, "120 answers")
    finally:
        stop.set()
        for thread in running:
            thread.join(timeout=10)
    replies = [sender.load_reply(h) for h in sender.replies("cli")]
    assert sorted(r.id for r in replies) == sorted(i for ids in sent.values() for i in ids)
    for actor, ids in sent.items():
        assert [r.id for r in replies if r.text.startswith(f"{actor} ")] == ids
    assert sender.depths() == {
        "incoming": 0,
        "outgoing": 120,
        "failed": 0,
        "processing": 0,
        "inboxes": 0,
    }
