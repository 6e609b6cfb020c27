"""A permission question never carries a secret: the command the model wants to run
may quote one of the runner's ``pass_env`` values, and the question goes to a chat,
the actor's window and files, so the value is ``***`` there (as in logs and replies)."""

from __future__ import annotations

import json

import pytest

from tests.worker.conftest import fake_cli_config, message, reply_for, worker_thread, write_config
from tinyclaw.core.home import Home
from tinyclaw.spool import Spool


def test_a_secret_in_the_command_asked_about_is_redacted_everywhere(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_TEST_TOKEN", "sk-live-very-secret")
    config = fake_cli_config(
        {"assistant": {"approval_timeout": 1}},
        env={"FAKE_CLI_ASK": "Bash", "FAKE_CLI_ASK_COMMAND": "curl -H $LIVE_TEST_TOKEN x"},
    )
    write_config(home, config.replace("env = {", 'pass_env = ["LIVE_TEST_TOKEN"]\nenv = {'))
    asked = message("fetch it")
    with worker_thread(home):
        Spool(home).put(asked)
        reply = reply_for(home, asked, 30)

    assert reply.text == "echo: fetch it (Bash denied)"
    question = Spool(home).outgoing("cli") / f"{asked.id}.approval-perm-1.json"
    text = json.loads(question.read_text())["text"]
    assert "curl -H *** x" in text
    everything = [
        p.read_text()
        for p in home.root.rglob("*")
        if p.is_file() and p.suffix in (".json", ".jsonl")
    ]
    assert not any("sk-live-very-secret" in content for content in everything)
