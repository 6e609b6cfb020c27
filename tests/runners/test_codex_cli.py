"""The real ``codex`` CLI, driven by CodexRunner against the loopback OpenAI fake."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.fakes.openai_api import OpenAIFake
from tests.fakes.providers import Reply
from tinyclaw.config import RunnerSettings
from tinyclaw.runners import CodexRunner, RunEvent, RunRequest
from tinyclaw.runners.process import live_group_members

pytestmark = pytest.mark.cli

PATCH = """\
*** Begin Patch
*** Add File: notes/hello.txt
+hello from a patch
*** End Patch
"""


def ask(workspace: Path, prompt: str, **changes: object) -> RunRequest:
    fields: dict[str, object] = {"prompt": prompt, "actor": "coder", "workspace": workspace}
    fields.update(changes)
    return RunRequest(**fields)  # type: ignore[arg-type]


def test_a_plain_reply(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    events: list[RunEvent] = []
    request = ask(tmp_path / "ws", "hello there", model="gpt-test", persona="You are Ferris.")
    result = CodexRunner(codex_settings).run(request, events.append)

    assert result.ok, result
    assert result.text == "echo: hello there"
    assert result.session_id  # the thread id codex chose
    assert result.exit_code == 0 and result.error is None
    assert result.usage["output_tokens"] == 5
    # An unknown model name also yields a notice ("model metadata not found"): an error
    # event in the actor window, but not a failure.
    assert [e.kind for e in events if e.kind != "error"] == ["start", "text", "result"]
    (sent,) = openai_fake.model_requests()
    assert sent.body["model"] == "gpt-test"
    developer = [i for i in openai_fake.items(sent.body) if i.get("role") == "developer"]
    assert any("You are Ferris." in str(i["content"]) for i in developer)
    assert sent.headers["authorization"] == "Bearer test-key"


def test_apply_patch_and_a_shell_command_write_files_in_the_workspace(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    openai_fake.enqueue(
        Reply.tool("apply_patch", PATCH),
        Reply.tool("exec_command", {"cmd": "echo from a command > made.txt"}),
        Reply.say("two files written"),
    )
    events: list[RunEvent] = []
    request = ask(workspace, "write files", permission_mode="workspace-write")
    result = CodexRunner(codex_settings).run(request, events.append)

    assert result.ok, result
    assert result.text == "two files written"
    assert (workspace / "notes" / "hello.txt").read_text() == "hello from a patch\n"
    assert (workspace / "made.txt").read_text() == "from a command\n"
    kinds = [e.kind for e in events]
    assert "file_change" in kinds and "command" in kinds


def test_a_second_message_resumes_the_thread_with_its_history(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    runner = CodexRunner(codex_settings)
    first = runner.run(ask(tmp_path / "ws", "my name is PINEAPPLE", persona="Be terse."))
    assert first.ok, first
    request = ask(
        tmp_path / "ws",
        "what is my name?",
        session_id=first.session_id,
        persona="Be terse.",
        permission_mode="workspace-write",
    )
    second = runner.run(request)

    assert second.ok, second
    assert second.session_id == first.session_id
    assert second.text == "echo: what is my name?"
    resent = openai_fake.model_requests()[-1].text
    assert "my name is PINEAPPLE" in resent and "echo: my name is PINEAPPLE" in resent
    assert resent.count("Be terse.") == 1  # the persona is not repeated on resume


def test_an_unknown_thread_starts_a_fresh_one(
    codex_settings: RunnerSettings,
    openai_fake: OpenAIFake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stale = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING, logger="tinyclaw.runner"):
        result = CodexRunner(codex_settings).run(ask(tmp_path / "ws", "hi", session_id=stale))
    assert result.ok, result
    assert result.text == "echo: hi"
    assert result.session_id not in (None, stale)
    assert any(stale in r.getMessage() for r in caplog.records)


def test_an_api_error_is_a_readable_failure(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    openai_fake.enqueue(Reply.error(500, "the model is on fire"))
    result = CodexRunner(codex_settings).run(ask(tmp_path / "ws", "hi"))

    assert not result.ok  # exec exits 1; app-server reports the failed turn and exits 0
    assert result.error is not None and result.error.startswith("api_error: ")
    assert result.text.startswith("Sorry, the assistant ran into an error")
    assert len(openai_fake.model_requests()) == 1  # no retries


def test_a_failed_stream_is_a_readable_failure(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    openai_fake.enqueue(Reply.stream_error("the stream broke"))
    result = CodexRunner(codex_settings).run(ask(tmp_path / "ws", "hi"))
    assert not result.ok
    assert result.error is not None and "the stream broke" in result.error
    assert "the stream broke" not in result.text


def test_a_hanging_provider_hits_the_timeout_and_nothing_is_left_running(
    codex_settings: RunnerSettings, openai_fake: OpenAIFake, tmp_path: Path
) -> None:
    openai_fake.enqueue(Reply.hang())
    events: list[RunEvent] = []
    result = CodexRunner(codex_settings).run(ask(tmp_path / "ws", "hi", timeout=3), events.append)

    assert not result.ok and result.error == "timeout"
    assert result.text == "The assistant took longer than 3 s and was stopped."
    assert live_group_members(events[0].data["pid"]) == []


def test_tinyclaws_secrets_never_reach_the_cli(
    codex_settings: RunnerSettings,
    openai_fake: OpenAIFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "secret-xyz")
    monkeypatch.setenv("LOCAL_OPENAI_KEY", "pass-key-123")
    scratch = {"TMPDIR": codex_settings.env["TMPDIR"]}  # see codex_settings
    settings = codex_settings.model_copy(update={"env": scratch, "pass_env": ["LOCAL_OPENAI_KEY"]})
    openai_fake.enqueue(Reply.tool("exec_command", {"cmd": "env"}))
    result = CodexRunner(settings).run(ask(tmp_path / "ws", "run env"))

    assert result.ok, result
    (env_output,) = openai_fake.tool_results()
    assert "LOCAL_OPENAI_KEY=pass-key-123" in env_output  # pass_env'ed: it arrives
    assert "secret-xyz" not in env_output and "TELEGRAM_BOT_TOKEN" not in env_output
    assert openai_fake.model_requests()[0].headers["authorization"] == "Bearer pass-key-123"
