"""The ``claude`` runner (Claude Code in print mode)."""

from __future__ import annotations

import uuid

from tinyclaw.runners.argv import build_claude_argv
from tinyclaw.runners.claude_live import ClaudeLive
from tinyclaw.runners.claude_stream import ClaudeStream
from tinyclaw.runners.cli import CliRunner, LiveStream, Stream
from tinyclaw.runners.contract import EventSink, RunRequest
from tinyclaw.runners.live_protocol import RunControls


class ClaudeRunner(CliRunner):
    """Runs ``claude -p``; a new conversation gets a session id chosen here, so it is
    known even if the run dies before the CLI prints anything."""

    kind = "claude"

    def build_argv(self, request: RunRequest, new_session_id: str | None) -> list[str]:
        return build_claude_argv(self.settings, request, new_session_id, live=self.settings.live)

    def new_session_id(self) -> str | None:
        return str(uuid.uuid4())

    def new_stream(self) -> Stream:
        return ClaudeStream()

    def new_live(
        self, request: RunRequest, controls: RunControls, emit: EventSink
    ) -> LiveStream | None:
        return ClaudeLive(request.prompt, controls, emit, request.images)
