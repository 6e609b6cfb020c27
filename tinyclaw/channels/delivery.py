"""Outbound: deliver the files that appear in ``queue/outgoing/<channel>/``.

A reply file carries everything needed to send it, so delivery keeps no memory
between files and survives a restart. For each file, in arrival order:

* the text is rendered the platform's way and split at its limit
  (``Platform.format_reply``: the same text always gives the same parts), the first part
  replying to the user's message; then the files the actor asked to send, each
  re-confined to the actor's workspace and opened once (``O_NOFOLLOW``, confinement
  checked again on the open file, so a symlink swapped in after the check is not
  followed); a refused file, or one over the platform's upload limit (or answered
  with 413), becomes a short note instead;
* the typing indicator stops when a final reply starts going out, and starts again
  if that reply is deferred (the user is still waiting for it);
* after every part the platform accepted, progress (``meta.parts_sent`` /
  ``meta.files_sent``) is written back atomically, so a crash resends at most the one
  part that was in flight (at-least-once for that part, never for the others);
  ``spool.update_reply`` stores it, and never writes back a reply no longer waiting;
* a transient error (network, 5xx, 429) is retried with exponential backoff, honouring
  ``retry_after``; if it persists, the file stays in ``outgoing/`` with ``attempts``
  counted and ``not_before`` set, and goes to ``failed/`` after ``rounds`` attempts;
* a permanent error (400, 403, 404) moves it to ``failed/`` with the reason;
* only when everything was accepted: ``spool.mark_sent`` (``queue/sent/<channel>/``).

Events wake the loop; the scan is the truth: a watchdog observer on the box is only a
hint, and the box is scanned at start and every ``scan_interval`` seconds anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import stat
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from tinyclaw.channels.indicator import TypingIndicator
from tinyclaw.channels.live_chat import LiveChat
from tinyclaw.channels.models import OutgoingFile, Platform
from tinyclaw.config import load_config
from tinyclaw.core.errors import (
    ChannelAuthError,
    ConfigError,
    InvalidMessageError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnsafePathError,
    UploadTooLargeError,
)
from tinyclaw.core.fsutil import confine, is_transient, sanitize_name
from tinyclaw.core.messages import Reply
from tinyclaw.core.watching import Watcher
from tinyclaw.spool import Spool

DeliveryOutcome = Literal["sent", "failed", "deferred", "waiting", "gone"]
FINAL_KINDS = frozenset({"reply", "error"})
_MB = 1024 * 1024
_SHOWN_NAMES = {"telegram": "Telegram", "discord": "Discord", "whatsapp": "WhatsApp"}
# O_NOFOLLOW refuses a symlink as the last component; O_NONBLOCK keeps a FIFO planted
# in the workspace from blocking the open (it is then refused as not a regular file).
_OPEN_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. ``tries`` per part within one round (backoff ``base`` doubling
    up to ``cap``; a platform's ``retry_after`` wins when given, up to
    ``max_retry_after``), then ``rounds`` rounds across scans (``round_backoff``
    doubling) before the reply is given up and moved to ``failed/``."""

    tries: int = 5
    base: float = 1.0
    cap: float = 60.0
    max_retry_after: float = 900.0
    rounds: int = 8
    round_backoff: float = 30.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.cap, self.base * (2**attempt)))

    def round_delay(self, rounds: int) -> float:
        return float(min(3600.0, self.round_backoff * (2 ** max(rounds - 1, 0))))


