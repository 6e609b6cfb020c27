"""One adapter per chat platform for the conformance suite: the real library of the
platform (python-telegram-bot, discord.py, pywa) runs our listener against the
platform's loopback fake, and the adapter says, in the platform's own terms, how a user
writes, what the bot answered and how the platform refuses a chat that is gone.

The queue side is the same for all three and lives in the tests: a message is read
from ``queue/incoming``, a reply is written into ``queue/outgoing/<platform>``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from tests.fakes.discord_api import DiscordFake
from tests.fakes.discord_api import ScriptedError as DiscordError
from tests.fakes.discord_harness import ListenerKit
from tests.fakes.telegram_api import ScriptedError as TelegramError
from tests.fakes.telegram_api import TelegramFake, utf16_len
from tests.fakes.whatsapp_api import ScriptedError as WhatsAppError
from tests.fakes.whatsapp_api import WebhookSender, WhatsAppFake
from tests.support.channels import ALICE_ID, WHATSAPP_APP_SECRET
from tinyclaw.channels.base import RetryPolicy
from tinyclaw.channels.whatsapp import WhatsAppChannel
from tinyclaw.config import ChannelConfig
from tinyclaw.core.home import Home


class Platform(ABC):
    """A chat platform as the conformance tests see it."""

    name: str
    limit: int  # the most one message may carry, in the platform's own measure
    user_id: str  # the allowed user
    user_chat: str  # their chat with the bot
    gone_chat: str  # a chat that no longer exists
    gone_reason: str  # what the platform says about it, kept in the failure's reason

    def measure(self, text: str) -> int:
        return len(text)

    @abstractmethod
    def running(self) -> AbstractAsyncContextManager[None]:
        """The listener, started against the fake for the block."""

    @abstractmethod
    async def user_writes(self, text: str) -> str:
        """The allowed user writes ``text`` to the bot; returns the platform's message id."""

    @abstractmethod
    async def user_sends_file(self, name: str, data: bytes, mime: str, caption: str) -> None:
        """The allowed user sends a document with a caption."""

    @abstractmethod
    async def stranger_writes(self, text: str) -> tuple[str, str]:
        """Someone not on the allow list writes; returns their user id and the chat."""

    @abstractmethod
    def answers(self, chat: str) -> list[str]:
        """The texts the bot sent into ``chat``, in order."""

    @abstractmethod
    def quoted(self, chat: str) -> list[str | None]:
        """For each text the bot sent into ``chat``: the message it answers, if any."""

    @abstractmethod
    def files(self) -> list[bytes]:
        """The files the bot uploaded, in order."""

    @abstractmethod
    def chat_is_gone(self) -> None:
        """The next send is refused the way the platform refuses a deleted chat."""


class Telegram(Platform):
    name = "telegram"
    limit = 4096  # UTF-16 code units
    user_id = user_chat = str(ALICE_ID)
    gone_chat = "-100999"
    gone_reason = "Chat not found"

    def __init__(self, fake: TelegramFake, run_telegram: Callable[..., Any]) -> None:
        self.fake = fake
        self._run = run_telegram
        self.alice = fake.user(ALICE_ID, "Alice", "alice")

    def measure(self, text: str) -> int:
        return utf16_len(text)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._run():
            yield

    async def user_writes(self, text: str) -> str:
        update = self.fake.push_message(self.alice, text)
        return str(update["message"]["message_id"])

    async def user_sends_file(self, name: str, data: bytes, mime: str, caption: str) -> None:
        self.fake.push_message(self.alice, None, caption=caption, document=(name, data, mime))

    async def stranger_writes(self, text: str) -> tuple[str, str]:
        self.fake.push_message(self.fake.user(666, "Mallory", "mallory"), text)
        return "666", "666"

    def answers(self, chat: str) -> list[str]:
        return self.fake.texts(chat)

    def quoted(self, chat: str) -> list[str | None]:
        texts = [s for s in self.fake.sent if s.kind == "text" and s.chat_id == chat]
        return [None if s.reply_to is None else str(s.reply_to) for s in texts]

    def files(self) -> list[bytes]:
        return [s.data for s in self.fake.sent if s.kind != "text"]

    def chat_is_gone(self) -> None:
        self.fake.fail("sendMessage", TelegramError(400, "Bad Request: chat not found"))


