"""The actor window's logic without tmux: what a typed line becomes, and how the
window reads the live file, the event log and the operator's replies."""

from __future__ import annotations

import json
from io import StringIO

from tests.launcher.conftest import write_config
from tinyclaw.config import load_config
from tinyclaw.events import EventLog
from tinyclaw.home import Home
from tinyclaw.launcher.watch import ActorWatch
from tinyclaw.live import live_path
from tinyclaw.messages import Reply, load_inbound
from tinyclaw.spool import Spool


def _watch(home: Home, actor: str = "coder") -> tuple[ActorWatch, StringIO]:
    write_config(home)
    out = StringIO()
    return ActorWatch(home, load_config(home), actor, out=out, color=False, user="ada"), out


def test_a_typed_line_becomes_an_operator_message_for_that_actor(home: Home) -> None:
    watch, out = _watch(home)

    sent = watch.send("look at the flaky test")

    assert sent is not None
    queued = Spool.list_box(Spool(home).incoming)
    assert [p.stem for p in queued] == [sent.id]
    message = load_inbound(queued[0].read_bytes())
    assert (message.kind, message.channel, message.chat_id, message.actor) == (
        "operator",
        "operator",
        "coder",
        "coder",
    )
    assert message.sender.name == "ada"
    assert "you → @coder: look at the flaky test" in out.getvalue()


def test_a_slash_line_is_a_command_for_the_operator_chat(home: Home) -> None:
    watch, _ = _watch(home)
    sent = watch.send("/status")
    assert sent is not None and sent.kind == "command" and sent.actor is None


def test_a_line_that_cannot_be_a_message_is_refused_in_the_window(home: Home) -> None:
    watch, out = _watch(home)
    assert watch.send("bad\x00byte") is None
    assert "not sent" in out.getvalue()
    assert not Spool.list_box(Spool(home).incoming)


def test_replies_for_this_actor_are_shown_and_filed_others_are_left(home: Home) -> None:
    watch, _ = _watch(home)
    spool = Spool(home)
    for actor in ("coder", "reviewer"):
        spool.put_reply(
            Reply(
                id=f"r-{actor}",
                in_reply_to=f"r-{actor}",
                channel="operator",
                chat_id=actor,
                text=f"done, says {actor}",
                actor=actor,
            )
        )

    lines = watch.poll()

    assert "@coder → you" in "\n".join(lines) and "done, says coder" in "\n".join(lines)
    assert "reviewer" not in "\n".join(lines)
    assert [p.stem for p in Spool.list_box(spool.sent("operator"))] == ["r-coder"]
    assert [p.stem for p in Spool.list_box(spool.outgoing("operator"))] == ["r-reviewer"]


def test_progress_and_run_boundaries_come_out_in_time_order(home: Home) -> None:
    watch, _ = _watch(home)
    events = EventLog(home.logs / "events.jsonl", clock=lambda: 100.0)
    events.emit("worker.start")
    assert watch.poll() == []  # the window opens; from here on everything is new
    path = live_path(home, "coder")
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {"ts": 100.1, "kind": "task.start", "id": "m1", "text": "add a test", "channel": "cli"},
        {"ts": 100.2, "kind": "command", "text": "pytest -q", "data": {}},
        {"ts": 100.3, "kind": "text", "text": "All green.", "data": {}},
        {"ts": 100.4, "kind": "result", "text": "All green.", "data": {"cost_usd": 0.01}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    events.emit("run.start", id="m1", actor="coder")
    EventLog(home.logs / "events.jsonl", clock=lambda: 100.5).emit(
        "run.end", id="m1", actor="coder", ok=True, duration=0.4, cost=0.01
    )
    EventLog(home.logs / "events.jsonl").emit("run.end", id="x", actor="reviewer", ok=True)

    text = "\n".join(watch.poll())

    order = [
        "took m1",
        "add a test",
        "pytest -q",
        "All green.",
        "answer ($0.0100)",
        "done in 0.4 s",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions), text
    assert text.count("took m1") == 1
    assert text.count("All green.") == 1  # the answer repeats the last message: said once
    assert "reviewer" not in text


def test_a_message_refused_by_a_spend_limit_shows_in_the_actors_window(home: Home) -> None:
    watch, _ = _watch(home)
    events = EventLog(home.logs / "events.jsonl")
    events.emit("worker.start")
    assert watch.poll() == []
    events.emit(
        "spend.limit", id="m7", actor="coder", limit="actor:coder:day", max_usd=1.0, spent=1.25
    )

    text = "\n".join(watch.poll())

    assert "not run: m7, limit actor:coder:day reached ($1.2500 spent)" in text
