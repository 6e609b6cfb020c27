"""Team conversations shared by worker nodes through a key-value bucket on a real
``nats-server``: two nodes changing one conversation at once lose nothing, answers
coming in on two machines fan in once, and unreadable state is an error, not a guess.
Each node is its own connection (its own JetStreamSpool), as on two machines."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.spool.nats_backend import NatsHome
from tests.support.commands import run_tinyclaw
from tests.support.messages import message
from tests.support.teams import blank_conversation, team_config
from tests.support.worker import write_config
from tinyclaw.config import load_config
from tinyclaw.core.errors import ConversationError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound
from tinyclaw.runners import RunResult
from tinyclaw.spool.jetstream import JetStreamSpool
from tinyclaw.teams import Conversation, SharedConversationStore, TeamSweep
from tinyclaw.teams.coordinator import Coordinator
from tinyclaw.worker.node_spool import NodeSpool


def result(text: str) -> RunResult:
    return RunResult(text=text, session_id=None, ok=True, exit_code=0, duration_s=0.5)


def node(home: Home, nats: NatsHome, members: list[str]) -> tuple[Coordinator, JetStreamSpool]:
    """One worker node's coordinator: its own home on the shared queue and bucket."""
    home.ensure()
    actors = {m: f"{m} things" for m in members}
    write_config(home, team_config(None, actors, {"crew": members}) + nats.toml())
    spool = nats.open()
    events = EventLog(home.logs / "events.jsonl")
    # The spool is typed for the file backend; the coordinator uses only its interface.
    coordinator = Coordinator(home, load_config(home), spool, events=events)  # type: ignore[arg-type]
    assert isinstance(coordinator.store, SharedConversationStore)
    return coordinator, spool


def take(spool: JetStreamSpool, actor: str) -> Inbound:
    """The oldest message of ``actor``'s inbox, run and done with as a node would."""
    handle = next(spool.pending(actor))
    claimed = spool.claim(handle, actor)
    assert claimed is not None
    found = spool.load(claimed)
    spool.complete(claimed)
    return found


