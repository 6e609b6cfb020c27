"""Runners: the ``claude`` and ``codex`` CLIs behind one small interface.

::

    runner = make_runner("claude", config.runners.claude, search_dirs=default_search_dirs(root))
    result = runner.run(RunRequest(prompt, actor="coder", workspace=path), on_event=print)

``run`` never raises for a CLI failure: ``result.ok`` is False and ``result.text`` is
a sentence for the chat user. See ``contract.py`` for the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tinyclaw.core import ConfigError, lazy_exports

if TYPE_CHECKING:
    from tinyclaw.config import RunnerSettings
    from tinyclaw.runners.argv import build_claude_argv, build_codex_argv
    from tinyclaw.runners.claude import ClaudeRunner
    from tinyclaw.runners.codex import CodexRunner
    from tinyclaw.runners.contract import (
        ERROR_KILLED,
        RunEvent,
        Runner,
        RunRequest,
        RunResult,
    )
    from tinyclaw.runners.environment import (
        build_cli_env,
        default_search_dirs,
        resolve_command,
    )
    from tinyclaw.runners.groups import GroupLedger
    from tinyclaw.runners.images import MAX_IMAGES, sniff
    from tinyclaw.runners.kv_sessions import KVSessionStore, open_session_store
    from tinyclaw.runners.live_log import JsonlTail, LiveSink, live_path
    from tinyclaw.runners.live_protocol import ApprovalAsk, Decision, Steer
    from tinyclaw.runners.process import ProcessRunner
    from tinyclaw.runners.redacting import RedactingRunner
    from tinyclaw.runners.sandbox import Confiner, Probe, Sandbox, probe_bwrap
    from tinyclaw.runners.session_moving import SessionsToMove
    from tinyclaw.runners.sessions import (
        FILE_NAME,
        Sessions,
        SessionState,
        SessionStore,
        copy_sessions,
        home_sessions,
    )
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "ERROR_KILLED",
    "FILE_NAME",
    "MAX_IMAGES",
    "ApprovalAsk",
    "ClaudeRunner",
    "CodexRunner",
    "Decision",
    "GroupLedger",
    "JsonlTail",
    "KVSessionStore",
    "LiveSink",
    "Probe",
    "ProcessRunner",
    "RedactingRunner",
    "RunEvent",
    "RunRequest",
    "RunResult",
    "Runner",
    "Sandbox",
    "SessionState",
    "SessionStore",
    "Sessions",
    "SessionsToMove",
    "Steer",
    "build_claude_argv",
    "build_cli_env",
    "build_codex_argv",
    "copy_sessions",
    "default_search_dirs",
    "home_sessions",
    "live_path",
    "make_runner",
    "open_session_store",
    "probe_bwrap",
    "resolve_command",
    "sniff",
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
    """The runner for ``kind`` ("claude" or "codex"); any other kind is a ConfigError.
    Only the kind asked for is imported: a worker whose actors all run claude never
    loads codex's modules."""
    if kind == "claude":
        from tinyclaw.runners.claude import ClaudeRunner

        return ClaudeRunner(
            settings, search_dirs=search_dirs, environ=environ, process=process, sandbox=sandbox
        )
    if kind == "codex":
        from tinyclaw.runners.codex import CodexRunner

        return CodexRunner(
            settings, search_dirs=search_dirs, environ=environ, process=process, sandbox=sandbox
        )
    raise ConfigError(f"unknown runner {kind!r} (expected 'claude' or 'codex')")