def _wake_soon(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    """Set ``event`` from the observer's thread; a loop already closed is no error."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(event.set)


class Outbox:
    """Delivers one channel's outgoing box through a :class:`Platform`."""

    def __init__(
        self,
        platform: Platform,
        spool: Spool,
        *,
        retry: RetryPolicy,
        typing: TypingIndicator,
        scan_interval: float = 3.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | None = None,
    ) -> None:
        self.platform = platform
        self.spool = spool
        self.retry = retry
        self.typing = typing
        self.scan_interval = scan_interval
        self._sleep = sleep
        self._clock = clock
        self.log = log or logging.getLogger("tinyclaw.channels")
        self._wake = asyncio.Event()
        self._earliest: float | None = None
        self._allowed_roots: list[Path] | None = None
        self.live: LiveChat | None = None  # set by a listener that can edit its messages

    @property
    def box(self) -> Path:
        return self.spool.outgoing(self.platform.name)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled: scan, then wait for an event, the timer or the
        earliest ``not_before`` of a deferred reply."""
        box = self.box
        box.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        watcher = Watcher([box], partial(_wake_soon, loop, self._wake))
        watcher.start()
        try:
            while True:
                self._wake.clear()
                await self.drain()
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel
                # that lands as the event fires, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_wait()):
                        await self._wake.wait()
        finally:
            # Stopped on the side: joining the watch thread must not hold up stop().
            threading.Thread(target=watcher.stop, name="outbox-watch-stop", daemon=True).start()

    def _next_wait(self) -> float:
        wait = self.scan_interval
        if self._earliest is not None:
            wait = min(wait, max(0.05, self._earliest - self._clock()))
        return wait

    async def drain(self) -> None:
        """One pass over the box in FIFO order."""
        self._earliest = None
        for path in self.spool.replies(self.platform.name):
            await self.deliver(path)

    async def deliver(self, path: Path) -> DeliveryOutcome:
        """Deliver one reply file; see the module docstring for what each outcome does."""
        try:
            # The spool's reader, not path.read_bytes: a symlink or FIFO planted in
            # the box is refused instead of followed, and the read is size-bounded.
            reply = self.spool.load_reply(path)
        except FileNotFoundError:
            return "gone"
        except InvalidMessageError as exc:
            self.spool.fail(path, f"unreadable reply: {exc}")
            return "failed"
        except OSError as exc:
            if is_transient(exc):  # the disk's trouble, not the reply's: next pass
                self.log.warning("cannot read %s now, will retry: %s", path.name, exc)
                return "waiting"
            self.spool.fail(path, f"unreadable reply: {exc}")
            return "failed"
        if reply.channel != self.platform.name:
            self.spool.fail(
                path, f"addressed to channel {reply.channel!r}, not {self.platform.name!r}"
            )
            return "failed"
        now = self._clock()
        if reply.not_before is not None and reply.not_before > now:
            if self._earliest is None or reply.not_before < self._earliest:
                self._earliest = reply.not_before
            return "waiting"
        if reply.kind in FINAL_KINDS:
            self.typing.stop(reply.chat_id)
        progress = _Progress(path, reply, self.spool)
        try:
            await self._send_all(progress)
        except PermanentDeliveryError as exc:
            self.spool.fail(path, f"{self.platform.name} refused the reply: {exc}")
            return "failed"
        except TransientDeliveryError as exc:
            return self._postpone(progress.reply, path, exc)
        except ChannelAuthError:
            raise  # the listener stops; the reply stays for the next start
        except Exception as exc:  # the outbox is an edge: one bad reply must not kill it
            self.log.exception("unexpected error delivering %s", path.name)
            return self._postpone(progress.reply, path, TransientDeliveryError(repr(exc)))
        self.spool.mark_sent(path, self.platform.name)
        self.log.info("delivered %s to %s", path.name, reply.chat_id)
        return "sent"

    async def _send_all(self, progress: _Progress) -> None:
        reply = progress.reply
        fresh = not reply.meta.get("parts_sent")
        if self.live is not None and fresh and await self.live.before(reply):
            return
        # A model wrote a reply that names its actor; the rest is tinyclaw's own text.
        parts = self.platform.format_reply(reply.text, markdown=reply.actor is not None)
        parts_sent = int(reply.meta.get("parts_sent", 0))
        for index in range(parts_sent, len(parts)):
            reply_to = reply.reply_to_message_id if index == 0 else None
            await self._retrying(
                partial(self.platform.send_part, reply.chat_id, parts[index], reply_to=reply_to)
            )
            progress.advance("parts_sent", index + 1)
        files_sent = int(reply.meta.get("files_sent", 0))
        for index in range(files_sent, len(reply.files)):
            try:
                file = self._open(reply, reply.files[index])
            except UnsafePathError as exc:
                self.log.warning("refused to send %r: %s", reply.files[index], exc)
                await self._note(reply.chat_id, f"(file not sent: {exc})")
            else:
                with file.handle:
                    await self._upload(reply.chat_id, file)
            progress.advance("files_sent", index + 1)

    async def _note(self, chat_id: str, note: str) -> None:
        await self._retrying(partial(self.platform.send_text, chat_id, note))

    async def _upload(self, chat_id: str, file: OutgoingFile) -> None:
        """Send one opened file, or a note saying why it was not sent: a file over the
        platform's limit would be refused anyway, and the rest of the reply with it."""
        shown = _SHOWN_NAMES.get(self.platform.name, self.platform.name)
        limit = self.platform.max_upload_bytes(file)
        if limit is not None and file.size > limit:
            self.log.warning("not sending %s: %d bytes, limit %d", file.name, file.size, limit)
            await self._note(
                chat_id,
                f"(file {file.name} not sent: too large, {file.size / _MB:.1f} MB is over "
                f"{shown}'s {limit / _MB:.0f} MB upload limit)",
            )
            return

        async def attempt() -> None:
            file.handle.seek(0)  # a retried upload starts from the beginning
            await self.platform.send_upload(chat_id, file)

        try:
            await self._retrying(attempt)
        except UploadTooLargeError as exc:
            self.log.warning("%s refused %s as too large: %s", shown, file.name, exc)
            await self._note(chat_id, f"(file {file.name} not sent: too large for {shown} ({exc}))")

    def _workspaces(self) -> list[Path]:
        """The workspaces replies may send files from: those of the configured actors
        (read once), else the home's ``actors/`` folder. A reply names its workspace,
        but a reply file is input too: a forged one must not name ``/``."""
        if self._allowed_roots is None:
            home = self.spool.home
            try:
                config = load_config(home)
                roots = [config.workspace_for(home, name) for name in config.actors]
            except ConfigError:
                roots = [home.actors]
            self._allowed_roots = [root.resolve() for root in roots]
        return self._allowed_roots

    def _open(self, reply: Reply, name: str) -> OutgoingFile:
        """Open the confined file once, without following a symlink at its last
        component, and check the open file again: a path component swapped for a
        symlink between the check and the open is caught here, not uploaded."""
        workspace, path = self._confine(reply, name)
        shown = sanitize_name(name)
        try:
            # open(), not os.fdopen: the handle keeps the path as its name (pywa
            # guesses from it), while the flags are ours.
            handle = open(path, "rb", opener=_open_no_follow)  # noqa: SIM115
        except OSError as exc:
            raise UnsafePathError(f"{shown} cannot be opened ({exc.strerror})") from None
        try:
            fd = handle.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UnsafePathError(f"{shown} is not a regular file")
            opened = _opened_path(fd)
            if opened is not None and opened != workspace and workspace not in opened.parents:
                raise UnsafePathError(f"{shown} is outside the actor's workspace")
            if opened is None and os.stat(path, follow_symlinks=False).st_ino != info.st_ino:
                raise UnsafePathError(f"{shown} changed while it was being opened")
            os.set_blocking(fd, True)
        except BaseException:
            handle.close()
            raise
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return OutgoingFile(path=path, name=path.name, size=info.st_size, mime=mime, handle=handle)

    def _confine(self, reply: Reply, name: str) -> tuple[Path, Path]:
        """The worker confined the file already; the listener checks again because a
        reply file is input too. Symlinks are resolved before the check. Returns the
        resolved workspace and file."""
        shown = sanitize_name(name)
        if not reply.workspace:
            raise UnsafePathError(f"{shown}: no workspace to send it from")
        workspace = Path(reply.workspace).resolve()
        if not any(workspace == root or root in workspace.parents for root in self._workspaces()):
            raise UnsafePathError(f"{shown}: {reply.workspace} is not an actor's workspace")
        try:
            path = confine(workspace, name)
        except UnsafePathError:
            raise UnsafePathError(f"{shown} is outside the actor's workspace") from None
        if not path.is_file():
            raise UnsafePathError(f"{shown} does not exist")
        return workspace, path

    async def _retrying(self, call: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            try:
                await call()
                return
            except TransientDeliveryError as exc:
                attempt += 1
                if attempt >= self.retry.tries:
                    raise
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else self.retry.backoff(attempt - 1)
                )
                if delay > self.retry.max_retry_after:
                    raise
                self.log.warning("%s: %s; retrying in %.1f s", self.platform.name, exc, delay)
                await self._sleep(delay)

    def _postpone(self, reply: Reply, path: Path, exc: TransientDeliveryError) -> DeliveryOutcome:
        """Defer the reply; while it waits for its next round, the user still waits for
        an answer, so "typing…" comes back (it stopped when sending began)."""
        outcome = self._defer(reply, path, exc)
        if outcome == "deferred" and reply.kind in FINAL_KINDS:
            self.typing.start(reply.chat_id)
        return outcome

    def _defer(self, reply: Reply, path: Path, exc: TransientDeliveryError) -> DeliveryOutcome:
        rounds = reply.attempts + 1
        if rounds >= self.retry.rounds:
            self.spool.fail(path, f"still failing after {rounds} attempts: {exc}")
            return "failed"
        delay = max(exc.retry_after or 0.0, self.retry.round_delay(rounds))
        updated = reply.model_copy(update={"attempts": rounds, "not_before": self._clock() + delay})
        self.spool.update_reply(path, updated)
        self.log.warning("could not deliver %s (%s); next try in %.0f s", path.name, exc, delay)
        if (
            self._earliest is None
            or updated.not_before is None
            or updated.not_before < self._earliest
        ):
            self._earliest = updated.not_before
        return "deferred"


def _open_no_follow(path: str, flags: int) -> int:
    """The opener for outgoing files: ``open``'s flags plus ours (see _OPEN_FLAGS)."""
    return os.open(path, flags | _OPEN_FLAGS)


def _opened_path(fd: int) -> Path | None:
    """Where an open file really is (Linux: ``/proc/self/fd``); None elsewhere."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


class _Progress:
    """The reply as delivered so far, persisted after each accepted part."""

    def __init__(self, path: Path, reply: Reply, spool: Spool) -> None:
        self.path = path
        self.reply = reply
        self.spool = spool

    def advance(self, key: str, value: int) -> None:
        self.reply = self.reply.model_copy(update={"meta": {**self.reply.meta, key: value}})
        self.spool.update_reply(self.path, self.reply)
