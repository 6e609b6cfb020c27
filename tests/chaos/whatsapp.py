"""The WhatsApp side of ``python -m tests.chaos --whatsapp``: a real listener process whose
Graph API calls go to the loopback WhatsApp fake (``tests/fakes/whatsapp_api.py``) and
whose webhook server (uvicorn) takes Meta's signed POSTs, killed and restarted too.

This side plays Meta's webhook delivery: one POST at a time, in order, retried until
the listener answers 200 (which it does only once the message is queued). A POST that
finds the listener dead (connection refused) or loses it mid-request (connection
reset) is posted again, as Meta retries; a retry of a message the dead listener had
already queued is dropped by the spool's dedupe on the WhatsApp message id.
``whatsapp_webhook_retries`` counts those retried POSTs.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.listener import USERS, ListenerSide
from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake, sign
from tests.support.ports import free_port
from tinyclaw.core.home import Home

APP_SECRET = "chaos-app-secret"
VERIFY_TOKEN = "chaos-verify"
NUMBERS = [f"1631555{2000 + n}" for n in range(USERS)]
RETRY_PAUSE = 0.05


class WhatsAppSide(ListenerSide):
    platform = "whatsapp"

    def __init__(self, home: Home, repo: Path) -> None:
        super().__init__(home, repo)
        self.fake = WhatsAppFake().start()
        self.port = free_port()  # the same port for every life, as Meta knows one URL
        self.meta = WebhookSender.for_fake(self.fake, f"http://127.0.0.1:{self.port}/", APP_SECRET)
        self.waiting: deque[bytes] = deque()  # signed bodies Meta has yet to get a 200 for
        self.retries = 0
        self._wake = threading.Event()
        self._sender = threading.Thread(target=self._post_loop, name="chaos-whatsapp-meta")
        self._sender.daemon = True
        self._sender.start()

    def config(self) -> str:
        allow = ", ".join(f'"{n}"' for n in NUMBERS)
        return "\n".join(
            [
                "[channels.whatsapp]",
                "enabled = true",
                f"allow_from = [{allow}]",
                f"phone_id = {json.dumps(self.fake.phone_id)}",
                f"api_base = {json.dumps(self.fake.base_url)}",
                'host = "127.0.0.1"',
                f"port = {self.port}",
                "",
            ]
        )

    def secrets(self) -> dict[str, str]:
        return {
            "WHATSAPP_TOKEN": self.fake.token,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_APP_SECRET": APP_SECRET,
        }

    def chat_id(self, chat: int) -> str:
        return NUMBERS[chat % USERS]  # a 1:1 chat's id is the user's number

    def deliver(self, text: str, chat: int) -> None:
        update = self.meta.text(text, wa_id=self.chat_id(chat), name=f"User{chat}")
        with self.lock:
            self.waiting.append(self.meta.body_of(update))
        self._wake.set()

    def answers(self) -> list[tuple[str, str]]:
        return [(m.to, m.text) for m in self.fake.messages if m.text is not None]

    def pending(self) -> int:
        with self.lock:
            return len(self.waiting)

    def figures(self) -> dict[str, Any]:
        return {"webhook_retries": self.retries}

    def _post_loop(self) -> None:
        """Meta's delivery: the oldest update first, again and again until a 200."""
        with httpx.Client(timeout=10.0) as http:  # one kept-alive connection, as Meta's
            while not self.closed.is_set():
                with self.lock:
                    body = self.waiting[0] if self.waiting else None
                if body is None:
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(body, APP_SECRET),
                }
                try:
                    accepted = http.post(self.meta.url, content=body, headers=headers)
                    ok = accepted.status_code == 200
                except httpx.TransportError:
                    ok = False
                if ok:
                    with self.lock:
                        self.waiting.popleft()
                else:
                    self.retries += 1
                    self.closed.wait(RETRY_PAUSE)

    def close_fake(self) -> None:
        self._wake.set()
        self._sender.join(15)
        self.fake.stop()
