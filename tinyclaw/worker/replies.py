"""The reply a message gets: built from a run's result, or from a plain text."""

from __future__ import annotations

from pathlib import Path

from tinyclaw.core.messages import MAX_TEXT, Inbound, Reply
from tinyclaw.runners import RunResult
from tinyclaw.worker.addressing import extract_send_files
from tinyclaw.worker.spending import ERROR_SPEND_LIMIT


def is_quiet(answer: str, token: str) -> bool:
    """Whether an answer is just the agreed "nothing to report" token."""
    from tinyclaw.schedule.heartbeat import is_heartbeat_ok

    return token == "HEARTBEAT_OK" and is_heartbeat_ok(answer)


def reply_to(
    message: Inbound,
    text: str,
    *,
    kind: str = "reply",
    actor: str | None = None,
    files: list[str] | None = None,
    workspace: str | None = None,
    meta: dict[str, object] | None = None,
) -> Reply:
    """A reply named by the message's id: written twice, it replaces itself."""
    return Reply.model_validate(
        {
            "id": message.id,
            "in_reply_to": message.id,
            "channel": message.channel,
            "chat_id": message.chat_id,
            "text": text[:MAX_TEXT],
            "kind": kind,
            "actor": actor,
            "reply_to_message_id": message.message_id,
            "files": files or [],
            "workspace": workspace,
            "meta": meta or {},
        }
    )


def result_reply(
    message: Inbound, actor: str, workspace: Path, result: RunResult, cancelled: str
) -> Reply | None:
    """What the user sees of a run; None when a heartbeat has nothing to report."""
    if cancelled == "user":
        return reply_to(message, f"Stopped @{actor} as asked.", kind="notice", actor=actor)
    if cancelled == "owner":
        text = f"The owner stopped @{actor}. Send a message to go on from here."
        return reply_to(message, text, kind="notice", actor=actor)
    if not result.ok:
        if result.error == ERROR_SPEND_LIMIT and message.meta.get("quiet_token"):
            return None  # a heartbeat over a limit: the owner was told once, not every beat
        return reply_to(message, result.text, kind="error", actor=actor)
    quiet = message.meta.get("quiet_token")
    if isinstance(quiet, str) and is_quiet(result.text, quiet):
        return None
    wanted = extract_send_files(result.text, workspace)
    text = wanted.text
    if wanted.refused:
        text += "\n\n(Not sent: " + "; ".join(wanted.refused) + ")"
    return reply_to(
        message,
        text or "(no text)",
        actor=actor,
        files=wanted.files,
        workspace=str(workspace),
        meta={
            "cost_usd": result.cost_usd,
            "usage": result.usage,
            "duration_s": round(result.duration_s, 3),
        },
    )
