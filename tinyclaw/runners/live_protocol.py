"""Live runs: the two-way channel between a run and its CLI while the CLI works.

A one-shot run hands the CLI a prompt and reads until it exits. A live run keeps the
CLI's stdin open until the final answer is in, so four things can reach the agent
mid-run: a **steering** line (the owner adds to the task), an **interrupt** (stop
this turn, keep the session), an **answer** to a permission the CLI asked for, and a
**model switch** (``/model`` in the run's chat; claude only).

The runner speaks the CLI's protocol (:mod:`claude_live`, :mod:`codex_live`); where
those lines come from and where the questions go is the worker's business, behind
:class:`RunControls`. Everything here runs on the one thread that reads the CLI's
output, so a protocol object needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# What a person may answer; "timeout" is what nobody answering comes to (a deny).
Decision = Literal["allow", "allow_session", "deny", "timeout"]


@dataclass(frozen=True)
class Steer:
    """One line the owner typed for the agent that is running."""

    id: str
    text: str
    by: str = "owner"


@dataclass(frozen=True)
class ApprovalAsk:
    """A CLI asks whether it may use a tool. ``key`` is unique within the run."""

    key: str
    tool: str  # "Bash", "Write", … (claude); "command" or "file_change" (codex)
    detail: str  # the command or file, as the chat user and the window see it
    data: dict[str, Any] = field(default_factory=dict)


class RunControls(Protocol):
    """What the worker offers a live run; every method is called on the run's thread.

    ``take_steers`` hands each line over once (the caller writes it to the CLI and then
    calls ``delivered``; a line taken but never delivered is back in the box after a
    restart). ``ask`` publishes a permission request; ``decision`` is polled until it
    is not None (deny on timeout is the controls' job, never the runner's).
    ``take_model`` hands over the model the chat switched to since the last call, once
    (None: no switch); a protocol that cannot switch mid-run never calls it."""

    def take_steers(self) -> list[Steer]: ...

    def take_model(self) -> str | None: ...

    def delivered(self, steer: Steer) -> None: ...

    def ask(self, ask: ApprovalAsk) -> None: ...

    def decision(self, key: str) -> Decision | None: ...

    def settled(self, key: str, decision: Decision) -> None: ...


class NoControls:
    """Controls of a run nobody steers and nobody approves for: a tool the CLI asks
    about is denied at once (fail closed), which is what ``-p`` mode did anyway."""

    def take_steers(self) -> list[Steer]:
        return []

    def take_model(self) -> str | None:
        return None

    def delivered(self, steer: Steer) -> None:
        return None

    def ask(self, ask: ApprovalAsk) -> None:
        return None

    def decision(self, key: str) -> Decision | None:
        return "deny"

    def settled(self, key: str, decision: Decision) -> None:
        return None


Send = Callable[[dict[str, Any]], bool]


class Duplex(Protocol):
    """The protocol side of a live run, as :class:`ProcessRunner` drives it.

    ``started`` gets the function that writes one JSON line to the CLI's stdin (False
    once the pipe is gone). ``tick`` runs between output lines, at least every poll
    interval: it delivers steering lines and settled approvals. ``interrupt`` asks the
    CLI to stop its turn (True if the protocol can; the process is killed after a
    grace period either way). ``finished`` turns True with the final answer: the
    runner then closes stdin and the CLI exits by itself."""

    def started(self, send: Send) -> None: ...

    def tick(self) -> None: ...

    def interrupt(self) -> bool: ...

    @property
    def finished(self) -> bool: ...


class RedactedControls:
    """``inner``, but a permission question (which goes to a chat, the window and
    files) is redacted first: the command the model wants to run may quote a secret.
    ``text`` and ``data`` redact a string and a JSON-like value."""

    def __init__(
        self, inner: RunControls, text: Callable[[str], str], data: Callable[[Any], Any]
    ) -> None:
        self._inner = inner
        self._text = text
        self._data = data

    def take_steers(self) -> list[Steer]:
        return self._inner.take_steers()

    def take_model(self) -> str | None:
        return self._inner.take_model()

    def delivered(self, steer: Steer) -> None:
        self._inner.delivered(steer)

    def ask(self, ask: ApprovalAsk) -> None:
        self._inner.ask(
            ApprovalAsk(ask.key, ask.tool, self._text(ask.detail), self._data(ask.data))
        )

    def decision(self, key: str) -> Decision | None:
        return self._inner.decision(key)

    def settled(self, key: str, decision: Decision) -> None:
        self._inner.settled(key, decision)
