"""A runner that answers at once, for measuring the queue rather than a CLI."""

from __future__ import annotations

import threading

from tinyclaw.runners.contract import EventSink, RunEvent, RunRequest, RunResult
from tinyclaw.runners.live_protocol import RunControls


class NoopRunner:
    """Implements the ``Runner`` protocol: "echo: <prompt>", no subprocess, no delay."""

    kind = "claude"

    def run(
        self,
        request: RunRequest,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        controls: RunControls | None = None,
    ) -> RunResult:
        if on_event is not None:
            on_event(RunEvent("result", "done"))
        return RunResult(
            text=f"echo: {request.prompt}",
            session_id=None,
            ok=True,
            exit_code=0,
            duration_s=0.0,
        )
