"""The ``codex`` runner (``codex exec --json``)."""

from __future__ import annotations

from tinyclaw.runners.argv import build_codex_argv
from tinyclaw.runners.base import RunRequest
from tinyclaw.runners.cli import CliRunner, Stream
from tinyclaw.runners.codex_stream import CodexStream


class CodexRunner(CliRunner):
    """Runs ``codex exec``; codex names new threads itself (``thread.started``)."""

    kind = "codex"

    def build_argv(self, request: RunRequest, new_session_id: str | None) -> list[str]:
        return build_codex_argv(self.settings, request)

    def new_stream(self) -> Stream:
        return CodexStream()
