"""The outbox file format, and the checks a file passes before anything is sent.

One JSON object per file, UTF-8, at most 512 KiB::

    {"to": "telegram:123", "text": "...", "files": ["reports/today.pdf"]}

* ``to``: ``channel:chat_id``; must be a chat the actor may write to
  (:mod:`tinyclaw.schedule.reach`). Left out, it is the first of those (its
  ``owner_chat`` when it has one).
* ``text``: the message, at most 100,000 characters.
* ``files``: up to 10 paths, relative to the workspace (or absolute inside it), each a
  regular file of at most 50 MB once symlinks are resolved.

Either ``text`` or ``files`` must say something. Any other key is refused: a typo
such as ``"txt"`` must not turn into an empty message. Each check raises an error
whose text is the reason a refused file carries in ``failed/``.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinyclaw.core import (
    MAX_TEXT,
    ConfigError,
    InvalidMessageError,
    Target,
    UnsafePathError,
    confine,
    parse_target,
)

FOLDER = "outbox"  # in each actor's workspace
MAX_REQUEST_BYTES = 512 * 1024
MAX_FILES = 10
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024  # Telegram's upload limit for bots, the lowest


class OutboxRequest(BaseModel):
    """One outbox file, validated for shape (not yet for permission)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    to: Annotated[str, Field(max_length=200)] | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    files: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=list, max_length=MAX_FILES
    )

    @field_validator("text")
    @classmethod
    def _no_nul_text(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL bytes")
        return value

    @field_validator("files")
    @classmethod
    def _no_nul_paths(cls, value: list[str]) -> list[str]:
        if any("\x00" in item for item in value):
            raise ValueError("a path must not contain NUL bytes")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> OutboxRequest:
        if not self.text.strip() and not self.files:
            raise ValueError('nothing to send: give "text", "files" or both')
        return self


def validate_request(raw: object) -> OutboxRequest:
    """The parsed JSON of a file as a request; InvalidMessageError names what is wrong."""
    if not isinstance(raw, dict):
        raise InvalidMessageError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        return OutboxRequest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for item in exc.errors()[:5]:
            where = ".".join(str(part) for part in item["loc"]) or "message"
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key (use to, text, files)"
            problems.append(f"{where}: {message}")
        raise InvalidMessageError("; ".join(problems)) from None


def check_target(request: OutboxRequest, actor: str, allowed: Sequence[str]) -> Target:
    """Where the message goes, if ``actor`` may write there (fails closed: an empty
    ``allowed`` refuses every target)."""
    shown = ", ".join(allowed) or "none: set owner_chat or may_message for this actor"
    to = request.to or (allowed[0] if allowed else None)
    if not to:
        raise InvalidMessageError(f'no "to", and @{actor} has no chat to default to ({shown})')
    try:
        target = parse_target(to)
    except ConfigError as exc:
        raise InvalidMessageError(str(exc)) from None
    if str(target) not in allowed:
        raise InvalidMessageError(f"@{actor} may not write to {target} (allowed: {shown})")
    return target


def resolve_files(
    paths: Sequence[str], workspace: Path, max_bytes: int = MAX_ATTACHMENT_BYTES
) -> list[str]:
    """Absolute paths of the attachments, each confined to ``workspace`` after every
    symlink is followed; the first one that is not fine refuses the whole message
    (a message without the file it talks about would mislead)."""
    resolved: list[str] = []
    for raw in paths:
        try:
            path = confine(workspace, raw)
        except UnsafePathError:
            raise UnsafePathError(f"file {raw!r} is outside the workspace") from None
        try:
            info = path.stat()
        except FileNotFoundError:
            raise InvalidMessageError(f"file {raw!r} does not exist") from None
        except OSError as exc:
            raise InvalidMessageError(f"file {raw!r} cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise InvalidMessageError(f"file {raw!r} is not a regular file")
        if info.st_size > max_bytes:
            raise InvalidMessageError(
                f"file {raw!r} is {info.st_size} bytes; the limit is {max_bytes}"
            )
        if str(path) not in resolved:
            resolved.append(str(path))
    return resolved
