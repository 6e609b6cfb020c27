"""The typing indicator: "typing…" in a chat while its message is being worked on.

Platforms let the indicator fade after ~5 s, so it is refreshed every ``interval``
seconds from the moment a message is queued until a final reply for that chat is
delivered, or ``cap`` seconds pass (a worker that never answers must not keep a chat
"typing" forever). It is cosmetic: a failed refresh is logged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tinyclaw.core.errors import TinyclawError


class TypingIndicator:
    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        interval: float = 4.0,
        cap: float = 600.0,
        log: logging.Logger | None = None,
    ) -> None:
        self._send = send
        self._interval = interval
        self._cap = cap
        self._log = log or logging.getLogger("tinyclaw.channels")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deadlines: dict[str, float] = {}

    def active(self, chat_id: str) -> bool:
        task = self._tasks.get(chat_id)
        return task is not None and not task.done()

    def start(self, chat_id: str) -> None:
        """Show typing in ``chat_id`` (again); a second start only extends the cap."""
        loop = asyncio.get_running_loop()
        self._deadlines[chat_id] = loop.time() + self._cap
        if not self.active(chat_id):
            self._tasks[chat_id] = asyncio.create_task(
                self._loop(chat_id), name=f"typing-{chat_id}"
            )

    def stop(self, chat_id: str) -> None:
        task = self._tasks.pop(chat_id, None)
        self._deadlines.pop(chat_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._deadlines.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, chat_id: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            while loop.time() < self._deadlines.get(chat_id, 0.0):
                try:
                    await self._send(chat_id)
                except TinyclawError as exc:  # cosmetic: even an auth error is found elsewhere
                    self._log.debug("typing indicator in %s failed: %s", chat_id, exc)
                await asyncio.sleep(self._interval)
        finally:
            if self._tasks.get(chat_id) is asyncio.current_task():
                del self._tasks[chat_id]
                self._deadlines.pop(chat_id, None)
