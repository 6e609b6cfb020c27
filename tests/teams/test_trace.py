"""``tinyclaw trace``: the path a message took, from the state and the event log."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner, Result

from tests.teams.conftest import setup_home, team_config, wait_drained
from tests.worker.conftest import message, reply_for, worker_thread
from tinyclaw.cli.app import app
from tinyclaw.core.home import Home

ACTORS = {"lead": "leads", "a": "does a", "b": "does b"}


def tinyclaw(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_trace_shows_who_got_what_when_and_how_long_each_run_took(home: Home) -> None:
    spool = setup_home(home, team_config(None, ACTORS, {"crew": ["lead", "a", "b"]}))
    with worker_thread(home):
        msg = message("@crew [@a: task one] [@b: task two]")
        spool.put(msg)
        reply_for(home, msg)
        wait_drained(home)
        plain = message("@a just a question")
        spool.put(plain)
        reply_for(home, plain)

    result = tinyclaw("trace", msg.id)
    assert result.exit_code == 0, result.output
    head, *timeline = result.stdout.splitlines()
    assert head.startswith(f"conversation {msg.id} · cli:local · team crew · done · 4 run(s)")
    assert re.search(r" · \$\d+\.\d{4}$", head)
    text = "\n".join(timeline)
    assert 'user → @lead: "[@a: task one] [@b: task two]"' in text
    assert '@lead → @a  [h001, hop 1]: "task one"' in text
    assert "@a → @lead  answer to [h001]" in text
    assert "fan-in → @lead: 2 answer(s) from @a, @b" in text
    assert "@lead → user  final answer" in text
    runs = [line for line in timeline if " ran " in line]
    assert len(runs) == 4 and all(re.search(r"ran \d+\.\d\ds · \$", r) for r in runs)
    assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", line) for line in timeline)
    # Any message id of the conversation finds it too: a handoff, a fan-in, a progress line.
    for ident in (f"{msg.id}.h002", f"{msg.id}.f001", f"{msg.id}.0p0001"):
        assert tinyclaw("trace", ident).stdout.splitlines()[0] == head

    single = tinyclaw("trace", plain.id)
    assert single.exit_code == 0
    assert f"message {plain.id} (not part of a team conversation)" in single.stdout
    assert "routed to @a from cli:local" in single.stdout and "@a ran " in single.stdout

    unknown = tinyclaw("trace", "nope")
    assert unknown.exit_code == 1 and "no conversation or message 'nope'" in unknown.stderr

    as_json = tinyclaw("trace", "--json", f"{msg.id}.h001")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["type"] == "conversation" and data["id"] == msg.id and data["team"] == "crew"
    assert data["status"] == "done" and data["run_count"] == 4 and len(data["runs"]) == 4
    kinds = [e["kind"] for e in data["entries"]]
    assert kinds[0] == "request" and kinds[-1] == "final" and "fanin" in kinds
    handoff = next(e for e in data["entries"] if e["kind"] == "handoff")
    assert handoff["actor"] == "lead" and handoff["to"] == "a" and handoff["hop"] == 1
    run = data["runs"][0]
    assert set(run) == {"id", "actor", "ended_at", "duration", "cost_usd", "ok", "error"}
    assert data["cost_usd"] == round(sum(r["cost_usd"] or 0 for r in data["runs"]), 6)

    single_json = json.loads(tinyclaw("trace", "--json", plain.id).stdout)
    assert single_json["type"] == "message" and single_json["routed"]["actor"] == "a"
    assert single_json["routed"]["chat_id"] == "local" and len(single_json["runs"]) == 1
    assert tinyclaw("trace", "--json", "nope").exit_code == 1


def test_every_team_conversation_has_a_readable_transcript(home: Home) -> None:
    spool = setup_home(home, team_config(None, ACTORS, {"crew": ["lead", "a", "b"]}))
    with worker_thread(home):
        msg = message("@crew [@a: task one] [@zed: who?]")
        spool.put(msg)
        reply_for(home, msg)
        wait_drained(home)
    text = (home.state / "conversations" / f"{msg.id}.md").read_text()
    assert text.startswith(f"# Team conversation {msg.id}\n")
    assert "- status: done · 3 CLI run(s)" in text
    sections = re.findall(r"^## \d\d:\d\d:\d\d · (.*)$", text, re.MULTILINE)
    assert sections == [
        "user → @lead",
        "@lead → @a (task h001, hop 1)",
        "@lead ✗ @zed (task h002 not delivered)",
        "@a → @lead (answer to h001)",
        "all answers → @lead",
        "@lead → user (final answer)",
    ]
    assert "> task one" in text and "@zed is not your teammate" in text
