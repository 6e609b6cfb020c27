"""The coordinator's rules, driven directly with real results (no CLI): replays change
nothing, simultaneous answers fan in once, limits end a conversation, and only
teammates are addressed."""

from __future__ import annotations

import json
import threading

import pytest

from tests.support.messages import message
from tests.support.teams import team_config
from tests.support.worker import write_config
from tinyclaw.config import load_config
from tinyclaw.core.errors import ConversationError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, load_inbound
from tinyclaw.runners import RunResult
from tinyclaw.spool import Spool
from tinyclaw.teams.conversations import ConversationStore
from tinyclaw.teams.coordinator import Coordinator


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def result(text: str, ok: bool = True) -> RunResult:
    return RunResult(text=text, session_id=None, ok=ok, exit_code=0, duration_s=0.5)


def make(
    home: Home, members: list[str], clock: Clock | None = None, **limits: object
) -> Coordinator:
    actors = {name: f"{name} things" for name in [*members, "loner"]}
    write_config(home, team_config(None, actors, {"crew": members}, limits=limits or None))
    spool = Spool(home, durable=False)
    events = EventLog(home.logs / "events.jsonl")
    return Coordinator(
        home, load_config(home), spool, events=events, clock=clock or Clock(), durable=False
    )


def inbox(coordinator: Coordinator, actor: str) -> list[Inbound]:
    box = coordinator.spool.inbox(actor)
    return [load_inbound(p.read_bytes()) for p in Spool.list_box(box)]


def take(coordinator: Coordinator, actor: str) -> Inbound:
    """The oldest message of ``actor``'s inbox, removed as the worker would."""
    path = Spool.list_box(coordinator.spool.inbox(actor))[0]
    found = load_inbound(path.read_bytes())
    path.unlink()
    return found


