"""The CLI's environment is an allow-list: a bot token of tinyclaw's never reaches it."""

from __future__ import annotations

import os
from pathlib import Path

from tinyclaw.config import RunnerSettings
from tinyclaw.runners import build_cli_env, resolve_command
from tinyclaw.runners.environment import default_search_dirs, redact, secret_values

TINYCLAW_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "xterm",
    "TZ": "Europe/Berlin",
    "TMPDIR": "/tmp",
    "USER": "ada",
    "LOGNAME": "ada",
    "SHELL": "/bin/bash",
    "HOME": "/home/ada",
    "TELEGRAM_BOT_TOKEN": "secret-xyz",
    "DISCORD_BOT_TOKEN": "secret-abc",
    "ANTHROPIC_API_KEY": "sk-ant-123",
    "PYTHONPATH": "/somewhere",
    "CODEX_HOME": "/home/ada/.codex",
}


def test_claude_gets_the_basics_and_its_home_and_nothing_else() -> None:
    env = build_cli_env(RunnerSettings(), "claude", TINYCLAW_ENV)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm",
        "TZ": "Europe/Berlin",
        "TMPDIR": "/tmp",
        "USER": "ada",
        "LOGNAME": "ada",
        "SHELL": "/bin/bash",
        "HOME": "/home/ada",
    }


def test_pass_env_copies_named_secrets_only_when_present() -> None:
    settings = RunnerSettings(pass_env=["ANTHROPIC_API_KEY", "NOT_SET_ANYWHERE"])
    env = build_cli_env(settings, "claude", TINYCLAW_ENV)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-123"
    assert "NOT_SET_ANYWHERE" not in env
    assert "TELEGRAM_BOT_TOKEN" not in env and "DISCORD_BOT_TOKEN" not in env


def test_literal_env_and_home_override(tmp_path: Path) -> None:
    settings = RunnerSettings(env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, home=str(tmp_path))
    env = build_cli_env(settings, "claude", TINYCLAW_ENV)
    assert env["HOME"] == str(tmp_path)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"


def test_relative_home_is_made_absolute_because_the_cli_runs_elsewhere() -> None:
    env = build_cli_env(RunnerSettings(home="state/claude"), "claude", TINYCLAW_ENV)
    assert env["HOME"] == os.path.abspath("state/claude")


def test_codex_gets_codex_home_from_settings_or_inherited() -> None:
    inherited = build_cli_env(RunnerSettings(), "codex", TINYCLAW_ENV)
    assert inherited["CODEX_HOME"] == "/home/ada/.codex"
    assert inherited["HOME"] == "/home/ada"
    own = build_cli_env(RunnerSettings(home="/srv/codex"), "codex", TINYCLAW_ENV)
    assert own["CODEX_HOME"] == "/srv/codex"
    assert "CODEX_HOME" not in build_cli_env(RunnerSettings(), "claude", TINYCLAW_ENV)


def test_no_codex_home_anywhere_means_none_is_set() -> None:
    environ = {k: v for k, v in TINYCLAW_ENV.items() if k != "CODEX_HOME"}
    assert "CODEX_HOME" not in build_cli_env(RunnerSettings(), "codex", environ)


def test_secrets_are_redacted_from_text_meant_for_logs() -> None:
    settings = RunnerSettings(
        pass_env=["ANTHROPIC_API_KEY"], env={"MY_TOKEN": "tok-999", "FLAG": "1"}
    )
    secrets = secret_values(settings, TINYCLAW_ENV)
    assert sorted(secrets) == ["sk-ant-123", "tok-999"]
    assert redact("key sk-ant-123 and tok-999 and 1", secrets) == "key *** and *** and 1"


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_resolve_prefers_path_then_the_homes_tools(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    on_path = _executable(bin_dir / "claude")
    tools = _executable(tmp_path / "home" / ".tools" / "node_modules" / ".bin" / "claude")
    search = default_search_dirs(tmp_path / "home")
    environ = {"PATH": str(bin_dir)}
    assert resolve_command("claude", RunnerSettings(), environ, search) == str(on_path)
    assert resolve_command("claude", RunnerSettings(), {"PATH": ""}, search) == str(tools)
    assert resolve_command("codex", RunnerSettings(), environ, search) is None


def test_resolve_explicit_command(tmp_path: Path) -> None:
    tool = _executable(tmp_path / "my-claude")
    assert resolve_command("claude", RunnerSettings(command=str(tool)), {}) == str(tool)
    missing = RunnerSettings(command=str(tmp_path / "nope"))
    assert resolve_command("claude", missing, {}) is None
    bare = RunnerSettings(command="my-claude")
    assert resolve_command("claude", bare, {"PATH": str(tmp_path)}) == str(tool)
