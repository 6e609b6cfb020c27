"""Teams: actors handing work to each other through their inboxes, crash-safely.

``tags`` reads ``[@member: task]`` out of a reply; ``roster`` says who may address
whom; ``planner`` decides what a result means for its conversation; ``conversations`` keeps
that on disk (``shared_store`` in a key-value bucket on NATS); ``coordinator`` runs the steps in a crash-safe order for the worker;
``transcript`` and ``tracing`` show people what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinyclaw.core import lazy_exports

if TYPE_CHECKING:
    from tinyclaw.teams.conversations import Conversation, Conversations, ConversationStore
    from tinyclaw.teams.coordinator import Coordinator
    from tinyclaw.teams.roster import describe, teammates, teams_of
    from tinyclaw.teams.shared_store import SharedConversationStore, open_conversations
    from tinyclaw.teams.sweep import TeamSweep
    from tinyclaw.teams.tracing import trace, trace_data
else:
    __getattr__ = lazy_exports(__name__)  # imports each name on first use

__all__ = [
    "Conversation",
    "ConversationStore",
    "Conversations",
    "Coordinator",
    "SharedConversationStore",
    "TeamSweep",
    "describe",
    "open_conversations",
    "teammates",
    "teams_of",
    "trace",
    "trace_data",
]
