"""Runners: the ``claude`` and ``codex`` CLIs behind one small interface.

::

    runner = make_runner("claude", config.runners.claude, search_dirs=default_search_dirs(root))
    result = runner.run(RunRequest(prompt, actor="coder", workspace=path), on_event=print)

``run`` never raises for a CLI failure: ``result.ok`` is False and ``result.text`` is
a sentence for the chat user. See ``base.py`` for the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tinyclaw.config import RunnerSettings
from tinyclaw.core.errors import ConfigError
from tinyclaw.runners.argv import build_claude_argv, build_codex_argv
from tinyclaw.runners.base import RunEvent, Runner, RunRequest, RunResult
from tinyclaw.runners.claude import ClaudeRunner
from tinyclaw.runners.codex import CodexRunner
from tinyclaw.runners.environment import build_cli_env, default_search_dirs, resolve_command
from tinyclaw.runners.process import ProcessRunner
from tinyclaw.runners.sandbox import Confiner
from tinyclaw.runners.sessions import SessionStore

__all__ = [
    "ClaudeRunner",
    "CodexRunner",
    "ProcessRunner",
    "RunEvent",
    "RunRequest",
    "RunResult",
    "Runner",
    "SessionStore",
    "build_claude_argv",
    "build_cli_env",
    "build_codex_argv",
    "default_search_dirs",
    "make_runner",
    "resolve_command",
]


def make_runner(
    kind: str,
    settings: RunnerSettings,
    search_dirs: Iterable[Path] = (),
    *,
    environ: Mapping[str, str] | None = None,
    process: ProcessRunner | None = None,
    sandbox: Confiner | None = None,
) -> Runner:
    """The runner for ``kind`` ("claude" or "codex"); any other kind is a ConfigError."""
    runners: dict[str, type[ClaudeRunner] | type[CodexRunner]] = {
        "claude": ClaudeRunner,
        "codex": CodexRunner,
    }
    if kind not in runners:
        raise ConfigError(f"unknown runner {kind!r} (expected 'claude' or 'codex')")
    return runners[kind](
        settings, search_dirs=search_dirs, environ=environ, process=process, sandbox=sandbox
    )
