"""Live runs through the REAL CLIs: the owner steers, stops and approves a running agent.

Each story holds a turn of the loopback provider fake open (``Reply.held``), so what
the owner does lands while the CLI is mid-run: a steering line written as a file
reaches the model before the final answer, ``/cancel`` interrupts through the
protocol and the session survives, and a tool the CLI may not use without asking is
approved, denied, or left unanswered until it counts as denied. ``/model`` in the chat
switches a running claude turn to the new model at once.
"""

from __future__ import annotations

import threading

import pytest

from tests.fakes.providers import Reply
from tests.worker.conftest import message, reply_for, wait_for
from tests.worker.test_real_clis import ACTOR, Stage, new_stage
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import approvals_box, pending_approvals, pending_steers, put_steer
from tinyclaw.spool import Spool
from tinyclaw.teams.trace import trace

pytestmark = pytest.mark.cli


def events(home: Home, kind: str) -> list[dict[str, object]]:
    return [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == kind]


@pytest.fixture(params=["claude", "codex"])
def stage(request: pytest.FixtureRequest, home: Home) -> Stage:
    kind: str = request.param
    fake_name = "anthropic_fake" if kind == "claude" else "openai_fake"
    stage = Stage(
        kind,
        home,
        request.getfixturevalue(fake_name),
        request.getfixturevalue(f"{kind}_settings"),
    )
    stage.configure()
    return stage


def shell(stage: Stage, command: str) -> Reply:
    if stage.kind == "claude":
        return Reply.tool("Bash", {"command": command, "description": "run it"})
    return Reply.tool("exec_command", {"cmd": command})


def test_a_line_steered_mid_turn_reaches_the_model_before_the_final_answer(
    stage: Stage,
) -> None:
    gate = threading.Event()
    stage.fake.enqueue(shell(stage, "echo step one").held(gate), Reply.say("all done"))
    with stage.serving():
        asked = stage.send("count the files")
        wait_for(stage.fake.held.is_set, 60, "the first model turn to be under way")
        put_steer(stage.home, ACTOR, "also count the hidden ones", by="alice")
        wait_for(lambda: events(stage.home, "steer.delivered"), 20, "the line on the CLI's stdin")
        gate.set()
        reply = reply_for(stage.home, asked, 90)

    assert reply.kind == "reply"
    # The model saw the line inside the running turn, after the tool's result.
    later = [r.text for r in stage.fake.model_requests()[1:]]
    assert any("also count the hidden ones" in body for body in later), later
    assert pending_steers(stage.home, ACTOR) == []
    (delivered,) = events(stage.home, "steer.delivered")
    assert delivered["by"] == "alice" and delivered["id"] == asked.id
    # The chat user is told that the owner stepped in.
    note = Spool(stage.home).outgoing("cli") / f"{asked.id}.steer1.json"
    assert note.exists()


def test_cancel_interrupts_the_turn_and_the_next_message_resumes_the_session(
    stage: Stage,
) -> None:
    gate = threading.Event()
    stage.fake.enqueue(Reply.say("too late").held(gate))
    with stage.serving():
        stuck = stage.send("take your time")
        wait_for(stage.fake.held.is_set, 60, "the model turn to be under way")
        cancel = message("/cancel", kind="command", chat=ACTOR, channel="operator")
        Spool(stage.home).put(cancel)
        stopped = reply_for(stage.home, stuck, 30)
        gate.set()
        session = stage.session()
        again = stage.ask("are you still there?")

    assert stopped.kind == "notice" and stopped.text.startswith("The owner stopped @assistant.")
    assert session, "the interrupted run kept its session"
    assert stage.session() == session
    assert again.text == "echo: are you still there?"
    assert "take your time" in stage.resent()  # the history of the stopped turn is there


def _approve_stage(stage: Stage, timeout: float = 60) -> None:
    """claude asks in its default mode; codex when its approval policy says so."""
    lines = f'approvals = ["window", "chat"]\napproval_timeout = {timeout}\n'
    if stage.kind == "codex":
        stage.configure(actor=lines + 'approval_policy = "untrusted"\n')
    else:
        stage.configure(permission_mode=None, actor=lines)