def test_two_nodes_changing_one_conversation_at_once_lose_no_change(
    nats_home: NatsHome,
) -> None:
    stores = [SharedConversationStore(nats_home.open().kv("teams")) for _ in range(2)]
    cid = message().id
    stores[0].change(cid, lambda c: blank_conversation(cid) if c is None else None)
    start = threading.Barrier(6)

    def bump(store: SharedConversationStore, counter: str) -> None:
        start.wait()
        for _ in range(10):

            def edit(c: Conversation | None) -> Conversation | None:
                assert c is not None
                c.next(counter)
                return c

            store.change(cid, edit)

    threads = [threading.Thread(target=bump, args=(stores[i % 2], f"t{i}")) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    state = stores[1].load(cid)
    assert state is not None
    assert state.counters == {f"t{i}": 10 for i in range(6)}
    assert stores[1].all_ids() == [cid] and stores[0].exists(cid)
    assert stores[0].find(f"{cid}.h001") == state  # any of its message ids finds it


def test_an_edit_that_changes_nothing_writes_nothing(nats_home: NatsHome) -> None:
    store = SharedConversationStore(nats_home.open().kv("teams"))
    cid = message().id
    assert store.change(cid, lambda c: None) is None
    assert not store.exists(cid)
    store.change(cid, lambda c: blank_conversation(cid))
    revision = store.kv.entry(cid)
    assert store.change(cid, lambda c: None) == blank_conversation(cid)
    assert store.kv.entry(cid) == revision


def test_unreadable_shared_state_is_an_error_not_a_guess(nats_home: NatsHome) -> None:
    store = SharedConversationStore(nats_home.open().kv("teams"))
    cid = message().id
    store.kv.put(cid, b'{"id": 1}')
    with pytest.raises(ConversationError, match="teams bucket is not valid"):
        store.load(cid)
    with pytest.raises(ConversationError):
        store.change(cid, lambda c: c)
    assert store.find(cid) is None  # trace skips it rather than crash
    with pytest.raises(ConversationError, match="invalid conversation id"):
        store.load("../escape")


def test_answers_coming_in_on_two_nodes_at_once_fan_in_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The lead runs on box-a and hands out eight tasks; box-a and box-b each answer
    four of them at the same moment. One fan-in reaches the lead, with every answer."""
    members = ["lead", *(f"m{i}" for i in range(8))]
    box_a, box_b = Home(tmp_path / "box-a"), Home(tmp_path / "box-b")
    (a, spool_a), (b, spool_b) = node(box_a, nats_home, members), node(box_b, nats_home, members)
    nodes, spools = [a, b], [spool_a, spool_b]
    root = message("@crew go", actor="lead")
    tags = " ".join(f"[@m{i}: part {i}]" for i in range(8))
    assert nodes[0].after_run(root, "lead", result(tags), "")
    tasks = {f"m{i}": take(spools[0], f"m{i}") for i in range(8)}
    barrier = threading.Barrier(8)

    def answer(i: int) -> None:
        actor = f"m{i}"
        barrier.wait()
        nodes[i % 2].after_run(tasks[actor], actor, result(f"answer of {actor}"), "")

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    fanin = take(spools[1], "lead")
    assert fanin.kind == "fanin" and fanin.handoff is not None
    for i in range(8):
        assert fanin.text.count(f"answer of m{i}") == 1
    assert list(spools[0].pending("lead")) == []  # once
    state = nodes[1].store.load(root.id)
    assert state is not None
    assert sorted(o.kind for o in state.outcomes.values()) == ["answered"] * 7 + [
        "gathered",
        "opened",
    ]
    # Each node writes the transcript into its own home whenever it saves the state.
    transcripts = [
        (h.state / "conversations" / f"{root.id}.md").read_text() for h in (box_a, box_b)
    ]
    assert any("all answers → @lead" in t for t in transcripts)
    assert not (box_a.state / "conversations" / f"{root.id}.json").exists()  # state: NATS only


def test_only_the_node_that_runs_the_lead_sweeps_its_conversation(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """Every node runs a sweep over the shared conversations; a stalled one past its
    budget is ended by box-a, which runs its lead, and left alone by box-b."""
    members = ["lead", "a"]
    clock = [1_000_000.0]
    sweeps, events = [], []
    for name, actors in (("box-a", {"lead"}), ("box-b", {"a"})):
        home = Home(tmp_path / name)
        coordinator, spool = node(home, nats_home, members)
        served = NodeSpool(spool, home, frozenset(actors))
        sweep = TeamSweep(
            home,
            coordinator.config,
            served,
            events=coordinator.events,
            clock=lambda: clock[0],  # type: ignore[arg-type]
        )
        sweeps.append(sweep)
        events.append(coordinator.events)
    root = message("@crew go", actor="lead")
    assert sweeps[0].coordinator.after_run(root, "lead", result("[@a: work]"), "")
    clock[0] += 1801  # limits.budget_seconds (1800) later, @a never answered
    sweeps[1].tick(clock[0])
    assert sweeps[0].coordinator.store.load(root.id).status == "open"  # type: ignore[union-attr]
    sweeps[0].tick(clock[0])
    state = sweeps[1].coordinator.store.load(root.id)
    assert state is not None and state.status == "limited"
    [notice] = [r for r in map(spool.load_reply, spool.replies("cli")) if r.id == root.id]
    assert "ran longer than 1800 seconds" in notice.text
    ended = [[e for e in log.read() if e.get("event") == "team.limited"] for log in events]
    assert [len(e) for e in ended] == [1, 0]


def test_tinyclaw_trace_on_any_machine_finds_a_conversation_kept_on_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The conversation's state is the shared bucket's, not the lead's node's files:
    trace on another machine reads it there (the timeline is that machine's events)."""
    lead_node, _ = node(Home(tmp_path / "box-a"), nats_home, ["lead", "a"])
    conversation = blank_conversation()
    lead_node.store.change(conversation.id, lambda _: conversation)
    elsewhere = Home(tmp_path / "box-b")
    node(elsewhere, nats_home, ["lead", "a"])

    traced = run_tinyclaw("trace", conversation.id, "--json", home=elsewhere)

    assert traced.returncode == 0, traced.stderr
    found = json.loads(traced.stdout)
    assert (found["type"], found["id"], found["team"]) == ("conversation", conversation.id, "crew")
    assert not (elsewhere.state / "conversations" / f"{conversation.id}.json").exists()
