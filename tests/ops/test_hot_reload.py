"""Editing tinyclaw.toml while a real worker serves: the edit counts, no restart."""

from __future__ import annotations

import signal

from tests.ops.conftest import ask, events, tinyclaw
from tests.worker.conftest import (
    fake_cli_config,
    message,
    reply_for,
    wait_for,
    worker_process,
    write_config,
)
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Sender
from tinyclaw.spool import Spool


def test_an_actor_added_to_the_file_answers_without_a_restart(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    with worker_process(home) as worker:
        assert ask(home, "hello") == "echo: hello"
        write_config(home, fake_cli_config({"assistant": {}, "reviewer": {"description": "x"}}))
        wait_for(lambda: events(home, "config.reload"), 20, "the worker to reload")
        assert ask(home, "look at this", actor="reviewer") == "echo: look at this"
        [reloaded] = events(home, "config.reload")
        assert reloaded["pid"] == worker.pid and reloaded["trigger"] == "file"
        assert "actors.reviewer added" in reloaded["applied"]  # type: ignore[operator]
        assert worker.poll() is None  # the same process all along


def test_an_invalid_edit_is_refused_and_the_old_config_keeps_serving(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    with worker_process(home):
        assert ask(home, "first") == "echo: first"
        home.config_file.write_text("[actors.assistant]\nrunner = 'gpt'\n", encoding="utf-8")
        wait_for(lambda: events(home, "config.refused"), 20, "the worker to refuse the edit")
        assert ask(home, "still there?") == "echo: still there?"
        result = tinyclaw(home, "reload")
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: refused, the running configuration stays in force:")
        assert "actors.assistant.runner" in line
        log = (home.logs / "worker.log").read_text(encoding="utf-8")
        assert "configuration refused, the running one stays in force" in log
        assert ask(home, "and now?") == "echo: and now?"


def test_tinyclaw_reload_reports_what_changed_and_what_needs_a_restart(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    with worker_process(home) as worker:
        assert ask(home, "hi") == "echo: hi"
        # SIGHUP alone (what systemd's `reload` sends) reads the file again
        worker.send_signal(signal.SIGHUP)
        wait_for(lambda: events(home, "config.reload"), 20, "the SIGHUP reload")
        extra = "[launcher]\nsession_name = 'other'\n[limits]\nmax_hops = 3\n"
        config = fake_cli_config({"assistant": {}}, concurrency=2, extra=extra)
        write_config(home, config)
        result = tinyclaw(home, "reload")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert out.startswith("worker: reloaded;")
        assert "limits.max_hops" in out and "worker.concurrency" in out
        assert "needs a restart: launcher" in out
        assert ask(home, "after") == "echo: after"


def test_a_team_and_an_allow_list_added_to_the_file_count_at_once(home: Home) -> None:
    actors: dict[str, dict[str, object]] = {"assistant": {}, "coder": {}}
    write_config(home, fake_cli_config(actors))
    spool = Spool(home)
    bob = Sender(id="77", name="Bob")
    with worker_process(home):
        refused = message("hi", channel="telegram", chat="77", sender=bob)
        spool.put(refused)
        wait_for(lambda: spool.list_box(spool.failed), 20, "the stranger's message refused")
        team = '[teams.devs]\nleader = "coder"\nmembers = ["coder", "assistant"]\n'
        allow = '[channels.telegram]\nallow_from = ["77"]\n'
        write_config(home, fake_cli_config(actors, extra=team + allow))
        wait_for(lambda: events(home, "config.reload"), 20, "the worker to reload")
        welcome = message("hi again", channel="telegram", chat="77", sender=bob)
        spool.put(welcome)
        assert reply_for(home, welcome, timeout=30).text.endswith("hi again")
        to_team = message("@devs build it")
        spool.put(to_team)
        reply = reply_for(home, to_team, timeout=30)
        assert reply.actor == "coder" and reply.text.endswith("build it")
    [reloaded] = events(home, "config.reload")
    assert {"teams.devs added", "channels.telegram.allow_from"} <= set(reloaded["applied"])  # type: ignore[arg-type]


def test_a_heartbeat_added_to_the_file_runs_without_a_restart(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    home.actor_dir("assistant").mkdir(parents=True, exist_ok=True)
    (home.actor_dir("assistant") / "HEARTBEAT.md").write_text("- water the plants\n")
    outgoing = Spool(home).outgoing("cli")
    with worker_process(home):
        assert ask(home, "hello") == "echo: hello"
        sent_before = set(Spool(home).list_box(outgoing))
        beat = '[actors.assistant.heartbeat]\nevery = "1h"\nto = "cli:local"\n'
        write_config(home, fake_cli_config({"assistant": {}}, extra=beat))

        def heartbeat_answer() -> list[str]:
            new = set(Spool(home).list_box(outgoing)) - sent_before
            return [p.read_text() for p in new if "water the plants" in p.read_text()]

        assert wait_for(heartbeat_answer, 30, "the heartbeat's first run")


def test_reload_with_nothing_running_only_checks_the_file(home: Home) -> None:
    write_config(home, fake_cli_config({"assistant": {}}))
    result = tinyclaw(home, "reload")
    assert result.returncode == 0
    assert result.stdout == "nothing is running; the configuration is valid and is read at start\n"
    home.config_file.write_text("[worker]\nconcurrency = 0\n[actors.a]\n", encoding="utf-8")
    result = tinyclaw(home, "reload")
    assert result.returncode == 1
    assert result.stderr.startswith("error: refused, the running configuration stays in force: ")
    assert "worker.concurrency" in result.stderr and len(result.stderr.splitlines()) == 1
