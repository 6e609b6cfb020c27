"""Images a run shows the model as images, not only as paths in the prompt.

Both providers take PNG, JPEG, GIF and WebP, and refuse an image whose declared media
type does not match its bytes; so the type is read from the file's first bytes, never
taken from the platform's label (Telegram calls every photo ``image/jpeg``, a Discord
upload is whatever the sender's client said). Anything else (HEIC, SVG, a PDF named
``.png``) and anything over :data:`MAX_IMAGE_BYTES` stays a path in the prompt.

The cap is Anthropic's: 5 MiB per image, counted on the base64 text, which is 4/3 of
the file. OpenAI's limits are higher, so one cap serves both CLIs.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("tinyclaw.runner")

MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # 3.75 MiB of file = 5 MiB of base64
MAX_IMAGES = 10  # per message; Discord's own cap on attachments, and the rest stay paths
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_HEAD = 12


def media_type(head: bytes) -> str | None:
    """The media type that a file starting with ``head`` is, if one the APIs accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Image:
    """One image file's bytes and what they are."""

    path: Path
    media_type: str
    data: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def _read(path: Path, limit: int) -> bytes | None:
    """Up to ``limit + 1`` bytes of a regular file, not following a final symlink (the
    worker checked where the path leads; a link swapped in since is not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None  # a FIFO would block the run; a directory is no image
            return file.read(limit + 1)
        except OSError:
            return None


def sniff(path: Path) -> str | None:
    """The accepted media type of the file at ``path`` within the size cap, or None
    (not an image the APIs take, too big, or unreadable): it then stays a path."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size > MAX_IMAGE_BYTES or size == 0:
        return None
    head = _read(path, _HEAD)
    return media_type(head[:_HEAD]) if head is not None else None


def load_image(path: Path) -> Image | None:
    """The image at ``path`` as the run sends it, or None if it is no longer one (it
    changed since the worker looked): the model still has its path."""
    data = _read(path, MAX_IMAGE_BYTES)
    kind = media_type(data[:_HEAD]) if data else None
    if data is None or kind is None or len(data) > MAX_IMAGE_BYTES:
        log.warning("%s is not an image to show the model (any more); its path stays", path)
        return None
    return Image(path, kind, data)


def load_images(paths: tuple[Path, ...]) -> list[Image]:
    """Each of ``paths`` that is still an image, in order."""
    return [image for path in paths if (image := load_image(path)) is not None]
