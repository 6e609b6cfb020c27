"""What a CLI's output says about its run, before timeouts and spawning are considered.

Both stream parsers reduce their events to a :class:`Summary`; the runner turns it
into a :class:`~tinyclaw.runners.contract.RunResult`.
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


def signal_number(exit_code: int | None) -> int | None:
    """The signal that ended the CLI, or None if it exited. ``Popen`` reports signal
    N as -N; a sandboxed CLI's is reported by bwrap, which (like a shell) exits with
    128 + N when its child dies of signal N."""
    if exit_code is None:
        return None
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def killed_by_signal(exit_code: int | None) -> bool:
    """Whether the CLI ended by a signal rather than exiting (:func:`signal_number`).

    A result line printed before such an end is complete: the CLI writes it last,
    so a kill in the moment between that line and the exit must not turn a finished
    answer into an error."""
    return signal_number(exit_code) is not None


# What a chat user is told when a run fails. The reason itself (an API message, a
# stderr line) can name internal addresses, hosts or paths ("check your inference
# gateway (127.0.0.1:39645)"), so it goes to RunResult.error, which the log, the event
# log, `tinyclaw trace` and the actor window show the owner, and never into the reply.
SEE_LOG = "The owner can find the details in tinyclaw's log."
API_FAILED = (
    f"Sorry, the assistant ran into an error reaching its model and could not answer. {SEE_LOG}"
)


def exit_failed(exit_code: int | None) -> str:
    return f"Sorry, the assistant stopped with an error (exit code {exit_code}). {SEE_LOG}"


def with_detail(reason: str, detail: str | None, limit: int = 300) -> str:
    """``exit: 2`` + ``config.toml: bad key`` → ``exit: 2 config.toml: bad key``: the
    short reason first (as RunResult.error promises), the detail for the owner after it."""
    return f"{reason} {shorten(detail, limit)}" if detail else reason


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
