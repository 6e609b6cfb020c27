"""The Telegram side of ``python -m tests.chaos --telegram``: a real listener process serving
the loopback Telegram fake (``tests/fakes/telegram_api.py``), killed and restarted too.

Messages go in as updates from several allowed users (each a private chat). Telegram
keeps updates until a ``getUpdates`` offset confirms them, so a message written while
the listener is dead waits there, and one a killed listener had fetched but not
confirmed comes again: the spool's dedupe by message id filters the second copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.chaos.listener import USERS, ListenerSide
from tests.chaos.queues import QueueView
from tests.fakes.telegram_api import TOKEN, TelegramFake
from tinyclaw.core.home import Home

USER_IDS = [1001 + n for n in range(USERS)]


class TelegramSide(ListenerSide):
    platform = "telegram"

    def __init__(self, home: Home, repo: Path, queue: QueueView | None = None) -> None:
        super().__init__(home, repo, queue)
        self.fake = TelegramFake().start()

    def config(self) -> str:
        allow = ", ".join(f'"{u}"' for u in USER_IDS)
        return "\n".join(
            [
                "[channels.telegram]",
                "enabled = true",
                f"allow_from = [{allow}]",
                f"base_url = {json.dumps(self.fake.base_url)}",
                f"base_file_url = {json.dumps(self.fake.base_file_url)}",
                "",
            ]
        )

    def secrets(self) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": TOKEN}

    def chat_id(self, chat: int) -> str:
        return str(USER_IDS[chat % USERS])  # a private chat's id is the user's id

    def deliver(self, text: str, chat: int) -> None:
        user = self.fake.user(USER_IDS[chat % USERS], first_name=f"User{chat}")
        self.fake.push_message(user, text)

    def answers(self) -> list[tuple[str, str]]:
        return [(s.chat_id, s.text) for s in self.fake.sent if s.kind == "text"]

    def figures(self) -> dict[str, Any]:
        return {"pending_updates": self.fake.pending_updates()}

    def close_fake(self) -> None:
        self.fake.stop()
