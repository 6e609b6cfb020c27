"""The prompt an actor's CLI receives for one message."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tinyclaw.core.errors import UnsafePathError
from tinyclaw.core.fsutil import atomic_write, confine
from tinyclaw.core.messages import Attachment, Inbound
from tinyclaw.runners.images import MAX_IMAGES, sniff

# Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN) and both CLIs take the prompt
# as an argument; keep well below that.
MAX_INLINE_PROMPT_BYTES = 120 * 1024
# The text of a photo sent without a caption: the model is shown the image, and needs
# a turn that says so rather than an empty one.
NO_CAPTION = "[An image, sent without a caption]"


def _size(num: int | None) -> str:
    if num is None:
        return "size unknown"
    if num < 1024:
        return f"{num} B"
    if num < 1024 * 1024:
        return f"{num / 1024:.0f} KB"
    return f"{num / 1024 / 1024:.1f} MB"


def unconfined_attachment(files_root: Path, message: Inbound) -> str | None:
    """Attachments are listed in the CLI's prompt, and the CLI opens them: each must be
    a file a listener stored under ``queue/files/``, never a path elsewhere. Returns
    the reason to refuse the message, or None."""
    for attachment in message.attachments:
        try:
            confine(files_root, attachment.path)
        except UnsafePathError:
            return f"attachment {attachment.name!r} is outside queue/files/"
    return None


def _looks_like_image(attachment: Attachment) -> bool:
    return attachment.kind == "photo" or (attachment.mime or "").startswith("image/")


def shown_images(message: Inbound) -> tuple[Path, ...]:
    """The attachments the model is shown as images (``RunRequest.images``): photos
    and files sent as images whose bytes are PNG, JPEG, GIF or WebP within the size
    cap, at most ``MAX_IMAGES``. Every attachment's path stays in the prompt too."""
    found = [
        Path(a.path)
        for a in message.attachments
        if _looks_like_image(a) and sniff(Path(a.path)) is not None
    ]
    return tuple(found[:MAX_IMAGES])


def build_prompt(message: Inbound, text: str) -> str:
    """The message text plus what the chat showed around it: the quoted message and
    the attachments' paths, so the CLI can open them with its own tools."""
    parts: list[str] = []
    if message.kind == "fanin":
        parts.append("[Answers from your teammates]")
    elif message.handoff is not None:
        parts.append(f"[Task from @{message.handoff.from_actor}]")
        if message.handoff.context:
            parts.append(f"Context:\n{message.handoff.context}")
    elif message.channel != "cli" and message.sender.name:
        parts.append(f"[{message.sender.name} via {message.channel}]")
    transcription = message.meta.get("transcription")
    if isinstance(transcription, dict) and transcription.get("ok"):
        parts.append("[A voice message, transcribed automatically; the recording is attached]")
    if message.reply_to is not None and message.reply_to.text:
        author = f" {message.reply_to.author}" if message.reply_to.author else ""
        quoted = "\n".join("> " + line for line in message.reply_to.text.splitlines())
        parts.append(f"In reply to{author}:\n{quoted}")
    if not text.strip() and any(_looks_like_image(a) for a in message.attachments):
        text = NO_CAPTION
    parts.append(text)
    if message.attachments:
        lines = [
            f"- {a.path} ({a.kind}, {a.mime or 'unknown type'}, {_size(a.size)})"
            for a in message.attachments
        ]
        parts.append("Attached files:\n" + "\n".join(lines))
    return "\n\n".join(p for p in parts if p)


def _prompt_file(message_id: str, workspace: Path) -> Path:
    return workspace / ".tinyclaw" / "messages" / f"{message_id}.md"


def fit_prompt(prompt: str, message_id: str, workspace: Path) -> str:
    """A prompt the CLI can be started with: a long one is written to a file in the
    workspace (``.tinyclaw/messages/<id>.md``) and the CLI is asked to read it."""
    size = len(prompt.encode("utf-8"))
    if size <= MAX_INLINE_PROMPT_BYTES:
        return prompt
    path = _prompt_file(message_id, workspace)
    atomic_write(path, prompt.encode("utf-8"), durable=False)
    return (
        f"[This message is too long to pass inline ({len(prompt):,} characters). "
        f"It is in the file {path}. Read that file in full, then answer it.]"
    )


def discard_prompt_file(message_id: str, workspace: Path) -> None:
    """Remove the file :func:`fit_prompt` wrote, once the run is over: the user's words
    should not pile up in the workspace (a retry writes the file again)."""
    with contextlib.suppress(OSError):
        _prompt_file(message_id, workspace).unlink(missing_ok=True)
