"""The listener every platform shares: policy, queue files and delivery live here once;
a platform module (``telegram.py``, ``discord.py``, ``whatsapp.py``) only translates.

Public API (additive changes only; the platform modules build on it)::

    from tinyclaw.channels.base import (
        Channel, IncomingMessage, IncomingFile, Platform, RetryPolicy, read_secret,
    )

    class Channel(abc.ABC):              # one running listener
        name: ClassVar[str]              # "telegram"; the queue's channel name
        text_limit: ClassVar[int]        # 4096 / 2000 / 4096
        mention_tokens: tuple[str, ...]  # e.g. ("@my_bot",); set once connected

        def __init__(self, home: Home, config: ChannelConfig, *, gate: Gate | None = None,
                     spool: Spool | None = None, retry: RetryPolicy | None = None,
                     scan_interval: float = 3.0, typing_interval: float = 4.0,
                     typing_cap: float = 600.0,
                     sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                     clock: Callable[[], float] = time.time) -> None

        # --- the platform implements these -------------------------------------
        async def connect(self) -> None        # log in, start receiving;
                                               # bad credentials -> ChannelAuthError
        async def disconnect(self) -> None     # stop receiving, close sessions
        async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None
        async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None
        async def send_typing(self, chat_id: str) -> None
        async def register_commands(self, commands: Sequence[ChatCommand]) -> None  # optional
        def text_length(self, text: str) -> int                                     # optional
        def render_markdown(self, text: str) -> list[TextPart]  # optional; default: split
        async def send_part(self, chat_id: str, part: TextPart, *,
                            reply_to: str | None = None) -> None  # optional; default
            # sends part.text; Telegram sends its entities, falling back to plain text
        def max_upload_bytes(self, file: OutgoingFile) -> int | None  # optional; None: no check
        async def send_upload(self, chat_id: str, file: OutgoingFile, *,
                              reply_to: str | None = None) -> None  # optional; default
            # calls send_file(file.path). The outbox opens each file once (O_NOFOLLOW,
            # confinement re-checked on the open file), replaces one over max_upload_bytes
            # with a "not sent: too large" note, and does the same when a send raises
            # UploadTooLargeError (a 413).
            # send_* raise TransientDeliveryError(msg, retry_after=...),
            # PermanentDeliveryError(msg), or ChannelAuthError (token revoked: the
            # listener stops, the reply stays queued). IncomingFile.fetch raises
            # only DeliveryError subclasses. Anything else is logged as a bug and
            # the reply is retried like a transient failure.

        # --- shared behaviour the platform calls / the CLI drives ---------------
        async def receive(self, message: IncomingMessage) -> Path | None
            # group filter -> /pair -> gate -> commands -> downloads -> spool.put
            # (deduplicated by chat_id:message_id) -> typing starts. Returns the
            # incoming file, or None when nothing was queued.
        async def deliver(self, path: Path) -> DeliveryOutcome   # one outgoing file
        def format_reply(self, text: str, *, markdown: bool = True) -> list[TextPart]
            # the reply's Markdown as this platform's messages (``formatting = "plain"``
            # in the channel's configuration: split only)
        async def start(self) -> None     # connect, register commands, run the outbox
        async def stop(self) -> None      # idempotent; stops typing, outbox, platform
        async def run(self, stop: asyncio.Event, *,
                      on_ready: Callable[[], None] | None = None) -> None  # start, wait, stop
        def abort(self, error: TinyclawError) -> None
            # a platform's background task hit something fatal (a revoked token):
            # run() stops the listener and raises ``error``

    read_secret(env_name: str | None, what: str) -> str   # ConfigError if unset

    ``Channel.sleep`` is the injected ``sleep``: platforms use it for their reconnect
    backoff too, so tests record the delays instead of waiting them out.

Other modules: ``gate.py`` (Gate, GateDecision, AllowListGate), ``split.py``
(split_text, utf16_len), ``markdown.py`` and ``formatting.py`` (a reply's Markdown
per platform), ``commands.py`` (CHAT_COMMANDS, parse_command),
``intake.py`` (inbound policy), ``delivery.py`` (Outbox, RetryPolicy,
DeliveryOutcome), ``indicator.py`` (TypingIndicator).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import ClassVar

from tinyclaw.channels.commands import CHAT_COMMANDS, ChatCommand
from tinyclaw.channels.delivery import DeliveryOutcome, Outbox, RetryPolicy
from tinyclaw.channels.formatting import plain_parts
from tinyclaw.channels.gate import AllowListGate, Gate
from tinyclaw.channels.indicator import TypingIndicator
from tinyclaw.channels.intake import Intake
from tinyclaw.channels.live_chat import EditingPlatform, LiveChat, Press
from tinyclaw.channels.models import (
    IncomingFile,
    IncomingMessage,
    OutgoingFile,
    Platform,
    TextPart,
)
from tinyclaw.config import ChannelConfig, progress_mode
from tinyclaw.core.errors import ConfigError, DeliveryError, TinyclawError
from tinyclaw.core.home import Home
from tinyclaw.core.instance import InstanceLock, listener_lock_path
from tinyclaw.spool import Spool

__all__ = [
    "Channel",
    "DeliveryOutcome",
    "IncomingFile",
    "IncomingMessage",
    "OutgoingFile",
    "Platform",
    "RetryPolicy",
    "TextPart",
    "read_secret",
]


def read_secret(env_name: str | None, what: str) -> str:
    """The value of the environment variable ``env_name`` (a token, a secret).

    Secrets are named in ``tinyclaw.toml`` and live only in the environment (or
    ``.env``); the error names the variable, never a value.
    """
    if not env_name:
        raise ConfigError(f"{what}: no environment variable is configured for it")
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(f"{what}: set the environment variable {env_name} (or put it in .env)")
    return value


class Channel(abc.ABC):
    """One listener: inbound messages become queue files, outgoing files get sent."""

    name: ClassVar[str]
    text_limit: ClassVar[int]

    def __init__(
        self,
        home: Home,
        config: ChannelConfig,
        *,
        gate: Gate | None = None,
        spool: Spool | None = None,
        retry: RetryPolicy | None = None,
        scan_interval: float = 3.0,
        typing_interval: float = 4.0,
        typing_cap: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.config = config
        self.gate: Gate = gate if gate is not None else AllowListGate(config.allow_from)
        self.spool = spool if spool is not None else Spool(home)
        self.log = logging.getLogger(f"tinyclaw.channels.{self.name}")
        self.mention_tokens: tuple[str, ...] = ()
        self.sleep = sleep
        self.typing = TypingIndicator(
            self.send_typing, interval=typing_interval, cap=typing_cap, log=self.log
        )
        self.intake = Intake(self, self.spool, self.gate, config, self.typing, self.log)
        self.outbox = Outbox(
            self,
            self.spool,
            retry=retry or RetryPolicy(),
            typing=self.typing,
            scan_interval=scan_interval,
            sleep=sleep,
            clock=clock,
            log=self.log,
        )
        self.live: LiveChat | None = None
        if isinstance(self, EditingPlatform):
            self.live = LiveChat(
                self,
                home,
                self.name,
                progress=self._progress(config),
                clock=clock,
                log=self.log,
            )
            self.outbox.live = self.live
        self._outbox_task: asyncio.Task[None] | None = None
        self._connected = False
        self._abort = asyncio.Event()
        self._abort_error: TinyclawError | None = None

    edits_messages: ClassVar[bool] = True  # a platform that cannot edit says False

    def _progress(self, config: ChannelConfig) -> str:
        """The channel's progress mode; "edit" where messages cannot be edited is notes."""
        mode = progress_mode(self.name, config)
        return "notes" if mode == "edit" and not self.edits_messages else mode

    # -- what a platform implements ------------------------------------------------

    @abc.abstractmethod
    async def connect(self) -> None:
        """Authenticate and start receiving; raise ChannelAuthError for bad credentials."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Stop receiving and release connections; called once, after ``connect``."""

    @abc.abstractmethod
    async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None:
        """Send one message no longer than ``text_limit``."""

    @abc.abstractmethod
    async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None:
        """Upload one file."""

    @abc.abstractmethod
    async def send_typing(self, chat_id: str) -> None:
        """Show the typing indicator once."""

    async def register_commands(self, commands: Sequence[ChatCommand]) -> None:
        """Publish the command menu; platforms without one keep this no-op."""
        del commands

    def text_length(self, text: str) -> int:
        """How the platform counts ``text`` against ``text_limit`` (code points)."""
        return len(text)

    def format_reply(self, text: str, *, markdown: bool = True) -> list[TextPart]:
        """The reply as this platform's messages: its Markdown rendered the platform's
        way (``render_markdown``), or only split when the channel's ``formatting`` is
        ``"plain"`` or the text is tinyclaw's own (``markdown=False``: a command's
        answer is laid out as written, and Markdown would eat its indentation).
        Deterministic: a resumed delivery re-splits the same parts."""
        if not markdown or self.config.formatting == "plain":
            return plain_parts(text, self.text_limit, self.text_length)
        # Markup that renders to nothing visible still deserves an answer: as written.
        return self.render_markdown(text) or plain_parts(text, self.text_limit, self.text_length)

    def render_markdown(self, text: str) -> list[TextPart]:
        """Markdown as this platform shows it; a platform without markup only splits."""
        return plain_parts(text, self.text_limit, self.text_length)

    async def send_part(self, chat_id: str, part: TextPart, *, reply_to: str | None = None) -> None:
        """Send one part of :meth:`format_reply` (its markup is in its text)."""
        await self.send_text(chat_id, part.text, reply_to=reply_to)

    def max_upload_bytes(self, file: OutgoingFile) -> int | None:
        """The largest upload the platform accepts for ``file``; None leaves the check
        to ``send_file`` (a platform whose limit depends on the server's answer)."""
        del file
        return None

    async def send_upload(
        self, chat_id: str, file: OutgoingFile, *, reply_to: str | None = None
    ) -> None:
        """Upload a file the outbox opened. Platforms that can send an open file
        override this; the default re-opens by path through ``send_file``."""
        await self.send_file(chat_id, file.path, reply_to=reply_to)

    # -- shared behaviour ----------------------------------------------------------

    async def receive(self, message: IncomingMessage) -> Path | None:
        """Apply the listener's policy to one inbound message and queue it if it passes."""
        return await self.intake.receive(message)

    async def pressed(self, press: Press) -> str:
        """A button of a permission question was pressed: check it against the
        question this listener sent, queue the answer for the worker (which checks
        who may answer), and return what the presser is told at once."""
        if self.live is None:
            return "Buttons are not handled here."
        answer = await self.live.press(press)
        if answer.actor is None or answer.key is None or answer.decision is None:
            return answer.note
        queued = await self.intake.receive_approval(
            press, actor=answer.actor, key=answer.key, decision=answer.decision
        )
        return answer.note if queued else "Only the owner may answer this question."

    async def deliver(self, path: Path) -> DeliveryOutcome:
        """Deliver one file of ``queue/outgoing/<channel>/`` (see :class:`Outbox`)."""
        return await self.outbox.deliver(path)

    async def start(self) -> None:
        """Connect, publish the command menu, then deliver whatever is waiting."""
        await self.connect()
        self._connected = True
        try:
            await self.register_commands(CHAT_COMMANDS)
        except DeliveryError as exc:  # a menu is a convenience, not a reason to stop
            self.log.warning("could not register the command menu: %s", exc)
        self._outbox_task = asyncio.create_task(self.outbox.run(), name=f"{self.name}-outbox")
        self._outbox_task.add_done_callback(self._outbox_ended)

    def _outbox_ended(self, task: asyncio.Task[None]) -> None:
        """Say so when delivery stops for good (``run`` re-raises it as well)."""
        if not task.cancelled() and task.exception() is not None:
            self.log.error("delivery stopped: %s", task.exception())
            error = task.exception()
            self.abort(error if isinstance(error, TinyclawError) else TinyclawError(repr(error)))

    async def stop(self) -> None:
        """Stop delivering and receiving; safe to call twice or after a failed start."""
        task, self._outbox_task = self._outbox_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.typing.close()
        if self._connected:
            self._connected = False
            await self.disconnect()

    def abort(self, error: TinyclawError) -> None:
        """Called by a platform's background task that cannot go on (a revoked token):
        :meth:`run` stops the listener and raises ``error``."""
        if self._abort_error is None:
            self._abort_error = error
        self._abort.set()

    async def _start_unless_stopped(self, stop: asyncio.Event) -> bool:
        """Start, but give up when ``stop`` is set first: a platform that cannot be
        reached is retried for ever, and SIGTERM must still end the listener at once
        rather than after the supervisor's timeout. False if it stopped instead."""
        starting = asyncio.create_task(self.start(), name=f"{self.name}-start")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if starting.done():
            starting.result()  # raise what failed (a refused token)
            return True
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await self.stop()
        self.log.info("stopped before %s could be reached", self.name)
        return False

    async def run(self, stop: asyncio.Event, *, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until ``stop`` is set (``on_ready`` runs once connected). An outbox that
        dies or a platform that aborts takes the listener down rather than leaving a
        half-working process behind; the error is raised after a clean stop. A second
        listener of this platform on the same home is refused (AlreadyRunningError):
        both would deliver every reply."""
        lock = InstanceLock(listener_lock_path(self.home.state, self.name), f"{self.name} listener")
        with lock:
            await self._serve(stop, on_ready)

    async def _serve(self, stop: asyncio.Event, on_ready: Callable[[], None] | None) -> None:
        if not await self._start_unless_stopped(stop):
            return
        try:
            if on_ready is not None:
                on_ready()
            assert self._outbox_task is not None
            waiters = {asyncio.create_task(stop.wait()), asyncio.create_task(self._abort.wait())}
            done, _pending = await asyncio.wait(
                {*waiters, self._outbox_task}, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
            if self._outbox_task in done:
                self._outbox_task.result()  # re-raise what killed it
            if self._abort_error is not None:
                raise self._abort_error
        finally:
            await self.stop()
