"""The chat side of the stories: the user the listeners are allowed to hear, the
WhatsApp app's secrets, and a recording ``sleep`` so backoff and retry-after are
asserted without waiting."""

from __future__ import annotations

import asyncio

ALICE_ID = 1001
"""The Telegram user every test listener allows (``allow_from``)."""

WHATSAPP_APP_SECRET = "app-secret-for-tests"
WHATSAPP_VERIFY = "verify-me"


class RecordedSleeps(list[float]):
    """An injected ``sleep``: remembers each delay asked for and yields at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)
