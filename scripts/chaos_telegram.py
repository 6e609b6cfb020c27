"""The Telegram side of ``scripts/chaos.py --telegram``: a real listener process serving
the loopback Telegram fake (``tests/fakes/telegram_api.py``), killed and restarted too.

Messages go in as Telegram updates from several allowed users (each a private chat);
the listener queues them (filtering redeliveries by the platform's message id), the
worker answers, the listener sends the answers to the fake. A message counts once per
``sendMessage`` the fake accepted whose text carries its number, so a listener that
resent a reply after a kill shows up here as a duplicate, the way a user would see it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.fakes.telegram_api import TOKEN, TelegramFake
from tinyclaw.home import Home
from tinyclaw.spool import Spool

USERS = [1001 + n for n in range(6)]
_NUMBER = re.compile(r"<(\d+)>")


class TelegramSide:
    def __init__(self, home: Home, repo: Path) -> None:
        self.home = home
        self.repo = repo
        # A listener SIGKILLed mid-request makes aiohttp log a traceback: expected here.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self.fake = TelegramFake().start()
        self.proc: subprocess.Popen[bytes] | None = None
        self.lives = 0
        self.expected: dict[int, str] = {}  # number -> actor

    def config(self) -> str:
        allow = ", ".join(f'"{u}"' for u in USERS)
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

    def start(self) -> float:
        self.lives += 1
        log = (self.home.logs / f"chaos-listener-{self.lives:03d}.stderr").open("wb")
        env = {**os.environ, "TINYCLAW_HOME": str(self.home.root), "TELEGRAM_BOT_TOKEN": TOKEN}
        env.pop("TINYCLAW_FAILPOINT", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tinyclaw", "listen", "telegram"],
            cwd=self.repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        return time.time()

    def kill(self) -> float:
        assert self.proc is not None
        when = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return when

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def close(self) -> None:
        self.fake.stop()

    def send(self, number: int, actor: str, chat: int) -> None:
        """A user writes to the bot: one update in the fake's queue."""
        self.expected[number] = actor
        user = self.fake.user(USERS[chat % len(USERS)], first_name=f"User{chat}")
        self.fake.push_message(user, f"@{actor} message <{number}>")

    def delivered(self) -> Counter[int]:
        """How many times each message number reached a chat in an answer."""
        counts: Counter[int] = Counter()
        for text in self.fake.texts():
            if text.startswith("echo: "):
                for match in _NUMBER.findall(text):
                    counts[int(match)] += 1
        return counts

    def settled(self) -> bool:
        done = self.delivered()
        spool = Spool(self.home)
        return all(n in done for n in self.expected) and not spool.list_box(
            spool.outgoing("telegram")
        )

    def audit(self) -> dict[str, Any]:
        done = self.delivered()
        spool = Spool(self.home)
        return {
            "telegram_messages": len(self.expected),
            "telegram_lost": sum(1 for n in self.expected if n not in done),
            "telegram_duplicated": sum(1 for n in self.expected if done[n] > 1),
            "telegram_left_in_outgoing": len(spool.list_box(spool.outgoing("telegram"))),
            "telegram_pending_updates": self.fake.pending_updates(),
            "listener_lives": self.lives,
        }