def test_simultaneous_answers_fan_in_exactly_once(home: Home) -> None:
    members = ["lead", *(f"m{i}" for i in range(8))]
    coordinator = make(home, members)
    root = message("@crew go", actor="lead")
    tags = " ".join(f"[@m{i}: part {i}]" for i in range(8))
    assert coordinator.after_run(root, "lead", result(tags), "")
    tasks = {f"m{i}": take(coordinator, f"m{i}") for i in range(8)}
    barrier = threading.Barrier(8)

    def answer(actor: str) -> None:
        barrier.wait()
        coordinator.after_run(tasks[actor], actor, result(f"answer of {actor}"), "")

    threads = [threading.Thread(target=answer, args=(a,)) for a in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    (fanin,) = inbox(coordinator, "lead")
    assert fanin.kind == "fanin" and fanin.handoff is not None and fanin.handoff.branch is None
    for i in range(8):
        assert fanin.text.count(f"answer of m{i}") == 1
    state = coordinator.store.load(root.id)
    assert state is not None
    assert sorted(o.kind for o in state.outcomes.values()) == ["answered"] * 7 + [
        "gathered",
        "opened",
    ]


def test_a_replayed_result_changes_nothing_and_writes_the_same_files(home: Home) -> None:
    coordinator = make(home, ["lead", "a", "b"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: one] [@b: two]"), "")
    first = coordinator.store.load(root.id)
    files = sorted(p.name for a in ("a", "b") for p in Spool.list_box(coordinator.spool.inbox(a)))
    # The worker died before completing the message: the same result is applied again.
    assert coordinator.before_run(root, "lead")  # settled, no second run
    coordinator.after_run(root, "lead", result("[@a: other] [@b: words]"), "")
    again = sorted(p.name for a in ("a", "b") for p in Spool.list_box(coordinator.spool.inbox(a)))
    assert again == files == [f"{root.id}.h001.json", f"{root.id}.h002.json"]
    assert take(coordinator, "a").text == "one"
    assert coordinator.store.load(root.id) == first


def test_a_handoff_file_written_again_after_it_ran_is_not_run_twice(home: Home) -> None:
    coordinator = make(home, ["lead", "a", "b"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: one] [@b: two]"), "")
    task = take(coordinator, "a")
    assert not coordinator.before_run(task, "a")
    coordinator.after_run(task, "a", result("done one"), "")
    # A stale copy of the same handoff shows up (e.g. rewritten during a crash replay).
    assert coordinator.before_run(task, "a")
    coordinator.after_run(task, "a", result("a different answer"), "")
    state = coordinator.store.load(root.id)
    assert state is not None and state.branches["h001"].answer == "done one"
    assert state.runs == 2


def test_the_run_limit_ends_the_conversation_with_what_was_done(home: Home) -> None:
    coordinator = make(home, ["lead", "a", "b"], max_runs=2)
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: one] [@b: two]"), "")
    task_a, task_b = take(coordinator, "a"), take(coordinator, "b")
    assert not coordinator.before_run(task_a, "a")  # run 2 of 2
    assert coordinator.before_run(task_b, "b")  # would be run 3: the conversation ends
    final = json.loads((coordinator.spool.outgoing("cli") / f"{root.id}.json").read_text())
    assert final["kind"] == "error"
    assert "it used 2 CLI runs (limits.max_runs)" in final["text"]
    assert "@b (asked by @lead): two\n  → no answer yet" in final["text"]
    # The run already going finishes into a closed conversation: noted, not sent.
    coordinator.after_run(task_a, "a", result("late answer"), "")
    state = coordinator.store.load(root.id)
    assert state is not None and state.status == "limited"
    assert state.outcomes[task_a.id].kind == "late"
    assert inbox(coordinator, "lead") == []


def test_the_wall_clock_budget_ends_the_conversation(home: Home) -> None:
    clock = Clock()
    coordinator = make(home, ["lead", "a"], clock, budget_seconds=60)
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: slow work]"), "")
    task = take(coordinator, "a")
    clock.now += 61
    assert coordinator.before_run(task, "a")
    final = json.loads((coordinator.spool.outgoing("cli") / f"{root.id}.json").read_text())
    assert "it ran longer than 60 seconds (limits.budget_seconds)" in final["text"]


def test_a_cancelled_member_ends_the_conversation(home: Home) -> None:
    coordinator = make(home, ["lead", "a"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: work]"), "")
    task = take(coordinator, "a")
    coordinator.after_run(task, "a", result("killed", ok=False), "user")
    final = json.loads((coordinator.spool.outgoing("cli") / f"{root.id}.json").read_text())
    assert final["kind"] == "notice" and final["text"].startswith("Stopped @a as asked")


def test_a_failed_member_run_is_its_answer(home: Home) -> None:
    coordinator = make(home, ["lead", "a"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: work]"), "")
    task = take(coordinator, "a")
    coordinator.after_run(task, "a", result("The API is overloaded.", ok=False), "")
    (fanin,) = inbox(coordinator, "lead")
    assert "(@a could not answer: The API is overloaded.)" in fanin.text


def test_replies_of_actors_outside_any_team_are_not_read_for_tags(home: Home) -> None:
    coordinator = make(home, ["lead", "a"])
    plain = message("@loner hi", actor="loner")
    assert not coordinator.after_run(plain, "loner", result("[@a: hello]"), "")
    assert not coordinator.store.exists(plain.id)
    # Nor is a reply without tags, even from a team member.
    chat = message("@crew hi", actor="lead")
    assert not coordinator.after_run(chat, "lead", result("hello"), "")


def test_a_handoff_to_a_team_member_from_an_outsider_is_never_delivered(home: Home) -> None:
    coordinator = make(home, ["lead", "a"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@loner: psst] [@a: fine]"), "")
    assert inbox(coordinator, "loner") == []
    assert [m.text for m in inbox(coordinator, "a")] == ["fine"]


def test_unreadable_state_is_an_error_not_a_guess(home: Home) -> None:
    coordinator = make(home, ["lead", "a"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: work]"), "")
    task = take(coordinator, "a")
    coordinator.store.path(root.id).write_text("{torn")
    with pytest.raises(ConversationError):
        coordinator.before_run(task, "a")


def test_the_listener_sends_every_progress_line_before_the_final_answer(home: Home) -> None:
    """Listeners send a folder in name order; after a backlog (a listener that was down)
    the user must still read the progress first and the final answer last."""
    coordinator = make(home, ["lead", "a", "b"])
    root = message("@crew go", actor="lead")
    coordinator.after_run(root, "lead", result("[@a: one] [@b: two]"), "")
    for actor in ("a", "b"):
        coordinator.after_run(take(coordinator, actor), actor, result(f"{actor} done"), "")
    coordinator.after_run(take(coordinator, "lead"), "lead", result("all done"), "")

    waiting = Spool.list_box(coordinator.spool.outgoing("cli"))
    kinds = [json.loads(p.read_bytes())["kind"] for p in waiting]
    assert kinds == ["progress", "progress", "progress", "reply"]
    assert waiting[-1].name == f"{root.id}.json"


class CountedStore(ConversationStore):
    """The home's conversation files, counting the looks for a conversation (each
    one a request on NATS)."""

    looks = 0

    def exists(self, conversation_id: str) -> bool:
        self.looks += 1
        return super().exists(conversation_id)


def test_an_ordinary_message_is_looked_up_once_per_run(home: Home) -> None:
    """A message outside any conversation is asked about before its run; after the
    run it is known to be outside still (only its own run opens one), and a run
    that opens a conversation still opens it."""
    actors = {name: f"{name} things" for name in ["lead", "a", "b", "loner"]}
    write_config(home, team_config(None, actors, {"crew": ["lead", "a", "b"]}))
    store = CountedStore(home.state / "conversations", durable=False)
    coordinator = Coordinator(
        home,
        load_config(home),
        Spool(home, durable=False),
        events=EventLog(home.logs / "events.jsonl"),
        clock=Clock(),
        durable=False,
        store=store,
    )
    plain = message("@loner hello")
    assert not coordinator.before_run(plain, "loner")
    assert not coordinator.after_run(plain, "loner", result("hi"), "")
    assert store.looks == 1
    root = message("@lead split it")
    assert not coordinator.before_run(root, "lead")
    assert coordinator.after_run(root, "lead", result("[@a: one] [@b: two]"), "")
    assert store.exists(root.id)
    assert len(inbox(coordinator, "a")) == len(inbox(coordinator, "b")) == 1
