"""What a platform module hands the shared listener code, and what it must offer back.

A platform module translates, nothing else: it turns an update into an
:class:`IncomingMessage` (attachments as :class:`IncomingFile` promises, fetched only
after the gate says yes) and implements :class:`Platform`, the four calls the shared
code needs to answer. Errors leave a platform only as ``TransientDeliveryError`` (with
``retry_after`` when the platform said so) or ``PermanentDeliveryError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from tinyclaw.channels.chat_commands import ChatCommand

AttachmentKind = Literal["photo", "document", "voice", "audio", "video", "other"]


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """An attachment not downloaded yet. ``fetch`` returns its bytes; it is called only
    after the gate allowed the sender and only if ``size`` (when known) fits the cap."""

    name: str
    kind: AttachmentKind
    fetch: Callable[[], Awaitable[bytes]]
    size: int | None = None
    mime: str | None = None
    duration: float | None = None  # seconds (voice, audio, video), when the platform says


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One chat message as the platform reported it, before any policy is applied.

    ``mentioned`` is True when the bot was mentioned by an entity the platform knows
    or the message replies to one of the bot's own messages; the shared code also
    counts any of the channel's ``mention_tokens`` found in the text.
    ``parent_chat_id`` is set for a thread (Discord): the channel it belongs to, so
    that allowing a channel allows its threads too.
    """

    chat_id: str
    message_id: str
    sender_id: str
    text: str
    sender_name: str = ""
    is_group: bool = False
    mentioned: bool = False
    reply_to_text: str | None = None
    reply_to_author: str = ""
    reply_to_message_id: str | None = None
    parent_chat_id: str | None = None
    files: Sequence[IncomingFile] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file an actor asked to send, opened by the outbox after it was confined to the
    actor's workspace. The platform uploads ``handle`` (never re-opens ``path``): a
    symlink swapped in after the check cannot redirect the upload. ``size`` is from
    ``fstat`` of the open file; the outbox rewinds ``handle`` before each attempt and
    closes it afterwards."""

    path: Path
    name: str
    size: int
    mime: str
    handle: BinaryIO


@dataclass(frozen=True, slots=True)
class TextPart:
    """One message of a reply as the platform will render it: ``text`` in the
    platform's own markup, and for Telegram the ``entities`` (Bot API dicts, offsets
    in UTF-16 units) that style it. Sending ``text`` without them is the plain-text
    fallback: it reads the same, only unstyled."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


class Platform(Protocol):
    """The calls shared code makes into a platform module (``Channel`` provides them)."""

    @property
    def name(self) -> str:
        """The queue's channel name ("telegram")."""
        ...

    @property
    def text_limit(self) -> int:
        """The longest message the platform accepts, in ``text_length`` units."""
        ...

    @property
    def mention_tokens(self) -> tuple[str, ...]:
        """How the bot is mentioned in text (``@my_bot``); empty until connected."""
        ...

    def text_length(self, text: str) -> int:
        """Length as the platform counts it against ``text_limit``."""
        ...

    async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None:
        """Send one message of at most ``text_limit``; raise a DeliveryError subclass."""
        ...

    def format_reply(self, text: str, *, markdown: bool = True) -> list[TextPart]:
        """The model's Markdown as the messages this platform renders, each within
        ``text_limit`` (``markdown=False``: tinyclaw's own text, only split); the same
        text always gives the same parts (a resumed delivery skips the parts it sent
        before)."""
        ...

    async def send_part(self, chat_id: str, part: TextPart, *, reply_to: str | None = None) -> None:
        """Send one part of :meth:`format_reply` (falling back to plain text where the
        platform refuses its markup)."""
        ...

    async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None:
        """Upload one file (already confined to the actor's workspace)."""
        ...

    async def send_upload(
        self, chat_id: str, file: OutgoingFile, *, reply_to: str | None = None
    ) -> None:
        """Upload an already opened file (``Channel`` falls back to ``send_file``);
        a platform that answers "too large" raises UploadTooLargeError."""
        ...

    def max_upload_bytes(self, file: OutgoingFile) -> int | None:
        """The largest ``file`` the platform takes, in bytes (None: no shared check)."""
        ...

    async def send_typing(self, chat_id: str) -> None:
        """Show "typing…" once; the platform lets it expire after a few seconds."""
        ...

    async def register_commands(self, commands: Sequence[ChatCommand]) -> None:
        """Publish the command menu where the platform has one."""
        ...
