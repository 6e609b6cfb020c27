"""The fake's memory of messages: what ``GET /channels/{id}/messages`` reads back.

Every message the fake knows of is kept per channel: the ones pushed over the gateway,
the ones written while no listener was connected (:meth:`DiscordFake.write_offline`)
and the bot's own replies. Discord's ordering is kept because discord.py depends on
it: a page is always **newest first**, also with ``after`` (then it is the ``limit``
messages right after that id); ``history(oldest_first=True)`` reverses each page
itself and takes the first id of a page as the next ``after``.
"""

from __future__ import annotations

import threading
from typing import Any

MAX_LIMIT = 100


class ChannelHistory:
    """Message payloads by channel id, safe to use from the test's and the fake's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_channel: dict[str, list[dict[str, Any]]] = {}

    def add(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._by_channel.setdefault(str(payload["channel_id"]), []).append(payload)

    def known(self, channel_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_channel.get(channel_id, ()))

    def page(self, channel_id: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """One page as Discord answers it: ``after``/``before``/``around`` ids and
        ``limit`` (1–100, default 50); newest first."""
        limit = max(1, min(MAX_LIMIT, int(query.get("limit", "50"))))
        ordered = sorted(self.known(channel_id), key=lambda m: int(m["id"]))
        if "after" in query:
            after = int(query["after"])
            chosen = [m for m in ordered if int(m["id"]) > after][:limit]
        else:
            before = int(query["before"]) if "before" in query else None
            older = [m for m in ordered if before is None or int(m["id"]) < before]
            chosen = older[-limit:]
        return list(reversed(chosen))
