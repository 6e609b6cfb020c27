"""The words a team conversation uses: progress lines for the user, the fan-in an actor
reads, the report when a limit ends a conversation. Pure functions, one place.

None of these texts contains a ``[@name: ...]`` tag: an actor that quotes its prompt
back (the test fake does exactly that) must not hand work off by accident.
"""

from __future__ import annotations

from collections.abc import Iterable

from tinyclaw.teams.conversations import Branch

PROGRESS_ANSWER_CHARS = 2000
SUMMARY_ANSWER_CHARS = 1500
CONTEXT_CHARS = 500


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str, limit: int = 120) -> str:
    return clip(" ".join(text.split()), limit)


def as_code(task: str) -> str:
    """A task quoted on one line as inline code: a tag inside it (a nested handoff the
    teammate already made) must not fire again when the text is read back."""
    return "`" + one_line(task, 300).replace("`", "'") + "`"


def handoff_progress(actor: str, context: str, branches: Iterable[Branch]) -> str:
    """``@lead → @researcher: find flights``, one line per branch, refusals noted."""
    lines = [f"@{actor}: {clip(context, CONTEXT_CHARS)}"] if context.strip() else []
    for branch in branches:
        if branch.status == "refused":
            lines.append(f"@{actor} ✗ @{branch.to_actor}: not delivered ({refusal_reason(branch)})")
        else:
            lines.append(f"@{actor} → @{branch.to_actor}: {one_line(branch.task, 300)}")
    return "\n".join(lines)


def answer_progress(branch: Branch) -> str:
    return f"@{branch.to_actor} → @{branch.from_actor}:\n{clip(branch.answer or '', PROGRESS_ANSWER_CHARS)}"


def gave_up(actor: str, reason: str) -> str:
    """The answer of a branch whose task message failed for good."""
    return (
        f"(@{actor} could not answer: its task failed and was set aside "
        f"({one_line(reason, 200)}); carry on without it)"
    )


def refusal(problem: str, hint: str) -> str:
    """The answer a refused branch carries back to the actor that made it."""
    return f"(not delivered: {problem}. {hint})"


def refusal_reason(branch: Branch) -> str:
    answer = branch.answer or ""
    if answer.startswith("(not delivered: "):
        return answer[len("(not delivered: ") :].split(".", 1)[0]
    return "refused"


def fanin_text(branches: Iterable[Branch]) -> str:
    """What an actor reads once every task it handed off is answered."""
    parts = ["Every task you handed off has been answered."]
    for branch in branches:
        parts.append(f"## @{branch.to_actor}, on: {as_code(branch.task)}\n{branch.answer or ''}")
    parts.append(
        "Use these answers to finish your own work and reply. Hand off again only if "
        "something is still missing."
    )
    return "\n\n".join(parts)


def done_so_far(branches: Iterable[Branch]) -> str:
    lines = []
    for branch in branches:
        lines.append(
            f"- @{branch.to_actor} (asked by @{branch.from_actor}): {one_line(branch.task)}"
        )
        if branch.answer is None:
            lines.append("  → no answer yet")
        else:
            answer = clip(branch.answer, SUMMARY_ANSWER_CHARS).replace("\n", "\n    ")
            lines.append(f"  → {answer}")
    return "\n".join(lines) if lines else "- nothing had been handed off yet"


def ended_text(headline: str, branches: Iterable[Branch]) -> str:
    """The user's last message of a conversation that did not finish on its own."""
    return f"{headline}\n\nWhat was done so far:\n{done_so_far(branches)}"
