"""What a CLI's output says about its run, before timeouts and spawning are considered.

Both stream parsers reduce their events to a :class:`Summary`; the runner turns it
into a :class:`~tinyclaw.runners.base.RunResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Summary:
    ok: bool
    text: str  # the reply, or a sentence for the chat user on error
    session_id: str | None
    error: str | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def killed_by_signal(exit_code: int | None) -> bool:
    """Whether the CLI ended by a signal (``Popen`` reports -N) rather than exiting.

    A result line printed before such an end is complete: the CLI writes it last,
    so a kill in the moment between that line and the exit must not turn a finished
    answer into an error."""
    return exit_code is not None and exit_code < 0


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters, for reasons and log lines."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def last_line(text: str) -> str:
    """The last non-empty line of a stderr tail (usually the actual error)."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""
