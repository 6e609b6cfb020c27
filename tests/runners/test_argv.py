"""The command lines tinyclaw builds for the CLIs: sessions are always named, and no
chat text can ever be read as a flag."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tinyclaw.config import RunnerSettings
from tinyclaw.runners import build_claude_argv, build_codex_argv
from tinyclaw.runners.argv import toml_string
from tinyclaw.runners.contract import RunRequest

NEW_ID = "11111111-2222-3333-4444-555555555555"


def request(**changes: object) -> RunRequest:
    base: dict[str, object] = {"prompt": "hello", "actor": "coder", "workspace": Path("/w")}
    base.update(changes)
    return RunRequest(**base)  # type: ignore[arg-type]


def test_claude_first_message_names_a_new_session() -> None:
    argv = build_claude_argv(RunnerSettings(), request(), NEW_ID)
    assert argv == [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        f"--session-id={NEW_ID}",
        "--",
        "hello",
    ]


def test_claude_follow_up_resumes_by_id_and_never_continues() -> None:
    argv = build_claude_argv(RunnerSettings(), request(session_id="abc"), NEW_ID)
    assert "--resume=abc" in argv
    assert not any(a.startswith("--session-id") for a in argv)
    assert "--continue" not in argv and "-c" not in argv


def test_claude_options_then_settings_args_then_prompt() -> None:
    settings = RunnerSettings(args=["--max-turns", "5"])
    req = request(model="opus", persona="Be brief.", permission_mode="acceptEdits")
    argv = build_claude_argv(settings, req, NEW_ID)
    assert argv[4:] == [
        f"--session-id={NEW_ID}",
        "--model=opus",
        "--append-system-prompt=Be brief.",
        "--permission-mode=acceptEdits",
        "--max-turns",
        "5",
        "--",
        "hello",
    ]


def test_claude_text_starting_with_a_dash_stays_text() -> None:
    req = request(prompt="--help me", persona="-x persona")
    argv = build_claude_argv(RunnerSettings(args=["--allowedTools", "Bash"]), req, None)
    assert argv[-2:] == ["--", "--help me"]
    assert "--append-system-prompt=-x persona" in argv


def test_codex_new_thread() -> None:
    req = request(model="gpt-5.5", permission_mode="workspace-write")
    argv = build_codex_argv(RunnerSettings(args=["-c", "x=1"]), req)
    assert argv == [
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--model=gpt-5.5",
        "--sandbox=workspace-write",
        "-c",
        "x=1",
        "--",
        "hello",
    ]


def test_codex_resume_passes_everything_again_and_never_picks_the_last() -> None:
    req = request(session_id="t-1", permission_mode="workspace-write", persona="P")
    argv = build_codex_argv(RunnerSettings(), req)
    assert argv[:2] == ["exec", "resume"]
    assert "--last" not in argv
    # `exec resume` has no --sandbox flag: the sandbox goes in as a config override.
    assert not any(a.startswith("--sandbox") for a in argv)
    assert 'sandbox_mode="workspace-write"' in argv
    assert 'developer_instructions="P"' in argv
    assert argv[-3:] == ["--", "t-1", "hello"]


def test_codex_persona_is_a_valid_toml_string_whatever_it_contains() -> None:
    persona = 'You are "Bob".\nUse \\ and tabs\t, emoji 🤖 and DEL \x7f.'
    argv = build_codex_argv(RunnerSettings(), request(persona=persona))
    override = argv[argv.index("-c") + 1]
    key, _, value = override.partition("=")
    assert key == "developer_instructions"
    assert tomllib.loads(f"v = {value}")["v"] == persona


def test_toml_string_escapes_quotes_and_controls() -> None:
    assert toml_string('a"b\\c\n') == '"a\\"b\\\\c\\u000a"'


def test_a_live_claude_run_reads_stdin_and_asks_only_when_someone_can_answer() -> None:
    live = build_claude_argv(RunnerSettings(), request(), None, live=True)
    assert live[:6] == [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--input-format",
        "stream-json",
    ]
    assert live[6:8] == ["--permission-prompt-tool", "stdio"]
    assert "--" not in live and "hello" not in " ".join(live)  # the prompt goes on stdin
    nobody = build_claude_argv(RunnerSettings(), request(ask_permissions=False), None, live=True)
    assert "--permission-prompt-tool" not in nobody
