"""Worker nodes on the NATS spool: the real ``tinyclaw worker --node NAME`` process,
its actors running the fake CLI, the queue in a real ``nats-server``. A message queued
on NATS is answered once, by the node that runs its actor, and the reply waits on
NATS for the listener; a node killed mid-run answers once after its restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.support.messages import message
from tests.support.waiting import wait_for
from tests.support.worker import (
    fake_cli_config,
    start_worker_process,
    worker_process,
    write_config,
)
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.spool.jetstream import JetStreamSpool


def node_home(root: Path, nats: NatsHome, env: dict[str, str] | None = None) -> Home:
    """One machine's home: two actors on two nodes, the queue on NATS."""
    home = Home(root)
    home.ensure()
    extra = (
        "[spool]\n"
        'backend = "nats"\n'
        f"servers = {json.dumps(nats.urls)}\n"
        f'stream_prefix = "{nats.prefix}"\n'
        "claim_ttl = 60\n\n"
        '[nodes.box-a]\nactors = ["assistant"]\n\n'
        '[nodes.box-b]\nactors = ["coder"]\n'
    )
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


def test_each_node_answers_only_its_own_actors(tmp_path: Path, nats_home: NatsHome) -> None:
    box_a = node_home(tmp_path / "box-a", nats_home)
    box_b = node_home(tmp_path / "box-b", nats_home)
    spool = nats_home.open()
    for_coder = message("@coder write a test")
    with worker_process(box_a, node="box-a"):
        spool.put(for_coder)
        # box-a routes it (any node may), but leaves it in @coder's inbox.
        wait_for(lambda: list(spool.pending("coder")), what="the message in @coder's inbox")
        for_assistant = message("@assistant and you?")
        spool.put(for_assistant)
        wait_for(lambda: answered(spool), what="@assistant's reply")
        assert [r.in_reply_to for r in answered(spool)] == [for_assistant.id]
        with worker_process(box_b, node="box-b"):
            wait_for(lambda: len(answered(spool)) == 2, what="@coder's reply from box-b")
    assert sorted(r.in_reply_to for r in answered(spool)) == sorted(
        [for_coder.id, for_assistant.id]
    )
    runs = (box_b.logs / "events.jsonl").read_text(encoding="utf-8")
    assert for_coder.id in runs and for_assistant.id not in runs


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
