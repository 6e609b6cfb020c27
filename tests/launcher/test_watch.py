"""The actor window's logic without tmux: what a typed line becomes, and how the
window reads the live file, the event log and the operator's replies."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from tests.launcher.conftest import write_config
from tinyclaw.config import load_config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import (
    note_conversation,
    pending_steers,
    put_approval,
    read_answer,
    read_steer,
)
from tinyclaw.core.messages import Reply, load_inbound
from tinyclaw.launcher.watch import ActorWatch
from tinyclaw.runners.live_log import live_path
from tinyclaw.spool import Spool


def _watch(home: Home, actor: str = "coder") -> tuple[ActorWatch, StringIO]:
    write_config(home)
    out = StringIO()
    return ActorWatch(home, load_config(home), actor, out=out, color=False, user="ada"), out


def test_a_typed_line_becomes_a_steering_line_for_that_actor(home: Home) -> None:
    watch, out = _watch(home)

    sent = watch.send("look at the flaky test")

    (path,) = pending_steers(home, "coder")
    assert path.stem == sent
    line = read_steer(path)
    assert (line.text, line.by, line.conversation) == ("look at the flaky test", "ada", None)
    assert not Spool.list_box(Spool(home).incoming)  # not a side chat queued behind the run
    assert "you → @coder: look at the flaky test" in out.getvalue()
    assert "steering (operator:coder)" in out.getvalue()  # no conversation yet: the side chat


def test_the_window_says_where_lines_go_and_a_prefix_picks_another_conversation(
    home: Home,
) -> None:
    watch, out = _watch(home)
    note_conversation(home, "coder", {"key": "cli:old", "channel": "cli", "chat_id": "old"})
    note_conversation(
        home,
        "coder",
        {"key": "telegram:42", "channel": "telegram", "chat_id": "42", "sender": "Bo"},
    )

    watch.emit(watch.poll())
    shown = out.getvalue()
    assert "lines go to telegram:42; #1 telegram:42 (Bo), #2 cli:old; #0 side chat" in shown

    watch.send("#2 and the old one")
    watch.send("#0 just between us")
    watch.send("#7 nobody")
    lines = [read_steer(p) for p in pending_steers(home, "coder")]
    assert [(line.text, line.conversation) for line in lines] == [
        ("and the old one", "cli:old"),
        ("just between us", "operator:coder"),
    ]
    assert "there is no conversation #7" in out.getvalue()


def test_y_a_n_answer_the_permission_question_shown_in_the_window(home: Home) -> None:
    watch, out = _watch(home)
    put_approval(
        home,
        "coder",
        {
            "key": "q1",
            "actor": "coder",
            "tool": "Bash",
            "detail": "rm -rf build",
            "asked_at": 1,
            "routes": ["window", "chat"],
        },
    )
    watch.emit(watch.poll())
    assert "@coder asks to use Bash: rm -rf build  [y once / a always / n deny]" in out.getvalue()

    assert watch.send("a") == "q1"

    answer = read_answer(home, "coder", "q1")
    assert answer is not None and answer["decision"] == "allow_session"
    assert answer["by"] == "window:ada"
    assert pending_steers(home, "coder") == []  # an answer, not a steering line
    assert watch.send("n") is not None  # nothing asked any more: "n" is just a line


def test_a_slash_line_is_a_command_for_the_operator_chat(home: Home) -> None:
    watch, _ = _watch(home)
    sent = watch.send("/status")
    (queued,) = Spool.list_box(Spool(home).incoming)
    message = load_inbound(queued.read_bytes())
    assert message.id == sent and message.kind == "command" and message.actor is None


def test_a_line_that_cannot_be_a_message_is_refused_in_the_window(home: Home) -> None:
    watch, out = _watch(home)
    assert watch.send("bad\x00byte") is None
    assert "not sent" in out.getvalue()
    assert pending_steers(home, "coder") == []


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


def test_a_reply_planted_as_a_link_to_a_file_outside_the_home_is_not_shown(
    home: Home, tmp_path: Path
) -> None:
    watch, _ = _watch(home)
    spool = Spool(home)
    outside = tmp_path / "elsewhere.json"
    outside.write_text(
        json.dumps(
            {
                "id": "planted",
                "in_reply_to": "planted",
                "channel": "operator",
                "chat_id": "coder",
                "text": "a secret from outside the home",
            }
        )
    )
    box = spool.ensure_box(spool.outgoing("operator"))
    (box / "planted.json").symlink_to(outside)

    lines = watch.poll()

    assert "a secret from outside the home" not in "\n".join(lines)
    [failed] = Spool.list_box(spool.failed)
    reason = json.loads((spool.failed / "planted.json.reason").read_text())["reason"]
    assert failed.name == "planted.json" and "symlink" in reason


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
