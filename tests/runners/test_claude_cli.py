"""The real ``claude`` CLI, driven by ClaudeRunner against the loopback Anthropic fake."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import AnthropicFake
from tests.fakes.providers import Reply
from tinyclaw.config import RunnerSettings
from tinyclaw.runners import ClaudeRunner, RunEvent, RunRequest, RunResult
from tinyclaw.runners.process import live_group_members

pytestmark = pytest.mark.cli


def ask(workspace: Path, prompt: str, **changes: object) -> RunRequest:
    fields: dict[str, object] = {"prompt": prompt, "actor": "coder", "workspace": workspace}
    fields.update(changes)
    return RunRequest(**fields)  # type: ignore[arg-type]


def test_a_plain_reply(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    events: list[RunEvent] = []
    request = ask(tmp_path / "ws", "hello there", model="claude-test", persona="You are Ferris.")
    result = ClaudeRunner(claude_settings).run(request, events.append)

    assert result.ok, result
    assert result.text == "echo: hello there"
    assert result.session_id is not None and uuid.UUID(result.session_id)
    assert result.exit_code == 0 and result.error is None
    assert result.cost_usd is not None and result.usage["num_turns"] == 1
    assert [e.kind for e in events] == ["start", "text", "result"]
    (sent,) = anthropic_fake.model_requests()
    assert sent.body["model"] == "claude-test"
    assert "You are Ferris." in str(sent.body["system"])


def test_the_write_tool_creates_a_file_in_the_workspace(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    target = workspace / "notes.txt"
    anthropic_fake.enqueue(
        Reply.tool("Write", {"file_path": str(target), "content": "hello file\n"}),
        Reply.say("I wrote notes.txt"),
    )
    events: list[RunEvent] = []
    request = ask(workspace, "write a note", permission_mode="acceptEdits")
    result = ClaudeRunner(claude_settings).run(request, events.append)

    assert result.ok, result
    assert result.text == "I wrote notes.txt"
    assert target.read_text() == "hello file\n"
    assert ("file_change", f"Write {target}") in [(e.kind, e.text) for e in events]
    assert "File created" in anthropic_fake.tool_results()[0]


def test_a_second_message_resumes_the_session_with_its_history(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    runner = ClaudeRunner(claude_settings)
    first = runner.run(ask(tmp_path / "ws", "my name is PINEAPPLE"))
    assert first.ok, first
    # Another cwd on purpose: the session id alone must find the conversation.
    second = runner.run(
        ask(tmp_path / "elsewhere", "what is my name?", session_id=first.session_id)
    )

    assert second.ok, second
    assert second.session_id == first.session_id
    assert second.text == "echo: what is my name?"
    resent = anthropic_fake.model_requests()[-1].text
    assert "my name is PINEAPPLE" in resent and "echo: my name is PINEAPPLE" in resent


def test_an_unknown_session_starts_a_fresh_one(
    claude_settings: RunnerSettings,
    anthropic_fake: AnthropicFake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stale = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING, logger="tinyclaw.runner"):
        result = ClaudeRunner(claude_settings).run(ask(tmp_path / "ws", "hi", session_id=stale))
    assert result.ok, result
    assert result.text == "echo: hi"
    assert result.session_id not in (None, stale)
    assert any(stale in r.getMessage() and "new one" in r.getMessage() for r in caplog.records)


def test_an_api_error_is_a_readable_failure(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    anthropic_fake.enqueue(Reply.error(500, "the model is on fire"))
    result = ClaudeRunner(claude_settings).run(ask(tmp_path / "ws", "hi"))

    assert not result.ok
    assert result.exit_code == 1
    assert result.error is not None and result.error.startswith("api_error: 500")
    assert result.text.startswith("Sorry, the assistant ran into an error")
    assert "the model is on fire" in result.error and "the model is on fire" not in result.text
    assert len(anthropic_fake.model_requests()) == 1  # no retries


def test_a_hanging_provider_hits_the_timeout_and_nothing_is_left_running(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    anthropic_fake.enqueue(Reply.hang())
    events: list[RunEvent] = []
    result = ClaudeRunner(claude_settings).run(ask(tmp_path / "ws", "hi", timeout=3), events.append)

    assert not result.ok and result.error == "timeout"
    assert result.text == "The assistant took longer than 3 s and was stopped."
    assert live_group_members(events[0].data["pid"]) == []


def test_parallel_runs_each_get_their_own_scripted_reply(
    claude_settings: RunnerSettings, anthropic_fake: AnthropicFake, tmp_path: Path
) -> None:
    anthropic_fake.on_marker("ALPHA", Reply.say("reply for alpha"))
    anthropic_fake.on_marker("BRAVO", Reply.say("reply for bravo"))
    runner = ClaudeRunner(claude_settings)
    results: dict[str, RunResult] = {}

    def go(marker: str) -> None:
        results[marker] = runner.run(ask(tmp_path / marker, f"task {marker}"))

    threads = [threading.Thread(target=go, args=(m,)) for m in ("ALPHA", "BRAVO")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["ALPHA"].text == "reply for alpha"
    assert results["BRAVO"].text == "reply for bravo"
    assert results["ALPHA"].session_id != results["BRAVO"].session_id


def test_tinyclaws_secrets_never_reach_the_cli(
    claude_settings: RunnerSettings,
    anthropic_fake: AnthropicFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "secret-xyz")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "pass-key-123")
    env = {k: v for k, v in claude_settings.env.items() if k != "ANTHROPIC_API_KEY"}
    settings = claude_settings.model_copy(
        update={"env": env, "pass_env": ["ANTHROPIC_API_KEY"], "args": ["--allowedTools", "Bash"]}
    )
    anthropic_fake.enqueue(Reply.tool("Bash", {"command": "env", "description": "show env"}))
    result = ClaudeRunner(settings).run(ask(tmp_path / "ws", "run env"))

    assert result.ok, result
    (env_output,) = anthropic_fake.tool_results()
    assert "ANTHROPIC_API_KEY=pass-key-123" in env_output  # pass_env'ed: it arrives
    assert "secret-xyz" not in env_output and "TELEGRAM_BOT_TOKEN" not in env_output
    assert anthropic_fake.model_requests()[0].headers["x-api-key"] == "pass-key-123"