class Discord(Platform):
    name = "discord"
    limit = 2000  # characters
    user_chat = "555"  # the DM channel of alice and the bot
    gone_chat = "999"
    gone_reason = "Unknown Channel"

    def __init__(self, home: Home, fake: DiscordFake) -> None:
        self.fake = fake
        self.kit = ListenerKit(home, fake)
        self.user_id = self.kit.alice.id

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await self.kit.start()
        try:
            yield
        finally:
            await self.kit.close()

    async def user_writes(self, text: str) -> str:
        sent = self.fake.push_message(
            channel_id=self.user_chat, content=text, author=self.kit.alice
        )
        return str(sent["id"])

    async def user_sends_file(self, name: str, data: bytes, mime: str, caption: str) -> None:
        attachment = self.fake.add_attachment(self.user_chat, name, data, mime)
        self.fake.push_message(
            channel_id=self.user_chat,
            content=caption,
            author=self.kit.alice,
            attachments=[attachment],
        )

    async def stranger_writes(self, text: str) -> tuple[str, str]:
        mallory = self.fake.user("mallory")
        self.fake.push_message(channel_id="666", content=text, author=mallory)
        return mallory.id, "666"

    def answers(self, chat: str) -> list[str]:
        return [m.content for m in self.fake.messages if m.channel_id == chat and m.content]

    def quoted(self, chat: str) -> list[str | None]:
        return [m.reference_id for m in self.fake.messages if m.channel_id == chat and m.content]

    def files(self) -> list[bytes]:
        return [f.data for m in self.fake.messages for f in m.files]

    def chat_is_gone(self) -> None:
        self.fake.fail("send_message", DiscordError(404, "Unknown Channel", 10003))


class WhatsApp(Platform):
    name = "whatsapp"
    limit = 4096  # characters
    user_id = user_chat = "16315551234"
    gone_chat = "4915100000000"
    gone_reason = "Message undeliverable"

    def __init__(self, home: Home, fake: WhatsAppFake) -> None:
        self.home = home
        self.fake = fake
        self.meta: WebhookSender | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        config = ChannelConfig(
            enabled=True,
            token_env="WHATSAPP_TOKEN",
            verify_token_env="WHATSAPP_VERIFY_TOKEN",
            app_secret_env="WHATSAPP_APP_SECRET",
            phone_id=self.fake.phone_id,
            api_base=self.fake.base_url,
            host="127.0.0.1",
            port=0,
            allow_from=[self.user_chat],
        )
        channel = WhatsAppChannel(
            self.home,
            config,
            retry=RetryPolicy(tries=3, base=0.01, round_backoff=0.01),
            scan_interval=0.2,
        )
        await channel.start()
        try:
            url = f"http://127.0.0.1:{channel.port}/"
            self.meta = WebhookSender.for_fake(self.fake, url, WHATSAPP_APP_SECRET)
            yield
        finally:
            await channel.stop()

    async def _post(self, update: dict[str, Any]) -> None:
        assert self.meta is not None, "the listener is not running"
        response = await self.meta.apost(update)
        assert response.status_code == 200, response.text

    async def user_writes(self, text: str) -> str:
        assert self.meta is not None
        update = self.meta.text(text, wa_id=self.user_chat, name="Alice")
        await self._post(update)
        return str(update["entry"][0]["changes"][0]["value"]["messages"][0]["id"])

    async def user_sends_file(self, name: str, data: bytes, mime: str, caption: str) -> None:
        assert self.meta is not None
        media = self.fake.add_media(data, mime)
        update = self.meta.media(
            "document", media, mime, filename=name, caption=caption, wa_id=self.user_chat
        )
        await self._post(update)

    async def stranger_writes(self, text: str) -> tuple[str, str]:
        assert self.meta is not None
        await self._post(self.meta.text(text, wa_id="4915112345678"))
        return "4915112345678", "4915112345678"

    def answers(self, chat: str) -> list[str]:
        return [m.text for m in self.fake.messages if m.to == chat and m.text is not None]

    def quoted(self, chat: str) -> list[str | None]:
        return [m.reply_to for m in self.fake.messages if m.to == chat and m.text is not None]

    def files(self) -> list[bytes]:
        return [self.fake.upload_of(m).data for m in self.fake.messages if m.media_id]

    def chat_is_gone(self) -> None:
        # What the Graph API answers a number that is not (or no longer) on WhatsApp.
        # (Only sends to that number fail: the read receipt and typing indicator of the
        # message before share the route and may still be on their way.)
        error = WhatsAppError(400, "(#131026) Message undeliverable", 131026)
        self.fake.number_is_gone(self.gone_chat, error)