@pytest.mark.parametrize(
    ("answer", "ran", "decision"),
    [("yes", True, "allow"), ("no", False, "deny")],
)
def test_a_tool_that_needs_permission_is_approved_or_denied_from_the_chat(
    stage: Stage, answer: str, ran: bool, decision: str
) -> None:
    target = stage.workspace / "proof.txt"
    _approve_stage(stage)
    stage.fake.enqueue(shell(stage, f"echo made > {target}"), Reply.say("finished"))
    with stage.serving():
        asked = stage.send("make the proof")
        box = Spool(stage.home).outgoing("cli")
        (request,) = wait_for(  # type: ignore[misc]
            lambda: [p for p in Spool.list_box(box) if ".approval-" in p.name],
            60,
            "the permission question in the chat",
        )
        assert "echo made" in request.read_text()
        (waiting,) = pending_approvals(stage.home, ACTOR)  # and in the window's box
        assert waiting["tool"] == ("Bash" if stage.kind == "claude" else "command")
        stage.send(answer)  # typed in the chat that asked
        reply = reply_for(stage.home, asked, 90)

    assert reply.kind == "reply"
    assert target.exists() is ran
    (decided,) = events(stage.home, "approval.decided")
    assert decided["decision"] == decision and str(decided["by"]).startswith("cli:")
    assert list(approvals_box(stage.home, ACTOR).glob("*.json")) == []
    # `tinyclaw trace` tells the story: the question, then who decided what.
    traced = "\n".join(trace(stage.home, asked.id))
    tool = "Bash" if stage.kind == "claude" else "command"
    assert f"@{ACTOR} asked to use {tool}: " in traced
    assert f"approval {decision} for {tool} by cli:Me" in traced


def test_a_permission_nobody_answers_is_denied_when_its_time_is_up(stage: Stage) -> None:
    target = stage.workspace / "proof.txt"
    _approve_stage(stage, timeout=2)
    stage.fake.enqueue(shell(stage, f"echo made > {target}"), Reply.say("finished"))
    with stage.serving():
        reply = stage.ask("make the proof")

    assert reply.kind == "reply"
    assert not target.exists()
    (decided,) = events(stage.home, "approval.decided")
    assert decided["decision"] == "timeout" and decided["by"] == "nobody in time"
    # The model was told it may not (claude: "denied"; codex: "rejected by user").
    results = " ".join(stage.fake.tool_results()).lower()
    assert ("denied" if stage.kind == "claude" else "rejected") in results, results


def test_always_allows_the_tool_for_the_rest_of_the_conversation(stage: Stage) -> None:
    first, second = stage.workspace / "one.txt", stage.workspace / "two.txt"
    _approve_stage(stage)
    stage.fake.enqueue(
        shell(stage, f"echo 1 > {first}"), shell(stage, f"echo 2 > {second}"), Reply.say("both")
    )
    with stage.serving():
        asked = stage.send("make two files")
        wait_for(lambda: pending_approvals(stage.home, ACTOR), 60, "the first question")
        stage.send("always")
        reply = reply_for(stage.home, asked, 90)

    assert reply.text == "both"
    assert first.exists() and second.exists()
    decided = [
        (e["decision"], str(e["by"]).split(":")[0]) for e in events(stage.home, "approval.decided")
    ]
    # The second command was either not asked about at all (codex remembers an
    # accept-for-session itself) or allowed at once by the grant, never asked in chat.
    assert decided[0] == ("allow_session", "cli")
    assert all(d == ("allow", "policy") for d in decided[1:])


def test_model_switched_in_the_chat_applies_to_the_claude_turn_that_is_running(
    request: pytest.FixtureRequest,
) -> None:
    stage = new_stage(request, "claude")
    stage.configure(actor='models = ["sonnet", "opus"]\n')  # claude's own aliases
    gate = threading.Event()
    stage.fake.enqueue(shell(stage, "echo step one").held(gate), Reply.say("all done"))
    with stage.serving():
        asked = stage.send("count the files")
        wait_for(stage.fake.held.is_set, 60, "the first model turn to be under way")
        switch = stage.send("/model sonnet", kind="command")
        answer = reply_for(stage.home, switch, 30)
        confirmed = lambda: [e for e in stage.events if e.kind == "model"]  # noqa: E731
        wait_for(confirmed, 20, "claude to confirm the switch")
        gate.set()
        reply = reply_for(stage.home, asked, 90)
        again = stage.ask("and now?")

    assert answer.text == (
        f"@{ACTOR} now uses sonnet in this chat; the turn that is running switched to it too."
    )
    assert reply.text == "all done"
    first, *later = [r.body for r in stage.fake.model_requests() if "and now?" not in r.text]
    assert "sonnet" not in first["model"]  # the CLI's default (an opus)
    # The tool's result went back to the model within the same run, to the new model.
    assert later and all("sonnet" in body["model"] for body in later), [b["model"] for b in later]
    (switched,) = events(stage.home, "model.switched")
    assert switched["id"] == asked.id and switched["model"] == "sonnet"
    # The choice is stored as well: the next message runs with it from the start.
    assert again.kind == "reply"
    assert stage.fake.model_requests()[-1].body["model"] == "claude-sonnet-5-5"
