"""The files a team conversation writes: handoffs and fan-ins for actors' inboxes,
replies for the user. Pure builders; every id is derived from the conversation id and
a counter the caller took from the state, so a replay builds the same files."""

from __future__ import annotations

import hashlib

from tinyclaw.core.messages import Handoff, Inbound, Reply, Sender
from tinyclaw.teams import texts
from tinyclaw.teams.state import Branch, Conversation, Round

MAX_ID = 200


def derive_id(conversation_id: str, suffix: str) -> str:
    """``<conversation>.<suffix>``: sorts with the user's message, so team work queues
    ahead of newer messages; hashed when the conversation id is too long to extend."""
    if len(conversation_id) + 1 + len(suffix) <= MAX_ID:
        return f"{conversation_id}.{suffix}"
    return hashlib.sha256(conversation_id.encode()).hexdigest()[:40] + "." + suffix


def progress_id(conversation_id: str, number: int) -> str:
    """``<conversation>.0p0001``: listeners send a folder in name order, and the final
    answer is ``<conversation>.json``; the ``0`` sorts every progress line before it
    (``0`` < ``j``), so after a backlog the user still reads the progress first. Four
    digits keep the lines in order up to 9999 (a conversation has at most two per run)."""
    return derive_id(conversation_id, f"0p{number:04d}")


def handoff_message(conversation: Conversation, branch: Branch, context: str) -> Inbound:
    """The task file for ``branch.to_actor``'s inbox; replies reach the user's chat."""
    assert branch.message_id is not None
    return Inbound(
        id=branch.message_id,
        channel=conversation.channel,
        chat_id=conversation.chat_id,
        sender=Sender(id=f"actor:{branch.from_actor}", name=f"@{branch.from_actor}"),
        text=branch.task,
        kind="handoff",
        actor=branch.to_actor,
        message_id=conversation.message_id,
        is_group=conversation.is_group,
        conversation=conversation.chat_key,
        handoff=Handoff(
            from_actor=branch.from_actor,
            conversation=conversation.id,
            hop=branch.hop,
            context=context,
            branch=branch.id,
        ),
    )


def fanin_message(
    conversation: Conversation, round_: Round, branches: list[Branch], answerers: list[str]
) -> Inbound:
    """Every answer of a complete round, for the inbox of the actor that asked. Its
    ``branch`` is what that actor still owes (None: its answer goes to the user)."""
    return Inbound(
        id=round_.fanin_id,
        channel=conversation.channel,
        chat_id=conversation.chat_id,
        sender=Sender(id="team", name="team"),
        text=texts.fanin_text(branches),
        kind="fanin",
        actor=round_.actor,
        message_id=conversation.message_id,
        is_group=conversation.is_group,
        conversation=conversation.chat_key,
        handoff=Handoff(
            from_actor=", ".join(answerers)[:500],
            conversation=conversation.id,
            hop=round_.hop,
            branch=round_.parent_branch,
        ),
    )


def reply(
    conversation: Conversation,
    text: str,
    *,
    kind: str,
    actor: str | None,
    reply_id: str | None = None,
    files: list[str] | None = None,
    workspace: str | None = None,
    meta: dict[str, object] | None = None,
) -> Reply:
    """A reply to the user's message; by default with its id (the one `send` awaits)."""
    return Reply.model_validate(
        {
            "id": reply_id or conversation.id,
            "in_reply_to": conversation.id,
            "channel": conversation.channel,
            "chat_id": conversation.chat_id,
            "text": text[:100_000],
            "kind": kind,
            "actor": actor,
            "reply_to_message_id": conversation.message_id,
            "files": files or [],
            "workspace": workspace,
            "meta": meta or {},
        }
    )
