"""The Discord side of ``scripts/chaos.py --discord``: a real listener process on the
loopback Discord fake's gateway and REST API (``tests/fakes/discord_api.py``), killed
and restarted too. Users write to the bot in DMs (one DM channel each).

Discord, unlike Telegram and Meta, keeps nothing for a bot that is away: a gateway
event goes to the connection that is up, and a new process (a fresh IDENTIFY, not a
RESUME) is not sent what it missed. So a message cannot wait in the fake the way a
Telegram update does; this side does the waiting:

* a message written while no listener is READY is held and dispatched once the next
  one is (``discord_held_offline``);
* a message dispatched to a listener that was killed before it queued it (no key in
  ``queue/seen/discord``) is dispatched again, with the same message id, to the next
  listener (``discord_redispatched``).

Both figures count messages that real Discord would not have brought to tinyclaw:
the listener does not read channel history after a restart. They are reported, not
hidden; what the run proves is that whatever reaches a listener is answered once.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

from chaos_listener import USERS, ListenerSide

from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_payloads import snowflake
from tinyclaw.core.home import Home


class DiscordSide(ListenerSide):
    platform = "discord"

    def __init__(self, home: Home, repo: Path) -> None:
        super().__init__(home, repo)
        self.fake = DiscordFake().start()
        self.users = [self.fake.user(f"user{n}") for n in range(USERS)]
        self.dms = [snowflake() for _ in self.users]  # each user's DM channel with the bot
        self.waiting: deque[dict[str, Any]] = deque()  # MESSAGE_CREATE payloads, oldest first
        self.unconfirmed: dict[str, dict[str, Any]] = {}  # dispatched to the current life
        self.held_offline = 0
        self.redispatched: set[str] = set()  # message ids dispatched again after a kill
        self._connections_before = 0
        self._wake = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name="chaos-discord-sender")
        self._sender.daemon = True
        self._sender.start()

    def config(self) -> str:
        allow = ", ".join(f'"{u.id}"' for u in self.users)
        return "\n".join(
            [
                "[channels.discord]",
                "enabled = true",
                f"allow_from = [{allow}]",
                f"api_base = {json.dumps(self.fake.api_base)}",
                f"gateway_url = {json.dumps(self.fake.gateway_url)}",
                "",
            ]
        )

    def secrets(self) -> dict[str, str]:
        return {"DISCORD_BOT_TOKEN": self.fake.token}

    def chat_id(self, chat: int) -> str:
        return self.dms[chat % USERS]

    def deliver(self, text: str, chat: int) -> None:
        n = chat % USERS
        payload = self.fake.message_payload(
            channel_id=self.dms[n], content=text, author=self.users[n]
        )
        with self.lock:
            if not self._ready():
                self.held_offline += 1
            self.waiting.append(payload)
        self._wake.set()

    def answers(self) -> list[tuple[str, str]]:
        return [(m.channel_id, m.content) for m in self.fake.messages]

    def pending(self) -> int:
        with self.lock:
            return len(self.waiting)

    def figures(self) -> dict[str, Any]:
        return {"held_offline": self.held_offline, "redispatched": len(self.redispatched)}

    # -- the gateway, seen from Discord's side -----------------------------------------

    def started(self) -> None:
        # Only a connection the new process opens counts; the killed one's may still
        # look READY to the fake until it notices the socket is gone.
        self._connections_before = len(self.fake.gateway.connections)

    def killed(self) -> None:
        missed = [
            payload
            for payload in self.unconfirmed.values()
            if not self.queued(payload["channel_id"], payload["id"])
        ]
        self.unconfirmed.clear()
        self.redispatched.update(payload["id"] for payload in missed)
        self.waiting.extendleft(reversed(missed))

    def _ready(self) -> bool:
        connections = self.fake.gateway.connections
        if not self.alive() or len(connections) <= self._connections_before:
            return False
        last = connections[-1]
        return last.ready and not last.ws.closed

    def _send_loop(self) -> None:
        """Dispatch waiting messages, oldest first, to the current READY listener."""
        while not self.closed.is_set():
            with self.lock:
                sent = self._dispatch_one()
            if not sent:
                self._wake.wait(0.02)
                self._wake.clear()

    def _dispatch_one(self) -> bool:
        if not self.waiting:
            return False
        payload = self.waiting[0]
        if not self._ready():
            return False
        try:
            self.fake.dispatch("MESSAGE_CREATE", payload)
        except (RuntimeError, OSError, TimeoutError):
            return False  # the connection went away meanwhile: try again
        self.waiting.popleft()
        self.unconfirmed[payload["id"]] = payload
        return True

    def close_fake(self) -> None:
        self._wake.set()
        self._sender.join(5)
        self.fake.stop()
