"""The runner contract with ``scripts/fake-cli`` (a claude look-alike, milliseconds per
run): failures come back as results with a sentence for the user, never as exceptions."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from pathlib import Path

import pytest

from tinyclaw.config import RunnerSettings
from tinyclaw.core.errors import ConfigError
from tinyclaw.runners import ClaudeRunner, RunEvent, RunRequest, make_runner
from tinyclaw.runners.process import live_group_members


def ask(tmp_path: Path, prompt: str = "hi", **changes: object) -> RunRequest:
    fields: dict[str, object] = {"prompt": prompt, "actor": "coder", "workspace": tmp_path / "ws"}
    fields.update(changes)
    return RunRequest(**fields)  # type: ignore[arg-type]


def test_a_reply_with_a_session_id_chosen_by_tinyclaw(
    fake_cli_settings: RunnerSettings, tmp_path: Path
) -> None:
    events: list[RunEvent] = []
    result = ClaudeRunner(fake_cli_settings).run(ask(tmp_path, "-dash first"), events.append)
    assert result.ok and result.text == "echo: -dash first"
    assert result.session_id is not None and uuid.UUID(result.session_id)
    assert result.cost_usd == 0 and result.exit_code == 0
    assert [e.kind for e in events] == ["start", "text", "result"]
    again = ClaudeRunner(fake_cli_settings).run(ask(tmp_path, session_id=result.session_id))
    assert again.session_id == result.session_id


def test_a_slow_cli_is_stopped_at_the_timeout(
    fake_cli_settings: RunnerSettings, tmp_path: Path
) -> None:
    settings = fake_cli_settings.model_copy(update={"env": {"FAKE_CLI_SLEEP": "30"}})
    events: list[RunEvent] = []
    result = ClaudeRunner(settings).run(ask(tmp_path, timeout=0.5), events.append)
    assert not result.ok and result.error == "timeout"
    assert result.text == "The assistant took longer than 0.5 s and was stopped."
    assert live_group_members(events[0].data["pid"]) == []


def test_cancel_stops_the_run(fake_cli_settings: RunnerSettings, tmp_path: Path) -> None:
    settings = fake_cli_settings.model_copy(update={"env": {"FAKE_CLI_SLEEP": "30"}})
    cancel = threading.Event()
    result = ClaudeRunner(settings).run(ask(tmp_path), lambda e: cancel.set(), cancel)
    assert not result.ok and result.error == "cancelled"
    assert "stopped" in result.text


def test_a_cli_reporting_an_error(fake_cli_settings: RunnerSettings, tmp_path: Path) -> None:
    settings = fake_cli_settings.model_copy(update={"env": {"FAKE_CLI_FAIL": "quota exceeded"}})
    result = ClaudeRunner(settings).run(ask(tmp_path))
    assert not result.ok and result.exit_code == 1
    assert result.error is not None and result.error.startswith("exit: 1")
    assert "quota exceeded" in result.error and "quota exceeded" not in result.text


@pytest.mark.parametrize("kind", ["claude", "codex"])
def test_a_missing_binary_is_a_readable_not_found(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = RunnerSettings(command=str(tmp_path / "nowhere" / kind))
    with caplog.at_level(logging.WARNING, logger="tinyclaw.runner"):
        result = make_runner(kind, settings).run(ask(tmp_path))
    assert not result.ok and result.error == "not_found" and result.exit_code is None
    assert f"`{kind}` program was not found" in result.text
    assert any("not found" in r.getMessage() for r in caplog.records)


def test_without_a_command_path_and_search_dirs_are_tried(tmp_path: Path) -> None:
    runner = make_runner("codex", RunnerSettings(), search_dirs=[tmp_path], environ={"PATH": ""})
    assert runner.run(ask(tmp_path)).error == "not_found"


def test_an_unknown_runner_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        make_runner("gemini", RunnerSettings())


def test_secrets_never_reach_the_logs(
    fake_cli_settings: RunnerSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": "sk-very-secret"}
    settings = fake_cli_settings.model_copy(
        update={
            "pass_env": ["ANTHROPIC_API_KEY"],
            "env": {"FAKE_CLI_FAIL": "bad key sk-very-secret"},
        }
    )
    with caplog.at_level(logging.DEBUG, logger="tinyclaw.runner"):
        result = ClaudeRunner(settings, environ=environ).run(ask(tmp_path))
    assert not result.ok
    assert result.error is not None and "sk-very-secret" not in result.error
    assert "bad key ***" in result.error and "sk-very-secret" not in result.text
    assert "sk-very-secret" not in caplog.text


def test_chat_text_the_os_cannot_pass_is_a_failed_run_not_an_exception(
    fake_cli_settings: RunnerSettings, tmp_path: Path
) -> None:
    one_shot = fake_cli_settings.model_copy(update={"live": False})
    result = ClaudeRunner(one_shot).run(ask(tmp_path, "nul \x00 byte"))
    assert not result.ok and result.error is not None
    assert result.error.startswith("spawn_failed")
    assert result.text.startswith("Sorry, the assistant could not be started")


def test_a_run_logs_its_cost_in_dollars_and_cents(
    fake_cli_settings: RunnerSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tinyclaw.runner"):
        result = ClaudeRunner(fake_cli_settings).run(ask(tmp_path))
    assert result.ok, result
    (line,) = [r.getMessage() for r in caplog.records if " ok in " in r.getMessage()]
    assert re.search(r"cost=(\$\d+\.\d{4}|\?)$", line), line


def test_a_live_run_passes_the_same_text_as_json_on_stdin(
    fake_cli_settings: RunnerSettings, tmp_path: Path
) -> None:
    result = ClaudeRunner(fake_cli_settings).run(ask(tmp_path, "nul \x00 byte"))
    assert result.ok and result.text == "echo: nul \x00 byte"
