"""CLI sessions on a home whose queue is on NATS: they live in the bucket
``PREFIX_sessions`` (one key per actor), so an actor moved to another worker node
(its workspace on shared storage) resumes its conversations there."""

from __future__ import annotations

import json
from pathlib import Path

from tests.spool.nats_backend import NatsHome
from tests.support.commands import run_tinyclaw
from tests.support.messages import message
from tests.support.waiting import wait_for
from tests.support.worker import fake_cli_config, worker_process, write_config
from tests.worker.test_nats_worker import answered
from tinyclaw.config import load_config
from tinyclaw.core.home import Home
from tinyclaw.runners import (
    KVSessionStore,
    SessionStore,
    copy_sessions,
    home_sessions,
    open_session_store,
)


def nodes_config(nats: NatsHome, box_a: list[str], box_b: list[str]) -> str:
    """The same tinyclaw.toml on every machine: which node runs which actor."""
    return fake_cli_config(
        extra=(
            "[spool]\n"
            'backend = "nats"\n'
            f"servers = {json.dumps(nats.urls)}\n"
            f'stream_prefix = "{nats.prefix}"\n\n'
            f"[nodes.box-a]\nactors = {json.dumps(box_a)}\n\n"
            f"[nodes.box-b]\nactors = {json.dumps(box_b)}\n"
        )
    )


def machine(root: Path, config: str) -> Home:
    home = Home(root)
    home.ensure()
    write_config(home, config)
    return home


def test_an_actor_moved_to_another_node_resumes_its_session_there(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    before = nodes_config(nats_home, ["assistant", "coder"], [])
    box_a, box_b = machine(tmp_path / "box-a", before), machine(tmp_path / "box-b", before)
    spool = nats_home.open()
    sessions = KVSessionStore(spool.kv("sessions"))

    with worker_process(box_a, node="box-a"):
        spool.put(message("@assistant remember the number 42"))
        wait_for(lambda: answered(spool), what="box-a's answer")
    [(conversation, first)] = sessions.load_state("assistant").sessions.items()

    # @assistant moves to box-b: the same tinyclaw.toml, changed on both machines.
    after = nodes_config(nats_home, ["coder"], ["assistant"])
    write_config(box_a, after)
    write_config(box_b, after)
    with worker_process(box_b, node="box-b"):
        spool.put(message("@assistant which number?"))
        wait_for(lambda: len(answered(spool)) == 2, what="box-b's answer")

    # box-b resumed box-a's session (the fake CLI keeps the id it is resumed with,
    # and makes a new one otherwise), and neither machine wrote a session file.
    assert sessions.load_state("assistant").sessions == {conversation: first}
    for home in (box_a, box_b):
        assert not (home.actors / "assistant" / "sessions.json").exists()


def test_tinyclaw_reset_on_any_machine_forgets_the_session_on_nats(
    tmp_path: Path, nats_home: NatsHome
) -> None:
    config = nodes_config(nats_home, ["assistant", "coder"], [])
    box_a, box_b = machine(tmp_path / "box-a", config), machine(tmp_path / "box-b", config)
    on_a = open_session_store(box_a, load_config(box_a))
    assert isinstance(on_a, KVSessionStore)
    lease = on_a.lease("assistant", "telegram:1")  # a run starts on box-a...
    result = run_tinyclaw("reset", "assistant", home=box_b)  # ...the owner resets on box-b
    assert result.returncode == 0, result.stderr
    # The run's session is not brought back by the run that started before the reset.
    assert on_a.set("assistant", "telegram:1", "s-old", lease) is False
    assert on_a.get("assistant", "telegram:1") is None
    assert on_a.set("assistant", "telegram:1", "s-new") is True
    on_b = open_session_store(box_b, load_config(box_b))
    assert on_b.get("assistant", "telegram:1") == "s-new"


def test_sessions_copy_from_files_to_nats_and_back(
    tmp_path: Path, home: Home, nats_home: NatsHome
) -> None:
    on_files = home_sessions(home)
    on_files.set("assistant", "telegram:1", "s-1")
    on_files.set("coder", "cli:local", "s-2")
    on_files.reset("coder", "old-chat")
    on_nats = KVSessionStore(nats_home.open().kv("sessions"))
    assert copy_sessions(on_files, on_nats) == 2
    assert on_nats.get("assistant", "telegram:1") == "s-1"
    assert on_nats.load_state("coder") == on_files.load_state("coder")  # generations too

    back = SessionStore(tmp_path / "back" / "actors")
    assert copy_sessions(on_nats, back) == 2
    assert back.get("coder", "cli:local") == "s-2"
    assert back.actors() == ["assistant", "coder"]


def test_a_damaged_session_document_on_nats_starts_the_conversations_fresh(
    nats_home: NatsHome,
) -> None:
    kv = nats_home.open().kv("sessions")
    kv.put("assistant", b'{"sessions": ["not", "a", "map"')
    sessions = KVSessionStore(kv)
    assert sessions.get("assistant", "telegram:1") is None  # answered, not failed
    assert sessions.set("assistant", "telegram:1", "s-1") is True
    assert json.loads(kv.get("assistant") or b"")["sessions"] == {"telegram:1": "s-1"}
