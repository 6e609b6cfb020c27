"""A runner whose results and progress events carry no secret of the home.

The CLI runners already redact the keys they hand over themselves (``pass_env``).
This wrapper adds what only the worker knows: the platform tokens it is denied (by
fingerprint), the home's ``.env``, every credential-named variable. It wraps any
runner, so the reply, the live view (``logs/live/``) and the events of a run are
redacted in one place, whatever the runner.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from tinyclaw.core.redaction import Redactor
from tinyclaw.runners.base import EventSink, RunEvent, Runner, RunRequest, RunResult
from tinyclaw.runners.live import RedactedControls, RunControls


class RedactingRunner:
    """``Runner`` around ``inner`` with ``redactor`` applied to all it says."""

    def __init__(self, inner: Runner, redactor: Redactor) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.redactor = redactor

    def run(
        self,
        request: RunRequest,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        controls: RunControls | None = None,
    ) -> RunResult:
        redact = self.redactor
        sink = None
        if on_event is not None:
            downstream = on_event

            def sink(event: RunEvent) -> None:
                downstream(RunEvent(event.kind, redact(event.text), redact.deep(event.data)))

        if controls is not None:
            controls = RedactedControls(controls, redact, redact.deep)
        result = self.inner.run(request, sink, cancel, controls)
        return replace(
            result,
            text=redact(result.text),
            error=redact(result.error) if result.error else result.error,
        )
