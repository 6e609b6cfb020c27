"""Steering and stopping an agent from its tmux window (a real tmux, real windows).

A user's message is running in @coder's CLI (the fake CLI, held in its turn); the
owner types into @coder's window. The typed line reaches the running CLI on its
stdin and lands in the answer the user gets; ``/cancel`` typed there interrupts the
run and the user is told the owner stopped it.
"""

from __future__ import annotations

import json

import pytest

from tests.launcher.conftest import (
    TmuxServer,
    events,
    run_tinyclaw,
    wait_until,
    write_config,
)
from tests.worker.conftest import message, reply_for
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool

pytestmark = pytest.mark.timeout(120)
SLOW = 'env = { FAKE_CLI_SLEEP = "8", FAKE_CLI_SLEEP_ON = "slowly" }'


def _start_with_a_run_in_progress(home: Home, tmux: TmuxServer) -> str:
    write_config(home, runner_env=SLOW)
    started = run_tinyclaw("start", "--no-attach")
    assert started.returncode == 0, started.stderr + started.stdout
    asked = message("@coder tidy up, slowly", chat="alice")
    Spool(home).put(asked)
    wait_until(
        lambda: any(
            e.get("event") == "run.start" and e.get("id") == asked.id for e in events(home)
        ),
        "the run to start",
    )
    wait_until(lambda: "took" in tmux.capture("actor-coder"), "the window to show the task")
    return asked.id


def test_a_line_typed_in_the_window_reaches_the_running_agent_and_its_answer(
    launch_home: Home, tmux: TmuxServer
) -> None:
    asked = _start_with_a_run_in_progress(launch_home, tmux)

    tmux.send_line("actor-coder", "use tabs, not spaces")

    path = Spool(launch_home).outgoing("cli") / f"{asked}.json"
    wait_until(path.exists, "the answer", timeout=30)
    answer = json.loads(path.read_text())
    assert answer["text"] == "echo: tidy up, slowly + use tabs, not spaces"
    note = json.loads((path.parent / f"{asked}.steer1.json").read_text())
    assert note["kind"] == "notice" and "The owner stepped in" in note["text"]
    wait_until(lambda: "steered by" in tmux.capture("actor-coder"), "the window to show it")
    screen = tmux.capture("actor-coder")
    assert "you → @coder: use tabs, not spaces" in screen
    assert "steering (cli:alice)" in screen  # the window said where the line went


def test_cancel_typed_in_the_window_stops_the_run_and_tells_the_user_who_did(
    launch_home: Home, tmux: TmuxServer
) -> None:
    asked = _start_with_a_run_in_progress(launch_home, tmux)

    tmux.send_line("actor-coder", "/cancel")

    path = Spool(launch_home).outgoing("cli") / f"{asked}.json"
    wait_until(path.exists, "the user to hear of it", timeout=30)
    told = json.loads(path.read_text())
    assert told["kind"] == "notice"
    assert told["text"].startswith("The owner stopped @coder.")
    ended = [e for e in events(launch_home) if e.get("event") == "run.end"]
    assert ended and ended[-1]["error"] == "cancelled"
    # The session survives: the next message of that chat resumes it.
    again = message("@coder are you there?", chat="alice")
    Spool(launch_home).put(again)
    assert reply_for(launch_home, again, 30).text == "echo: are you there?"


def test_a_permission_question_is_answered_with_y_in_the_window(
    launch_home: Home, tmux: TmuxServer
) -> None:
    write_config(launch_home, runner_env='env = { FAKE_CLI_ASK = "Bash" }')
    started = run_tinyclaw("start", "--no-attach")
    assert started.returncode == 0, started.stderr + started.stdout
    asked = message("@coder make the proof", chat="alice")
    Spool(launch_home).put(asked)
    wait_until(
        lambda: "asks to use Bash: touch proof" in tmux.capture("actor-coder"),
        "the question in the window",
        timeout=30,
    )

    tmux.send_line("actor-coder", "y")

    path = Spool(launch_home).outgoing("cli") / f"{asked.id}.json"
    wait_until(path.exists, "the answer", timeout=30)
    assert json.loads(path.read_text())["text"] == "echo: make the proof (Bash allowed)"
    wait_until(lambda: "Bash: allowed once" in tmux.capture("actor-coder"), "the window to say so")
    decided = [e for e in events(launch_home) if e.get("event") == "approval.decided"]
    assert [(e["decision"], e["by"]) for e in decided] == [("allow", "window:" + _user())]


def _user() -> str:
    import getpass

    return getpass.getuser()
