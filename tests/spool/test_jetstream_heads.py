"""A worker node looks at its idle actors' inboxes on every pass of its loop. On NATS
each look would be a request; a node that watches its subjects remembers what it saw
until a publish or its own change says otherwise, and still sees every new message
at once. Real servers throughout; requests are counted by the server itself."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.spool.contract import make_message
from tests.spool.nats_backend import NatsHome
from tests.spool.nats_servers import NatsServer
from tests.support.waiting import wait_for
from tinyclaw.spool.jetstream import JetStreamSpool


@pytest.fixture
def nats(nats_single: NatsServer) -> Iterator[NatsHome]:
    home = NatsHome([nats_single])
    yield home
    home.close()


def server_requests(server: NatsServer) -> int:
    """What the server has received from all its clients so far (``/varz``)."""
    url = f"http://127.0.0.1:{server.http_port}/varz"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return int(json.load(answer)["in_msgs"])


def watching_node(nats: NatsHome, actors: list[str]) -> tuple[JetStreamSpool, list[int]]:
    """A node's spool watching ``actors``' inboxes and incoming; the list counts the
    publishes it has heard of."""
    node = nats.open()
    heard: list[int] = []
    node.watch_queue(actors, lambda: heard.append(1))
    return node, heard


def test_an_idle_nodes_empty_inboxes_cost_no_request_on_each_pass(nats: NatsHome) -> None:
    node, _ = watching_node(nats, ["assistant", "coder"])
    node.heads.fresh_for = 60.0  # a loaded machine may take seconds over these passes
    for actor in ("assistant", "coder"):
        assert list(node.pending(actor)) == []  # the first look asks the server
    assert list(node.incoming()) == []
    before = server_requests(nats.servers[0])
    for _ in range(20):  # twenty passes of the loop, nothing new
        assert list(node.pending("assistant")) == []
        assert list(node.pending("coder")) == []
        assert list(node.incoming()) == []
    assert server_requests(nats.servers[0]) - before == 0


def test_a_message_another_machine_queues_is_seen_at_once(nats: NatsHome) -> None:
    node, woken = watching_node(nats, ["assistant"])
    assert list(node.pending("assistant")) == []
    assert list(node.incoming()) == []
    listener, router = nats.open(), nats.open()  # other machines, watching nothing
    routed = router.put_for("assistant", make_message("for the assistant"))
    queued = listener.put(make_message("new from a chat"))
    assert queued is not None
    wait_for(lambda: len(woken) == 2, what="the node woken by both publishes")
    wait_for(lambda: [h.seq for h in node.pending("assistant")] == [routed.seq])
    wait_for(lambda: [h.seq for h in node.incoming()] == [queued.seq])


def test_a_remembered_head_taken_by_another_node_is_not_run_twice(nats: NatsHome) -> None:
    """Without ``[nodes]`` every node serves every actor: another node may claim the
    head this one remembers. The claim's compare-and-set refuses the stale one, and
    the next look finds the next message, in order."""
    node, _ = watching_node(nats, ["assistant"])
    other = nats.open()
    first = node.put_for("assistant", make_message("first"))
    second = node.put_for("assistant", make_message("second"))
    seen = next(node.pending("assistant"))  # remembered as the head
    assert seen.seq == first.seq
    taken = other.claim(next(other.pending("assistant")), "assistant")
    assert taken is not None and taken.seq == first.seq
    # The first try may be the stale head, refused; the next look is the live one.
    mine = node.claim(next(node.pending("assistant")), "assistant") or node.claim(
        next(node.pending("assistant")), "assistant"
    )
    assert mine is not None and mine.seq == second.seq


def test_a_message_given_back_is_the_head_again(nats: NatsHome) -> None:
    node, _ = watching_node(nats, ["assistant"])
    node.put_for("assistant", make_message("first"))
    later = node.put_for("assistant", make_message("later"))
    claimed = node.claim(next(node.pending("assistant")), "assistant")
    assert claimed is not None
    assert [h.seq for h in node.pending("assistant")] == [later.seq]  # remembered
    node.release(claimed, "assistant")
    assert [h.seq for h in node.pending("assistant")] == [claimed.seq, later.seq]


def test_a_node_routing_incoming_asks_nothing_more_once_it_is_through(nats: NatsHome) -> None:
    """The walk that lists incoming learns that nothing follows its last message;
    routing those messages away does not unlearn it, a new publish does."""
    node, woken = watching_node(nats, ["assistant"])
    listener = nats.open()
    queued = [listener.put(make_message(f"message {n}")) for n in range(3)]
    wait_for(lambda: len(woken) == 3, what="the node woken by the three publishes")
    listed = list(node.incoming())
    assert [h.seq for h in listed] == [h.seq for h in queued if h is not None]
    for handle in listed:
        node.route(handle, "assistant")
    after = listed[-1].seq + 1
    before = server_requests(nats.servers[0])
    for _ in range(10):
        assert list(node.incoming(after)) == []
    assert server_requests(nats.servers[0]) - before == 0
    new = listener.put(make_message("one more"))
    assert new is not None
    wait_for(lambda: [h.seq for h in node.incoming(after)] == [new.seq])


def test_a_message_routed_into_an_idle_inbox_is_its_head_without_a_look(nats: NatsHome) -> None:
    node, heard = watching_node(nats, ["assistant"])
    queued = nats.open().put(make_message("@assistant hello"))
    wait_for(lambda: heard, what="the node woken")
    [incoming] = node.incoming()
    assert list(node.pending("assistant")) == []
    routed = node.route(incoming, "assistant")
    assert routed is not None and queued is not None
    before = server_requests(nats.servers[0])
    head = next(node.pending("assistant"))  # as the worker looks: the head alone
    assert head.seq == routed.seq and node.load(head).text == "@assistant hello"
    assert server_requests(nats.servers[0]) - before == 0
    assert node.claim(head, "assistant") is not None


def test_routing_a_message_just_listed_reads_it_no_more(nats: NatsHome) -> None:
    """The listing of incoming brought the message along: routing it is the publish
    into the inbox and the delete from incoming, no read of it again."""
    node, heard = watching_node(nats, ["assistant"])
    nats.open().put(make_message("@assistant hello"))
    wait_for(lambda: heard, what="the node woken")
    [incoming] = node.incoming()
    assert list(node.pending("assistant")) == []
    before = server_requests(nats.servers[0])
    routed = node.route(incoming, "assistant")
    assert routed is not None and node.load(routed).text == "@assistant hello"
    assert server_requests(nats.servers[0]) - before == 2
    assert list(node.incoming()) == []


def test_a_message_routed_behind_one_the_node_has_not_heard_of_yet_keeps_its_place(
    nats: NatsHome,
) -> None:
    """Another machine puts into the inbox just before this node routes into it,
    while the node still remembers the inbox empty: the server refuses the
    "still empty" publish, and the other machine's message stays the head."""
    node, _ = watching_node(nats, ["assistant"])
    queued = nats.open().put(make_message("@assistant second"))
    assert queued is not None
    [incoming] = node.incoming()
    assert list(node.pending("assistant")) == []
    earlier = nats.open().put_for("assistant", make_message("first, from a handoff"))
    routed = node.route(incoming, "assistant")
    assert routed is not None
    assert [h.seq for h in node.pending("assistant")] == [earlier.seq, routed.seq]


def test_a_node_is_not_woken_by_its_own_route(nats: NatsHome) -> None:
    """The pass that routes a message dispatches right after: hearing the route back
    on the inbox's subscription is no reason for another pass. Another machine's
    publish onto the same inbox still wakes the node."""
    node, heard = watching_node(nats, ["assistant"])
    inbox = node.layout.inbox_subject("assistant")
    nats.open().put(make_message("@assistant hello"))
    wait_for(lambda: len(heard) == 1, what="the node woken by the put into incoming")
    [incoming] = node.incoming()
    before = node.heads.ticket(inbox)
    assert before is not None
    assert node.route(incoming, "assistant") is not None
    nats.open().put_for("assistant", make_message("from another machine"))
    # The route counted once by itself, then heard back, then the other's publish.
    wait_for(lambda: node.heads.ticket(inbox) == before + 3, what="both publishes heard")
    assert len(heard) == 2
