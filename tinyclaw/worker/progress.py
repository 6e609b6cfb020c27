"""The steps of a run, for the chat that waits for it.

Each tool call, command or file edit becomes a ``progress`` reply named
``<message id>.step<N>`` in ``queue/outgoing/<channel>/``, at most one every
``THROTTLE`` seconds per chat (a step that comes sooner is dropped, the next one after
the pause is shown). The text is made printable (no control characters reach a
terminal or a chat) and short. ``tinyclaw chat`` shows every step it gets; a chat
platform gets them when its channel says ``progress = "notes"`` (or ``"edit"``: its
listener edits one status message in place). The final reply ends
the run's steps; its listener may then remove or close what it showed (``meta``
carries ``progress_of``, the id of the message, and ``step``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tinyclaw.config import ChannelConfig, Config, progress_mode
from tinyclaw.core.messages import Inbound
from tinyclaw.core.printable import printable
from tinyclaw.runners import RunEvent
from tinyclaw.spool import Spool
from tinyclaw.worker.replies import reply_to

THROTTLE = 2.0
STEP_KINDS = {"tool": "🔧", "command": "$", "file_change": "✎"}
TERMINAL = "cli"


class ChatProgress:
    def __init__(self, config: Config, spool: Spool, *, clock: Callable[[], float]) -> None:
        self.config = config
        self.spool = spool
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}  # chat -> when its last step went

    def wanted(self, channel: str) -> bool:
        if channel == TERMINAL:
            return True
        settings = getattr(self.config.channels, channel, None)
        if not isinstance(settings, ChannelConfig):
            return False
        return progress_mode(channel, settings) in ("notes", "edit")

    def for_run(self, message: Inbound, actor: str) -> Callable[[RunEvent], None] | None:
        """The event hook of one run, or None when its chat wants no steps."""
        if message.kind not in ("chat", "operator") or not self.wanted(message.channel):
            return None
        chat = (message.channel, message.chat_id)
        count = 0

        def step(event: RunEvent) -> None:
            nonlocal count
            mark = STEP_KINDS.get(event.kind)
            if mark is None:
                return
            now = self.clock()
            with self._lock:
                if now - self._last.get(chat, -THROTTLE) < THROTTLE:
                    return
                self._last[chat] = now
            count += 1
            text = f"@{actor} {mark} {printable(event.text)[:200]}"
            reply = reply_to(message, text, kind="progress", actor=actor)
            meta = {"progress_of": message.id, "step": count}
            self.spool.put_reply(
                reply.model_copy(update={"id": f"{message.id}.step{count}", "meta": meta})
            )

        return step
