"""A worker node on NATS runs its own actors' schedules, heartbeats and outboxes.

Two machines (two homes with the same tinyclaw.toml), each a node; the queue in a
real ``nats-server``. Each node fires the heartbeats and jobs of its own actors only,
and a firing is claimed in the spool's ``schedule`` bucket first, so a second worker
that also believes it owns an actor (the actor moved, or a node's worker was started
on a second machine) does not fire a slot again. An actor's outbox works on the node
that runs it."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.support.commands import events
from tests.support.waiting import wait_for
from tests.support.worker import (
    fake_cli_config,
    start_worker_process,
    worker_process,
    write_config,
)
from tests.worker.test_nats_worker import answered
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.schedule import Firings, Job, JobStore, SharedHeartbeatLog
from tinyclaw.schedule.scheduler import DueRun
from tinyclaw.spool.jetstream import JetStreamSpool

OPS = "telegram:1001"


def machine(root: Path, nats: NatsHome, nodes: str) -> Home:
    """One machine's home: @assistant and @coder, each with an hourly heartbeat and
    a checklist, both answering to the ops chat; the queue on NATS."""
    home = Home(root)
    home.ensure()
    extra = (
        '[channels.telegram]\nallow_from = ["1001"]\n\n'
        "[spool]\n"
        'backend = "nats"\n'
        f"servers = {json.dumps(nats.urls)}\n"
        f'stream_prefix = "{nats.prefix}"\n\n'
        f"{nodes}\n"
        '[actors.assistant.heartbeat]\nevery = "1h"\n\n'
        '[actors.coder.heartbeat]\nevery = "1h"\n'
    )
    actors: dict[str, dict[str, object]] = {
        "assistant": {"owner_chat": OPS},
        "coder": {"owner_chat": OPS},
    }
    write_config(home, fake_cli_config(actors, extra=extra))
    for actor in actors:
        checklist = home.actor_dir(actor) / "HEARTBEAT.md"
        checklist.parent.mkdir(parents=True, exist_ok=True)
        checklist.write_text(f"- anything new for {actor}?\n", encoding="utf-8")
    return home


ONE_NODE = '[nodes.box-a]\nactors = ["assistant", "coder"]\n'
TWO_NODES = '[nodes.box-a]\nactors = ["assistant"]\n\n[nodes.box-b]\nactors = ["coder"]\n'


def two_machines(tmp_path: Path, nats: NatsHome) -> tuple[Home, Home]:
    """box-a runs @assistant, box-b runs @coder."""
    return (
        machine(tmp_path / "box-a", nats, TWO_NODES),
        machine(tmp_path / "box-b", nats, TWO_NODES),
    )


def runs_of(spool: JetStreamSpool, kind: str, actor: str) -> list[Reply]:
    return [r for r in answered(spool, "telegram") if r.in_reply_to.startswith(f"{kind}-{actor}-")]


def queued_by(home: Home) -> list[str]:
    return sorted(e["actor"] for e in events(home, "schedule.queued"))


def test_each_node_fires_the_heartbeats_of_its_own_actors_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    box_a, box_b = two_machines(tmp_path, nats_home)
    spool = nats_home.open()
    with worker_process(box_a, node="box-a"), worker_process(box_b, node="box-b"):
        wait_for(lambda: runs_of(spool, "heartbeat", "assistant"), what="@assistant's heartbeat")
        wait_for(lambda: runs_of(spool, "heartbeat", "coder"), what="@coder's heartbeat")
    assert queued_by(box_a) == ["assistant"] and queued_by(box_b) == ["coder"]
    assert len(runs_of(spool, "heartbeat", "assistant")) == 1
    assert len(runs_of(spool, "heartbeat", "coder")) == 1
    [beat] = runs_of(spool, "heartbeat", "coder")
    assert "anything new for coder?" in beat.text and beat.chat_id == "1001"


def add_hourly_job(home: Home, next_run: datetime) -> None:
    created = next_run - timedelta(days=1)
    JobStore.for_home(home).add(
        Job(
            id="report",
            actor="assistant",
            kind="every",
            expr="1h",
            to=OPS,
            prompt="the hourly report",
            created_at=created,
            next_run=next_run,
        )
    )


def test_a_second_worker_owning_the_same_actor_fires_nothing_that_already_fired(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """box-a's worker runs on one machine, then moves to a second one (its home a
    copy from an hour before: its job file is one slot behind). The second fires
    neither the heartbeat nor the job's past slot again, and catches its file up."""
    first = machine(tmp_path / "first", nats_home, ONE_NODE)
    second = machine(tmp_path / "second", nats_home, ONE_NODE)
    now = datetime.now(UTC).replace(microsecond=0)
    add_hourly_job(first, now - timedelta(minutes=1))
    add_hourly_job(second, now - timedelta(minutes=61))
    spool = nats_home.open()
    with worker_process(first, node="box-a"):
        wait_for(lambda: runs_of(spool, "job", "report"), what="the job's run")
        wait_for(lambda: runs_of(spool, "heartbeat", "assistant"), what="the heartbeat")
        wait_for(lambda: runs_of(spool, "heartbeat", "coder"), what="the other heartbeat")
    with worker_process(second, node="box-a"):  # takes the node's lease over
        wait_for(lambda: events(second, "schedule.skipped"), what="the second worker's decision")
    assert len(runs_of(spool, "job", "report")) == 1
    assert len(runs_of(spool, "heartbeat", "assistant")) == 1
    assert len(runs_of(spool, "heartbeat", "coder")) == 1
    assert queued_by(second) == []
    [skipped] = events(second, "schedule.skipped")
    assert skipped["key"] == "report"
    caught_up = JobStore.for_home(second).get("report")
    assert caught_up.next_run is not None and caught_up.next_run > now


