"""What the ``claude`` and ``codex`` runners share: resolve, spawn, stream, judge.

A subclass says only how to build its argv and how to read its stream. Everything a
CLI can do wrong ends here as a ``RunResult(ok=False)`` with a sentence for the chat
user and one log line (secrets redacted); a stale session id is retried once as a
new session, because a conversation the CLI forgot is not worth an error message.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from tinyclaw.config import RunnerSettings
from tinyclaw.runners.contract import (
    ERROR_CANCELLED,
    ERROR_EXIT,
    ERROR_KILLED,
    ERROR_NOT_FOUND,
    ERROR_SESSION,
    ERROR_SPAWN,
    ERROR_TIMEOUT,
    EventSink,
    RunEvent,
    RunRequest,
    RunResult,
)
from tinyclaw.runners.environment import build_cli_env, redact, resolve_command, secret_values
from tinyclaw.runners.live_protocol import (
    Duplex,
    NoControls,
    RedactedControls,
    RunControls,
)
from tinyclaw.runners.process import ProcessOutcome, ProcessRunner
from tinyclaw.runners.sandbox import Confiner
from tinyclaw.runners.summary import (
    SEE_LOG,
    Summary,
    last_line,
    shorten,
    signal_number,
    with_detail,
)

log = logging.getLogger("tinyclaw.runner")


class Stream(Protocol):
    """A stream parser: ClaudeStream or CodexStream."""

    def feed(self, line: str) -> list[RunEvent]: ...

    def summary(self, exit_code: int | None, stderr: str) -> Summary: ...

    @property
    def session(self) -> str | None: ...


class LiveStream(Stream, Duplex, Protocol):
    """A stream parser that also drives a live run (``ClaudeLive``, ``CodexLive``)."""


def _ignore(event: RunEvent) -> None:
    return None


class CliRunner:
    """A Runner for one CLI; subclasses set ``kind`` and implement the two hooks."""

    kind = "cli"

    def __init__(
        self,
        settings: RunnerSettings,
        *,
        search_dirs: Iterable[Path] = (),
        environ: Mapping[str, str] | None = None,
        process: ProcessRunner | None = None,
        clock: Callable[[], float] = time.monotonic,
        sandbox: Confiner | None = None,
    ) -> None:
        """``environ`` is tinyclaw's environment (default: ``os.environ`` at run time);
        the CLI gets only the parts :func:`build_cli_env` picks from it. ``sandbox``
        confines each CLI it starts (``runners.sandbox.Sandbox``); None: unconfined."""
        self._sandbox = sandbox
        self.settings = settings
        self._search_dirs = list(search_dirs)
        self._environ = environ
        self._process = process or ProcessRunner(clock=clock)
        self._clock = clock

    # -- hooks ---------------------------------------------------------------------------

    def build_argv(self, request: RunRequest, new_session_id: str | None) -> list[str]:
        raise NotImplementedError

    def new_session_id(self) -> str | None:
        """An id to name a new session with, if the CLI accepts one."""
        return None

    def new_stream(self) -> Stream:
        raise NotImplementedError

    def new_live(
        self, request: RunRequest, controls: RunControls, emit: EventSink
    ) -> LiveStream | None:
        """The live protocol for ``request`` (used when ``settings.live`` is on), or
        None for a CLI that only runs one-shot."""
        return None

    # -- the run -------------------------------------------------------------------------

    def run(
        self,
        request: RunRequest,
        on_event: EventSink | None = None,
        cancel: threading.Event | None = None,
        controls: RunControls | None = None,
    ) -> RunResult:
        """``controls`` (live runs only) bring steering lines and approval answers in."""
        started = self._clock()
        environ = dict(os.environ if self._environ is None else self._environ)
        controls = controls or NoControls()
        result = self._attempt(request, on_event or _ignore, cancel, environ, controls)
        if result.error == ERROR_SESSION and request.session_id:
            log.warning(
                "actor=%s %s: session %s is unknown to the CLI; starting a new one",
                request.actor,
                self.kind,
                request.session_id,
            )
            fresh = replace(request, session_id=None)
            result = self._attempt(fresh, on_event or _ignore, cancel, environ, controls)
        return replace(result, duration_s=self._clock() - started)

    def _attempt(
        self,
        request: RunRequest,
        emit: EventSink,
        cancel: threading.Event | None,
        environ: dict[str, str],
        controls: RunControls,
    ) -> RunResult:
        secrets = secret_values(self.settings, environ)
        command = resolve_command(self.kind, self.settings, environ, self._search_dirs)
        if command is None:
            log.warning(
                "actor=%s %s: program %r not found (PATH and %s)",
                request.actor,
                self.kind,
                self.settings.command or self.kind,
                ", ".join(str(d) for d in self._search_dirs) or "no extra dirs",
            )
            return self._not_found(request, 0.0)
        new_id = None if request.session_id else self.new_session_id()
        argv = [command, *self.build_argv(request, new_id)]
        env = build_cli_env(self.settings, self.kind, environ)
        live: LiveStream | None = None
        if self.settings.live:
            guarded = RedactedControls(
                controls,
                lambda text: redact(text, secrets),
                lambda data: _redact_value(data, secrets),
            )
            live = self.new_live(request, guarded, lambda event: emit(_redacted(event, secrets)))
        stream: Stream = live if live is not None else self.new_stream()
        log.info(
            "actor=%s %s start: %s session=%s cwd=%s prompt=%d chars",
            request.actor,
            self.kind,
            command,
            request.session_id or f"new:{new_id or '?'}",
            request.workspace,
            len(request.prompt),
        )

        def on_line(line: str) -> None:
            for event in stream.feed(line):
                # Progress goes to logs/live/<actor>.jsonl,
                # and a tool's output (`env`) or the model's text may quote a pass_env key.
                emit(_redacted(event, secrets))

        def on_start(pid: int) -> None:
            data = {
                "pid": pid,
                "actor": request.actor,
                "runner": self.kind,
                "session_id": request.session_id or new_id,
                "resume": request.session_id is not None,
            }
            emit(RunEvent("start", f"{self.kind} started (pid {pid})", data))

        if self._sandbox is not None:
            argv, env = self._sandbox(request, argv, env, emit)
        outcome = self._process.run(
            argv,
            cwd=request.workspace,
            env=env,
            timeout=request.timeout,
            on_line=on_line,
            on_start=on_start,
            cancel=cancel,
            duplex=live,
        )
        result = self._judge(request, outcome, stream)
        if result.text:
            result = replace(result, text=redact(result.text, secrets))
        if result.error:  # the worker puts `error` into logs/events.jsonl
            result = replace(result, error=redact(result.error, secrets))
        self._log_result(request, result, outcome, secrets)
        return result

    def _judge(self, request: RunRequest, outcome: ProcessOutcome, stream: Stream) -> RunResult:
        session = stream.session or request.session_id
        if outcome.not_found:
            return self._not_found(request, outcome.duration_s)
        if outcome.spawn_error is not None:
            return RunResult(
                text=f"Sorry, the assistant could not be started. {SEE_LOG}",
                session_id=request.session_id,
                ok=False,
                exit_code=None,
                duration_s=outcome.duration_s,
                error=with_detail(ERROR_SPAWN + ":", outcome.spawn_error),
            )
        if outcome.timed_out:
            return RunResult(
                text=f"The assistant took longer than {request.timeout:g} s and was stopped.",
                session_id=session,
                ok=False,
                exit_code=outcome.exit_code,
                duration_s=outcome.duration_s,
                error=ERROR_TIMEOUT,
            )
        if outcome.cancelled:
            return RunResult(
                text="The assistant was stopped before it finished.",
                session_id=session,
                ok=False,
                exit_code=outcome.exit_code,
                duration_s=outcome.duration_s,
                error=ERROR_CANCELLED,
            )
        summary = stream.summary(outcome.exit_code, outcome.stderr)
        exited = f"{ERROR_EXIT}: {outcome.exit_code}"
        if not summary.ok and summary.error and summary.error.split(" ", 2)[:2] == exited.split():
            summary = _killed(summary, outcome.exit_code)
        return RunResult(
            text=summary.text,
            session_id=summary.session_id or session,
            ok=summary.ok,
            exit_code=outcome.exit_code,
            duration_s=outcome.duration_s,
            cost_usd=summary.cost_usd,
            usage=summary.usage,
            error=summary.error,
        )

    def _not_found(self, request: RunRequest, duration: float) -> RunResult:
        return RunResult(
            text=(
                f"Sorry, the assistant is not available: the `{self.kind}` program was not "
                "found. The operator needs to install it or set its command in tinyclaw.toml."
            ),
            session_id=request.session_id,
            ok=False,
            exit_code=None,
            duration_s=duration,
            error=ERROR_NOT_FOUND,
        )

    def _log_result(
        self, request: RunRequest, result: RunResult, outcome: ProcessOutcome, secrets: list[str]
    ) -> None:
        if result.ok:
            log.info(
                "actor=%s %s ok in %.1f s session=%s cost=%s",
                request.actor,
                self.kind,
                outcome.duration_s,
                result.session_id,
                "?" if result.cost_usd is None else f"${result.cost_usd:.4f}",
            )
            return
        stderr = redact(shorten(last_line(outcome.stderr), 300), secrets)
        log.warning(
            "actor=%s %s failed in %.1f s: %s (exit %s, pid %s)%s",
            request.actor,
            self.kind,
            outcome.duration_s,
            redact(result.error or "?", secrets),
            result.exit_code,
            outcome.pid,
            f"; stderr: {stderr}" if stderr else "",
        )


def _killed(summary: Summary, exit_code: int | None) -> Summary:
    """A CLI ended by a signal we did not send, before its result line: the run was
    interrupted, not refused, so the worker may try it again (``ERROR_KILLED``).

    The streams judge a complete successful result as the answer whatever the exit
    signal, so only a run with no result line (or a failed one) gets here."""
    number = signal_number(exit_code)
    if number is None:
        return summary
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return replace(
        summary,
        text=f"Sorry, the assistant was stopped from outside ({name}) before it answered.",
        error=f"{ERROR_KILLED}: {name}",
    )


def _redacted(event: RunEvent, secrets: list[str]) -> RunEvent:
    """``event`` with every secret value in its text and data replaced by ``***``."""
    if not secrets:
        return event
    return RunEvent(event.kind, redact(event.text, secrets), _redact_value(event.data, secrets))


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _redact_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item, secrets) for item in value]
    return value
