"""The ``codex`` runner: ``codex app-server`` for a live run, else ``codex exec --json``."""

from __future__ import annotations

from tinyclaw.runners.argv import build_codex_argv
from tinyclaw.runners.cli import CliRunner, LiveStream, Stream
from tinyclaw.runners.codex_live import CodexLive
from tinyclaw.runners.codex_stream import CodexStream
from tinyclaw.runners.contract import EventSink, RunRequest
from tinyclaw.runners.live_protocol import RunControls


class CodexRunner(CliRunner):
    """Runs ``codex exec``; codex names new threads itself (``thread.started``)."""

    kind = "codex"

    def build_argv(self, request: RunRequest, new_session_id: str | None) -> list[str]:
        if self.settings.live:  # everything else travels as JSON-RPC (codex_live)
            return ["app-server", *self.settings.args]
        return build_codex_argv(self.settings, request)

    def new_stream(self) -> Stream:
        return CodexStream()

    def new_live(
        self, request: RunRequest, controls: RunControls, emit: EventSink
    ) -> LiveStream | None:
        return CodexLive(request, controls, emit, request.approval_policy or "never")
