"""The terminal channel as its user meets it: `tinyclaw send`, `tinyclaw chat` and
`tinyclaw reset`, through the same queue and worker a chat platform uses."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_thread,
    write_config,
)
from tinyclaw.cli.app import app
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.runners.sessions import home_sessions
from tinyclaw.spool import Spool


def tinyclaw(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_send_without_a_worker_says_so_at_once_and_keeps_the_message(fake_home: Home) -> None:
    started = time.monotonic()
    code, _out, err = tinyclaw("send", "is anyone there?")
    assert code == 2
    assert time.monotonic() - started < 10  # not the 11 minutes of the reply timeout
    assert "no worker is running for this home" in err and "queued as " in err
    [queued] = Spool(fake_home).list_box(Spool(fake_home).incoming)
    assert queued.stem in err


def test_chat_with_an_actor_resets_that_actors_session(fake_home: Home) -> None:
    sessions = home_sessions(fake_home)
    with worker_thread(fake_home):
        code, out, _ = tinyclaw("chat", "--actor", "coder", stdin="hello coder\n")
        assert code == 0 and "echo: hello coder" in out
        assert sessions.get("coder", "cli:local")
        other = message("and hello assistant")
        Spool(fake_home).put(other)
        reply_for(fake_home, other)
        assert sessions.get("assistant", "cli:local")

        code, out, _ = tinyclaw("chat", "--actor", "coder", stdin="/reset\n")

    assert "fresh conversation with @coder" in out
    assert sessions.get("coder", "cli:local") is None
    assert sessions.get("assistant", "cli:local") is not None  # not the default actor's


def test_a_reset_while_the_actor_is_working_is_not_undone_by_that_run(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "1.5", "FAKE_CLI_SLEEP_ON": "slow"}))
    sessions = home_sessions(home)
    with worker_thread(home) as worker:
        first = message("@coder start")
        Spool(home).put(first)
        reply_for(home, first)
        before = sessions.get("coder", "cli:local")
        slow = message("@coder a slow one")
        Spool(home).put(slow)
        wait_for(worker.running_snapshot, what="the slow run")

        code, out, _ = tinyclaw("reset", "coder", "--chat", "cli:local")
        assert code == 0 and "reset @coder for cli:local" in out

        reply_for(home, slow)
        wait_for(lambda: not worker.running_snapshot(), what="the run to end")
        assert sessions.get("coder", "cli:local") is None
        after = message("@coder and now?")
        Spool(home).put(after)
        reply_for(home, after)
    assert before is not None
    assert sessions.get("coder", "cli:local") not in (None, before)  # a new session


def test_control_characters_in_a_reply_reach_the_terminal_as_text(fake_home: Home) -> None:
    with worker_thread(fake_home):
        code, out, _ = tinyclaw("send", "title \x1b]0;pwned\x07 clear \x1b[2J")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out


def test_replies_to_no_wait_messages_can_be_read_later(fake_home: Home) -> None:
    with worker_thread(fake_home):
        code, first, _ = tinyclaw("send", "--no-wait", "one for later")
        code2, second, _ = tinyclaw("send", "--no-wait", "--chat", "other", "another")
        box = Spool(fake_home).outgoing("cli")
        for ident in (first.strip(), second.strip()):
            wait_for((box / f"{ident}.json").exists, what="the reply")

    code3, out, _ = tinyclaw("replies", "--chat", "local")
    assert (code, code2, code3) == (0, 0, 0)
    assert "echo: one for later" in out and first.strip() in out
    assert "another" not in out
    _, rest, _ = tinyclaw("replies")
    assert "echo: another" in rest
    assert tinyclaw("replies")[1].strip() == "no replies waiting"


def test_model_and_cost_from_the_terminal_act_on_the_chosen_actor(home: Home) -> None:
    actors: dict[str, dict[str, object]] = {"assistant": {}, "coder": {"models": ["a", "b"]}}
    write_config(home, fake_cli_config(actors, env={"FAKE_CLI_COST": "0.5"}))
    with worker_thread(home):
        code, out, _ = tinyclaw("chat", "--actor", "coder", stdin="/model b\nhi\n/cost\n")
        _, shown, _ = tinyclaw("send", "--actor", "coder", "/model")
        _, everyone, _ = tinyclaw("send", "/cost all")

    assert code == 0
    assert "@coder now uses b in this chat, from the next message on." in out
    assert "@coder: today $0.50 (1 run), this month $0.50 (1 run)" in out
    assert shown.startswith("@coder uses b in this chat.")
    assert "By actor:" in everyone and "(home): today $0.50 (1 run)" in everyone


def test_chat_shows_the_steps_of_a_run_and_asks_the_owner_for_a_permission(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_TOOLS": "1", "FAKE_CLI_ASK": "Bash"}))
    with worker_thread(home):
        code, out, _ = tinyclaw("chat", stdin="tidy the notes\ny\n")

    assert code == 0
    # The first step shows live; the next one, less than 2 s later, is throttled away.
    assert "@assistant $ ls -la" in out
    assert "✎ Edit" not in out
    assert "@assistant asks to use Bash: touch proof" in out
    assert "allowed once" in out
    assert "echo: tidy the notes (Bash allowed)" in out
    outgoing = Spool(home).outgoing("cli")
    assert Spool.list_box(outgoing) == []  # everything shown was taken, nothing piles up
    decided = [
        e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "approval.decided"
    ]
    assert [(e["decision"], str(e["by"]).startswith("cli:")) for e in decided] == [("allow", True)]


def test_steer_and_cancel_from_a_script_reach_the_running_agent(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "3", "FAKE_CLI_SLEEP_ON": "slow"}))
    spool = Spool(home)
    with worker_thread(home) as worker:
        first = message("a slow job")
        spool.put(first)
        wait_for(worker.running_snapshot, what="the run to start")
        code, out, _ = tinyclaw("steer", "assistant", "and be quick about it")
        assert code == 0 and out.strip()
        assert reply_for(home, first).text == "echo: a slow job + and be quick about it"

        second = message("another slow one")
        spool.put(second)
        wait_for(worker.running_snapshot, what="the second run to start")
        code, _, _ = tinyclaw("cancel", "assistant")
        assert code == 0
        stopped = reply_for(home, second)
    assert stopped.text.startswith("The owner stopped @assistant.")


def test_steer_approve_and_cancel_refuse_an_unknown_actor_or_a_missing_question(
    fake_home: Home,
) -> None:
    code, _, err = tinyclaw("steer", "ghost", "hello")
    assert code == 1 and "no actor 'ghost'" in err
    code, _, err = tinyclaw("approve", "assistant", "yes")
    assert code == 1 and "@assistant is not asking anything" in err
    code, _, err = tinyclaw("steer", "assistant", "   ")
    assert code == 1 and "the line is empty" in err
