"""The two message types that travel through the queue, as versioned JSON.

An :class:`Inbound` is what a listener (or ``tinyclaw send``, a schedule, another
actor) puts into ``queue/incoming`` or an actor's inbox; a :class:`Reply` is what the
worker puts into ``queue/outgoing/<channel>``. Both carry everything needed to process
or deliver them, so no process keeps delivery state in memory. Platform specifics go
into ``meta``, never into new top-level fields. ``v`` is the format version: a reader
refuses versions it does not know instead of guessing. The format is documented for
people in ``queue/README.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tinyclaw.core.errors import InvalidFileError, InvalidMessageError
from tinyclaw.core.fsutil import parse_json_object

FORMAT_VERSION = 1
MAX_TEXT = 100_000
MAX_FILE_BYTES = 1_000_000
CHANNEL_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
ShortText = Annotated[str, Field(max_length=512)]
# An epoch time in seconds: never Infinity or NaN (Python's json reads both), which
# would hold a message back for ever.
When = Annotated[float, Field(allow_inf_nan=False)]

InboundKind = Literal[
    "chat", "command", "handoff", "fanin", "operator", "schedule", "heartbeat", "approval"
]
ReplyKind = Literal["reply", "progress", "error", "notice", "approval"]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(_Model):
    id: ShortText
    name: ShortText = ""

    _nul = field_validator("id", "name")(_no_nul)


class Attachment(_Model):
    """A file the listener downloaded for the actor (``path`` is absolute, inside the
    home's ``queue/files/``); ``name`` is the sanitized original name."""

    path: Annotated[str, Field(min_length=1, max_length=4096)]
    name: ShortText
    kind: Literal["photo", "document", "voice", "audio", "video", "other"] = "document"
    mime: ShortText | None = None
    size: int | None = Field(default=None, ge=0)
    duration: float | None = Field(
        default=None, ge=0, description="seconds, as the platform reported (audio, video)"
    )

    _nul = field_validator("path", "name")(_no_nul)

    # The worker lists ``path`` in the CLI's prompt and the CLI opens it, so a queue
    # file must not point it at ``../..`` or at a relative path that moves with the
    # workspace. (Whether an absolute path is inside this home's ``queue/files/``
    # needs the home, so the worker must check it.)
    @field_validator("path")
    @classmethod
    def _plain_absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path")
        if ".." in value.split("/"):
            raise ValueError("must not contain '..'")
        return value

    @field_validator("name")
    @classmethod
    def _bare_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError("must be a bare file name (no '/', '\\', '.' or '..')")
        return value


class Quote(_Model):
    """The message this one replies to, as the platform showed it."""

    text: Text = ""
    author: ShortText = ""
    message_id: ShortText | None = None


class Handoff(_Model):
    """Set on a message one actor sent another (teams)."""

    from_actor: ShortText
    conversation: ShortText
    hop: int = Field(default=0, ge=0)
    context: Text = ""
    branch: ShortText | None = None


class Inbound(_Model):
    v: Literal[1] = 1
    id: Id
    channel: Annotated[str, Field(pattern=CHANNEL_PATTERN)]
    chat_id: ShortText
    sender: Sender
    text: Text
    kind: InboundKind = "chat"
    actor: ShortText | None = Field(default=None, description="target actor, if already known")
    message_id: ShortText | None = None
    reply_to: Quote | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    is_group: bool = False
    conversation: ShortText | None = None
    handoff: Handoff | None = None
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempts: int = Field(default=0, ge=0)
    not_before: When | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    _nul = field_validator("chat_id", "text")(_no_nul)

    @property
    def conversation_key(self) -> str:
        """Sessions are kept per (actor, conversation); by default a chat is one."""
        return self.conversation or f"{self.channel}:{self.chat_id}"


class Reply(_Model):
    v: Literal[1] = 1
    id: Id
    in_reply_to: Id
    channel: Annotated[str, Field(pattern=CHANNEL_PATTERN)]
    chat_id: ShortText
    text: Text
    kind: ReplyKind = "reply"
    actor: ShortText | None = None
    reply_to_message_id: ShortText | None = None
    files: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list, max_length=20)
    workspace: Annotated[str, Field(max_length=4096)] | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    attempts: int = Field(default=0, ge=0)
    not_before: When | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


def dump(model: BaseModel) -> bytes:
    return model.model_dump_json(indent=1, exclude_defaults=False).encode("utf-8")


def _load(model: type[Inbound] | type[Reply], data: bytes, default_id: str | None) -> Any:
    if len(data) > MAX_FILE_BYTES:
        raise InvalidMessageError(f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        raw = parse_json_object(data)
    except InvalidFileError as exc:
        raise InvalidMessageError(str(exc)) from None
    version = raw.get("v", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidMessageError(f"unknown format version v={version!r}; this tinyclaw reads v=1")
    if default_id is not None and "id" not in raw:
        raw["id"] = default_id  # a file dropped by hand may leave the id to its name
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidMessageError(
            f"not a valid {model.__name__.lower()} message: {problems}"
        ) from None


def load_inbound(data: bytes, default_id: str | None = None) -> Inbound:
    """Parse a queue file; any problem is an InvalidMessageError naming the field."""
    result: Inbound = _load(Inbound, data, default_id)
    return result


def load_reply(data: bytes, default_id: str | None = None) -> Reply:
    result: Reply = _load(Reply, data, default_id)
    return result