def test_actors_on_two_nodes_at_once_fire_each_slot_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The actors move from box-a to box-b, and the two machines' tinyclaw.toml are out
    of step for a while: both nodes run them, and see the same job and heartbeats due
    at the same moment. For each run one of them wins the claim and queues it, the
    other skips it."""
    first = machine(tmp_path / "first", nats_home, ONE_NODE)
    moved = '[nodes.box-a]\nactors = []\n\n[nodes.box-b]\nactors = ["assistant", "coder"]\n'
    second = machine(tmp_path / "second", nats_home, moved)
    slot = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    add_hourly_job(first, slot)
    add_hourly_job(second, slot)
    spool = nats_home.open()

    def decided() -> list[str]:
        return [e["key"] for home in (first, second) for e in events(home, "schedule.skipped")]

    with worker_process(first, node="box-a"), worker_process(second, node="box-b"):
        wait_for(lambda: "report" in decided(), what="the job skipped by the loser")
        wait_for(lambda: runs_of(spool, "job", "report"), what="the job's run")
        wait_for(lambda: runs_of(spool, "heartbeat", "assistant"), what="the heartbeat")
        wait_for(lambda: runs_of(spool, "heartbeat", "coder"), what="the other heartbeat")
    assert sorted(queued_by(first) + queued_by(second)) == ["assistant", "assistant", "coder"]
    assert len(runs_of(spool, "job", "report")) == 1
    assert len(runs_of(spool, "heartbeat", "assistant")) == 1
    assert len(runs_of(spool, "heartbeat", "coder")) == 1


def test_a_node_killed_between_queueing_a_run_and_marking_it_fires_it_once(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    """The claim is this machine's: restarted, the node takes it back at once and
    queues the run again, which the queue's dedupe key drops."""
    home = machine(tmp_path / "box-a", nats_home, ONE_NODE)
    for actor in ("assistant", "coder"):
        (home.actor_dir(actor) / "HEARTBEAT.md").unlink()  # the job alone
    add_hourly_job(home, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    crashed = start_worker_process(home, node="box-a", TINYCLAW_FAILPOINT="schedule.queued")
    assert crashed.wait(60) == -signal.SIGKILL, crashed.stderr.read()  # type: ignore[union-attr]
    crashed.stderr.close()  # type: ignore[union-attr]
    spool = nats_home.open()
    with worker_process(home, node="box-a"):
        wait_for(lambda: runs_of(spool, "job", "report"), what="the job's run")
        wait_for(lambda: JobStore.for_home(home).get("report").runs, what="the job marked")
    assert len(runs_of(spool, "job", "report")) == 1
    assert JobStore.for_home(home).get("report").runs == 1
    log = (home.logs / "worker.log").read_text(encoding="utf-8")
    assert "was already queued before a restart" in log


def due(key: str, slot: datetime, kind: str = "job") -> DueRun:
    return DueRun(
        key=key,
        kind="heartbeat" if kind == "heartbeat" else "job",
        actor="assistant",
        prompt="p",
        to=OPS,
        scheduled_for=slot,
        conversation="c",
    )


def test_two_workers_claiming_one_slot_fire_it_once(nats_home: NatsHome) -> None:
    """The claim in the schedule bucket: the first create wins; the other waits
    while the winner queues, then finds the slot fired; a claim whose worker died
    before it queued is taken over once it runs out."""
    bucket = nats_home.open().kv("schedule")
    here, there = Firings(bucket, "machine-1:/home"), Firings(bucket, "machine-2:/home")
    slot = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    now = slot.timestamp()
    run = due("report", slot)
    assert here.claim(run, now).action == "fire"
    assert there.claim(run, now).action == "wait"
    here.fired(run, now + 1)
    verdict = there.claim(run, now + 2)
    assert (verdict.action, verdict.at) == ("fired", slot + timedelta(seconds=1))
    assert there.claim(due("report", slot - timedelta(hours=1)), now).action == "fired"

    later = due("report", slot + timedelta(hours=1))
    assert there.claim(later, now + 3600).action == "fire"  # then machine-2 dies
    assert here.claim(later, now + 3610).action == "wait"
    assert here.claim(later, now + 3600 + 61).action == "fire"  # its claim ran out
    here.fired(later, now + 3662)
    assert bucket.keys() == ["last.job.report", Firings.claim_key(later.run_id)]


def test_two_nodes_planning_a_heartbeat_at_once_agree_on_its_slot(nats_home: NatsHome) -> None:
    bucket = nats_home.open().kv("schedule")
    one, other = SharedHeartbeatLog(bucket), SharedHeartbeatLog(bucket)
    mine = datetime(2026, 6, 1, 9, 0, 0, tzinfo=UTC)
    assert one.plan("assistant", mine) == mine
    assert other.plan("assistant", mine + timedelta(seconds=3)) == mine
    other.record("assistant", mine + timedelta(seconds=5))
    assert one.last_run("assistant") == mine + timedelta(seconds=5)
    assert one.planned("assistant") is None


def test_an_outbox_file_of_an_actor_on_node_b_is_delivered_through_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    box_a, box_b = two_machines(tmp_path, nats_home)
    spool = nats_home.open()
    outbox_b = box_b.actor_dir("coder") / "workspace" / "outbox"
    outbox_b.mkdir(parents=True, exist_ok=True)
    (outbox_b / "build.json").write_text(
        json.dumps({"to": OPS, "text": "The nightly build failed."}), encoding="utf-8"
    )
    (outbox_b / "stranger.json").write_text(
        json.dumps({"to": "telegram:666", "text": "hello stranger"}), encoding="utf-8"
    )
    # box-a has a folder for @coder too, but does not run @coder: nothing is sent.
    outbox_a = box_a.actor_dir("coder") / "workspace" / "outbox"
    outbox_a.mkdir(parents=True, exist_ok=True)
    (outbox_a / "wrong-machine.json").write_text(
        json.dumps({"to": OPS, "text": "not from here"}), encoding="utf-8"
    )
    with worker_process(box_a, node="box-a"), worker_process(box_b, node="box-b"):
        [note] = wait_for(
            lambda: [r for r in answered(spool, "telegram") if r.kind == "notice"],
            what="@coder's note on NATS",
        )
        failed = wait_for(lambda: list(spool.failures()), what="the stranger's note refused")
        wait_for(lambda: not any(outbox_b.iterdir()), what="box-b's outbox emptied", timeout=30)
    assert (note.text, note.actor, note.chat_id) == ("The nightly build failed.", "coder", "1001")
    [(key, reason, data)] = failed
    assert key.startswith("outbox-coder-") and key.endswith("-stranger")
    assert "outbox of @coder: stranger.json" in reason and "telegram:666" in reason
    assert json.loads(data)["text"] == "hello stranger"
    assert [p.name for p in outbox_a.iterdir()] == ["wrong-machine.json"]
    assert [r.kind for r in answered(spool, "telegram")].count("notice") == 1
