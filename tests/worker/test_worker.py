"""The worker as a user meets it: messages in, one reply each, in order, whatever fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.worker.conftest import (
    REPO,
    crash_at,
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_process,
    worker_thread,
    write_config,
)
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.messages import load_inbound
from tinyclaw.spool import Spool


def test_a_message_gets_one_reply_from_the_default_actor(fake_home: Home) -> None:
    spool = Spool(fake_home)
    with worker_thread(fake_home):
        msg = message("hello there")
        spool.put(msg)
        reply = reply_for(fake_home, msg)
    assert reply.kind == "reply" and reply.actor == "assistant"
    assert reply.text == "echo: hello there"
    assert reply.in_reply_to == msg.id and reply.chat_id == "local"
    assert spool.list_box(spool.incoming) == [] and spool.depths()["processing"] == 0
    # what the CLI reported it cost is kept with the reply and in the event log
    assert reply.meta["cost_usd"] == 0 and reply.meta["usage"]["num_turns"] == 1
    [ended] = [
        e for e in EventLog(fake_home.logs / "events.jsonl").read() if e["event"] == "run.end"
    ]
    assert ended["cost"] == 0 and ended["usage"]["num_turns"] == 1


def test_at_prefix_picks_the_actor_case_insensitively_and_is_stripped(fake_home: Home) -> None:
    with worker_thread(fake_home):
        msg = message("@Coder: write a haiku")
        Spool(fake_home).put(msg)
        reply = reply_for(fake_home, msg)
    assert reply.actor == "coder" and reply.text == "echo: write a haiku"


def test_an_unknown_actor_gets_a_helpful_list(fake_home: Home) -> None:
    with worker_thread(fake_home):
        msg = message("@nobody hi")
        Spool(fake_home).put(msg)
        reply = reply_for(fake_home, msg)
    assert reply.kind == "error"
    assert "no actor called @nobody" in reply.text and "@coder - writes code" in reply.text


def test_a_name_with_nothing_after_it_gets_a_hint_not_a_run(fake_home: Home) -> None:
    with worker_thread(fake_home):
        msg = message("@Coder   ")
        Spool(fake_home).put(msg)
        reply = reply_for(fake_home, msg)
    assert reply.kind == "error"
    assert reply.text == "Nothing to send to @coder: write your message after the name."
    runs = [
        e for e in EventLog(fake_home.logs / "events.jsonl").read() if e["event"] == "run.start"
    ]
    assert runs == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[1,2]",
        b"\xff\xfe\x00junk",
        json.dumps({"channel": "cli", "text": 5}).encode(),
        json.dumps(
            {"v": 9, "channel": "cli", "chat_id": "x", "sender": {"id": "u"}, "text": "hi"}
        ).encode(),
    ],
    ids=["empty", "broken", "list", "binary", "wrong-shape", "future-version"],
)
def test_bad_files_go_to_failed_with_a_reason_and_the_worker_carries_on(
    fake_home: Home, content: bytes
) -> None:
    spool = Spool(fake_home)
    (spool.incoming / "bad.json").write_bytes(content)
    with worker_thread(fake_home):
        wait_for((spool.failed / "bad.json").exists, what="bad file in failed/")
        msg = message("still alive?")
        spool.put(msg)
        assert reply_for(fake_home, msg).text == "echo: still alive?"
    reason = json.loads((spool.failed / "bad.json.reason").read_text())["reason"]
    assert reason


def test_an_actors_messages_run_one_at_a_time_in_arrival_order(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "0.2"}))
    spool = Spool(home)
    msgs = [message(f"@coder job {i}") for i in range(4)]
    for m in msgs:
        spool.put(m)
    with worker_thread(home):
        for m in msgs:
            reply_for(home, m)
    events = [
        e
        for e in EventLog(home.logs / "events.jsonl").read()
        if e["event"] in ("run.start", "run.end")
    ]
    assert [e["id"] for e in events if e["event"] == "run.start"] == [m.id for m in msgs]
    kinds = [e["event"] for e in events]
    assert kinds == ["run.start", "run.end"] * 4  # never two runs of one actor at once


def test_different_actors_run_in_parallel(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "2"}))
    spool = Spool(home)
    a, b = message("@assistant one"), message("@coder two")
    spool.put(a)
    spool.put(b)
    with worker_thread(home):
        reply_for(home, a)
        reply_for(home, b)
    events = [
        e
        for e in EventLog(home.logs / "events.jsonl").read()
        if e["event"] in ("run.start", "run.end")
    ]
    assert [e["event"] for e in events][:2] == ["run.start", "run.start"]


def test_the_concurrency_limit_holds(home: Home) -> None:
    actors = {f"a{i}": {} for i in range(3)}
    write_config(home, fake_cli_config(actors, env={"FAKE_CLI_SLEEP": "0.3"}, concurrency=1))
    spool = Spool(home)
    msgs = [message(f"@a{i} hi") for i in range(3)]
    for m in msgs:
        spool.put(m)
    with worker_thread(home):
        for m in msgs:
            reply_for(home, m)
    kinds = [
        e["event"]
        for e in EventLog(home.logs / "events.jsonl").read()
        if e["event"].startswith("run.")
    ]
    assert kinds == ["run.start", "run.end"] * 3


def test_a_busy_actor_does_not_starve_the_others_when_slots_are_few(home: Home) -> None:
    actors = {"a0": {}, "a1": {}}
    write_config(home, fake_cli_config(actors, env={"FAKE_CLI_SLEEP": "0.1"}, concurrency=1))
    spool = Spool(home)
    msgs = [message("@a0 job 1"), message("@a1 the only job")]
    msgs += [message(f"@a0 job {n}") for n in range(2, 6)]
    for m in msgs:
        spool.put(m)
    with worker_thread(home):
        for m in msgs:
            reply_for(home, m)
    order = [
        e["actor"] for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"
    ]
    assert order == ["a0", "a1", "a0", "a0", "a0", "a0"]  # oldest message first


def test_a_cli_error_becomes_a_readable_error_reply(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_FAIL": "overloaded"}))
    with worker_thread(home):
        msg = message("hi")
        Spool(home).put(msg)
        reply = reply_for(home, msg)
    assert reply.kind == "error" and reply.text.startswith("Sorry, the assistant stopped")
    assert "overloaded" not in reply.text  # the CLI's own words are for the owner:
    assert '"error": "exit: 1 overloaded"' in (home.logs / "events.jsonl").read_text()


def test_a_missing_cli_binary_is_reported_to_the_user(home: Home) -> None:
    write_config(
        home, fake_cli_config().replace(str(REPO / "scripts" / "fake-cli"), "/nonexistent/claude")
    )
    with worker_thread(home):
        msg = message("hi")
        Spool(home).put(msg)
        reply = reply_for(home, msg)
    assert reply.kind == "error" and "claude" in reply.text


def test_sessions_are_kept_per_chat_and_reset_forgets_them(fake_home: Home) -> None:
    spool = Spool(fake_home)
    with worker_thread(fake_home) as worker:
        first = message("one", chat="c1")
        spool.put(first)
        reply_for(fake_home, first)
        session = worker.sessions.get("assistant", "cli:c1")
        assert session
        assert worker.sessions.get("assistant", "cli:c2") is None
        second = message("two", chat="c1")
        spool.put(second)
        reply_for(fake_home, second)
        assert worker.sessions.get("assistant", "cli:c1") == session
        reset = message("/reset", chat="c1", kind="command")
        spool.put(reset)
        assert "fresh conversation with @assistant" in reply_for(fake_home, reset).text
        assert worker.sessions.get("assistant", "cli:c1") is None


def test_chat_commands_answer_without_running_a_cli(fake_home: Home) -> None:
    spool = Spool(fake_home)
    with worker_thread(fake_home):
        answers = {}
        for text in ("/help", "/actors", "/status", "/cancel", "/bogus"):
            m = message(text, kind="command")
            spool.put(m)
            answers[text] = reply_for(fake_home, m).text
    assert "/reset" in answers["/help"]
    assert "@assistant (default)" in answers["/actors"]
    assert "Nothing waiting" in answers["/status"]
    assert "Nothing is running" in answers["/cancel"]
    assert "Unknown command" in answers["/bogus"]


def test_cancel_stops_the_running_cli_of_this_chat(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "30"}))
    spool = Spool(home)
    with worker_thread(home) as worker:
        slow = message("take your time")
        spool.put(slow)
        wait_for(worker.running_snapshot, what="the run to start")
        status = message("/status", kind="command")
        spool.put(status)
        assert "@assistant is working on" in reply_for(home, status).text
        cancel = message("/cancel", kind="command")
        spool.put(cancel)
        assert "Stopping @assistant" in reply_for(home, cancel).text
        reply = reply_for(home, slow, timeout=10)
    assert reply.kind == "notice" and "Stopped" in reply.text


def test_the_operator_cancels_an_actors_run_from_its_window_whoever_asked(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "30"}))
    spool = Spool(home)
    with worker_thread(home) as worker:
        stuck = message("@coder take forever", chat="someone-else")
        spool.put(stuck)
        wait_for(worker.running_snapshot, what="the run to start")
        elsewhere = message("/cancel", kind="command")  # another chat stops nothing
        spool.put(elsewhere)
        assert reply_for(home, elsewhere).text == "Nothing is running for this chat."
        operator = message("/cancel", kind="command", chat="coder", channel="operator")
        spool.put(operator)
        assert reply_for(home, operator).text == "Stopping @coder."
        reply = reply_for(home, stuck, timeout=10)
    # The chat user did not ask: they are told who stopped it, and that they can go on.
    assert reply.kind == "notice" and reply.text.startswith("The owner stopped @coder.")
    assert "as asked" not in reply.text


def test_stop_returns_an_unfinished_run_to_the_inbox(home: Home) -> None:
    write_config(home, fake_cli_config(env={"FAKE_CLI_SLEEP": "30"}))
    spool = Spool(home)
    slow = message("long job")
    spool.put(slow)
    with worker_thread(home) as worker:
        wait_for(worker.running_snapshot, what="the run to start")
    inbox = spool.list_box(spool.inbox("assistant"))
    assert [p.stem for p in inbox] == [slow.id]
    assert load_inbound(inbox[0].read_bytes()).attempts == 0  # not the message's fault
    assert not spool.reply_exists("cli", slow.id)


@pytest.mark.parametrize(
    "point", ["route.before_move", "worker.claimed", "worker.ran", "worker.replied"]
)
def test_a_worker_killed_at_any_step_answers_exactly_once_after_restart(
    fake_home: Home, point: str
) -> None:
    spool = Spool(fake_home)
    msg = message("survive this")
    spool.put(msg)
    crash_at(fake_home, point)
    with worker_process(fake_home):
        reply = reply_for(fake_home, msg)
        assert reply.text == "echo: survive this"
        wait_for(
            lambda: spool.depths()["processing"] == 0 and spool.depths()["inboxes"] == 0,
            what="drain",
        )
    assert [p.name for p in spool.list_box(spool.outgoing("cli"))] == [f"{msg.id}.json"]
    assert spool.list_box(spool.failed) == []
    # A result saved before the crash is reused: the CLI never runs twice.
    runs = [
        e for e in EventLog(fake_home.logs / "events.jsonl").read() if e["event"] == "run.start"
    ]
    assert len(runs) == 1


def test_a_kill_after_the_run_is_not_counted_against_the_message(home: Home) -> None:
    """Attempts are counted to stop a message that kills the worker. One whose run had
    finished (its result saved) did not: even with ``max_attempts = 1`` it is answered
    from the saved result after the restart, not set aside in failed/."""
    write_config(
        home, fake_cli_config(extra="").replace("[worker]\n", "[worker]\nmax_attempts = 1\n")
    )
    spool = Spool(home)
    msg = message("finish me")
    spool.put(msg)
    crash_at(home, "worker.ran")
    with worker_process(home):
        assert reply_for(home, msg).text == "echo: finish me"
    assert spool.list_box(spool.failed) == []
    runs = [e for e in EventLog(home.logs / "events.jsonl").read() if e["event"] == "run.start"]
    assert len(runs) == 1


def test_tinyclaw_send_against_a_running_worker(fake_home: Home) -> None:
    with worker_process(fake_home):
        run = subprocess.run(
            [sys.executable, "-m", "tinyclaw", "send", "--actor", "coder", "what is up"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "echo: what is up"
        queued = subprocess.run(
            [sys.executable, "-m", "tinyclaw", "send", "--no-wait", "later"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert queued.returncode == 0
        later = Spool(fake_home).outgoing("cli") / f"{queued.stdout.strip()}.json"
        wait_for(later.exists, what="the reply to the --no-wait message")
        bad = subprocess.run(
            [sys.executable, "-m", "tinyclaw", "send", "--actor", "../etc", "x"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert bad.returncode == 1 and "no actor or team '../etc'" in bad.stderr
    # The waited-for reply was taken by `send` and is in the delivery ledger.
    assert len(list(Spool(fake_home).sent("cli").iterdir())) == 1


def test_the_delivery_and_redelivery_ledgers_forget_after_keep_days(fake_home: Home) -> None:
    spool = Spool(fake_home)
    old_sent = spool.sent("telegram") / "old.json"
    new_sent = spool.sent("telegram") / "new.json"
    old_seen = spool.seen_root / "telegram" / "42-1"
    for path in (old_sent, new_sent, old_seen):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    eight_days_ago = time.time() - 8 * 86400
    for path in (old_sent, old_seen):
        os.utime(path, (eight_days_ago, eight_days_ago))

    with worker_thread(fake_home):
        wait_for(lambda: not old_sent.exists() and not old_seen.exists(), what="pruning")

    assert new_sent.exists()
    pruned = [e for e in EventLog(fake_home.logs / "events.jsonl").read() if e["event"] == "pruned"]
    assert [e["files"] for e in pruned] == [2]


def test_messages_nobody_would_ever_run_are_failed_with_a_reason(fake_home: Home) -> None:
    spool = Spool(fake_home)
    gone = spool.inbox("retired")  # an actor removed from tinyclaw.toml
    gone.mkdir(parents=True)
    spool.put(message("for the retired actor"), gone)
    stray = spool.incoming / "notes.txt"  # not a queue file
    stray.write_text("hello?")
    hour_ago = time.time() - 3600
    os.utime(stray, (hour_ago, hour_ago))
    young = spool.incoming / "draft.txt"  # may still be on its way to a rename
    young.write_text("...")

    with worker_thread(fake_home):
        wait_for(lambda: len(spool.list_box(spool.failed)) == 1 and not stray.exists())

    reasons = sorted(p.read_text() for p in spool.failed.glob("*.reason"))
    assert len(reasons) == 2
    assert "@retired is not in tinyclaw.toml" in reasons[0] + reasons[1]
    assert "not a queue file" in reasons[0] + reasons[1]
    assert young.exists() and spool.list_box(gone) == []
