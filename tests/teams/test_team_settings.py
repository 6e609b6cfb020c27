"""Team settings and the terminal, with ``scripts/fake-cli`` (it answers "echo: <prompt>",
so a tag in the user's text comes back as the leader's handoff)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.teams.conftest import conversation, outgoing, setup_home, team_config, wait_drained
from tests.worker.conftest import (
    REPO,
    message,
    reply_for,
    worker_process,
    worker_thread,
)
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

ACTORS = {"lead": "leads", "a": "does a", "b": "does b"}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("all", ["@lead → @a: task one", "@a → @lead:", "@lead → @b: task two", "@b → @lead:"]),
        ("handoffs", ["@lead → @a: task one", "@lead → @b: task two"]),
        ("off", []),
    ],
)
def test_what_the_user_sees_while_the_team_works_is_configurable(
    home: Home, setting: str, expected: list[str]
) -> None:
    spool = setup_home(
        home,
        team_config(
            None, ACTORS, {"crew": ["lead", "a", "b"]}, team_extra={"crew": {"progress": setting}}
        ),
    )
    with worker_thread(home):
        msg = message("@crew [@a: task one] [@b: task two]")
        spool.put(msg)
        final = reply_for(home, msg)
        wait_drained(home)
    assert final.kind == "reply" and final.text.startswith("echo: [Answers from your teammates]")
    progress = "\n".join(r.text for r in outgoing(home) if r.kind == "progress")
    for line in expected:
        assert line in progress
    if setting == "off":
        assert progress == ""
    if setting == "handoffs":
        assert "→ @lead" not in progress


def test_nested_tags_make_a_chain_and_the_run_limit_stops_a_long_one(home: Home) -> None:
    spool = setup_home(
        home,
        team_config(
            None, ACTORS, {"crew": ["lead", "a", "b"]}, limits={"max_runs": 3, "max_hops": 10}
        ),
    )
    with worker_thread(home):
        msg = message("@crew [@a: go on [@b: and on [@a: and on]]]")
        spool.put(msg)
        final = reply_for(home, msg)
        wait_drained(home)
    assert final.kind == "error"
    assert "it used 3 CLI runs (limits.max_runs)" in final.text
    state = conversation(home, msg)
    assert [(b.from_actor, b.to_actor) for b in state.branches.values()] == [
        ("lead", "a"),
        ("a", "b"),
        ("b", "a"),
    ]
    assert state.runs == 3 and state.status == "limited"


def test_tinyclaw_send_to_a_team_prints_the_leaders_final_answer(home: Home) -> None:
    setup_home(home, team_config(None, ACTORS, {"crew": ["lead", "a", "b"]}))
    with worker_process(home):
        run = subprocess.run(
            [sys.executable, "-m", "tinyclaw", "send", "--actor", "crew", "[@a: ping]"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert run.returncode == 0, run.stderr
    # Progress first (who works on what), then the leader's final answer.
    progress, _, final = run.stdout.partition("echo: [Answers from your teammates]")
    assert "@lead → @a: ping" in progress
    assert final and "## @a, on: `ping`" in final
    spool = Spool(home)
    assert spool.list_box(spool.outgoing("cli")) == []  # every reply was shown and taken
