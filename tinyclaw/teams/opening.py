"""Opening a team conversation: the state a user's message starts, before any run.

The conversation takes the user's message id as its own, so every id derived from it
(handoffs, fan-ins, progress, the final answer) sorts with that message and a replay
after a crash makes the same files."""

from __future__ import annotations

from tinyclaw.config import Config
from tinyclaw.core.messages import Inbound
from tinyclaw.teams.roster import conversation_team
from tinyclaw.teams.state import Conversation, Entry
from tinyclaw.worker.addressing import parse_address

FROM_PEOPLE = frozenset({"chat", "command"})  # kinds a listener writes for a person


def new_conversation(
    config: Config, message: Inbound, actor: str, started_at: float
) -> Conversation:
    addressed, text = (None, message.text) if message.actor else parse_address(message.text)
    conversation = Conversation(
        id=message.id,
        team=conversation_team(config, actor, addressed),
        root_actor=actor,
        channel=message.channel,
        chat_id=message.chat_id,
        chat_key=message.conversation_key,
        sender_id=message.sender.id if message.kind in FROM_PEOPLE else None,
        message_id=message.message_id,
        is_group=message.is_group,
        request=text,
        started_at=started_at,
        started=[message.id],
    )
    conversation.log.append(
        Entry(
            at=min(message.received_at.timestamp(), started_at),
            kind="request",
            actor="user",
            to=actor,
            message_id=message.id,
            text=text,
        )
    )
    return conversation
