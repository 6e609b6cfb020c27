"""The Discord listener: discord.py's gateway in, its REST API out.

Only translation lives here; policy (gate, groups, commands, downloads, splitting,
retries) is the shared code in :mod:`tinyclaw.channels.base`.

* **Chats.** A DM is a chat of its own (``chat_id`` = the DM channel id). In a guild,
  ``chat_id`` is the text channel (or thread) id, and ``allow_groups`` lists **channel
  ids**, not guild ids: a guild has many channels and allowing one should not open the
  others. Allowing a channel allows its threads (each thread is a chat of its own);
  a thread can also be listed alone. (Turn on Developer Mode in Discord, right-click a
  channel, "Copy Channel ID".)
  A guild message counts only when it mentions the bot (its user or its managed role)
  or replies to one of the bot's messages; the mention is removed from the text.
* **Intents.** ``guilds``, ``guild_messages``, ``dm_messages`` and the privileged
  ``message_content``: without it a guild message that does not mention the bot arrives
  empty. If the intent is not enabled for the application, Discord closes the gateway
  with 4014 and the listener exits with a line saying where to enable it.
* **Commands.** Typed as text (``/reset @coder``), or picked from Discord's command
  menu: at start-up the chat commands are published as global application (slash)
  commands, one bulk overwrite (``PUT /applications/{id}/commands``) that replaces
  whatever an earlier version registered; a failure there is a warning, not a reason to
  stop. A slash command arrives as an INTERACTION_CREATE. Discord wants an answer
  within 3 s, so it is acknowledged at once with a short note only the sender sees
  (never after the gate or a slow disk); then it becomes exactly the text command
  (``/reset`` with ``actor: coder`` → ``/reset @coder``) and goes through the same
  policy: allowed channels only, ``/pair`` before the gate, the gate. The worker's
  answer comes as an ordinary message in the channel, through the outbox like every
  reply (split, retried, typing stopped), not as the interaction's follow-up: an
  interaction token expires after 15 minutes and a reply file must outlive that.
* **Errors.** discord.py itself sleeps through short 429s (``retry_after`` ≤ 30 s) and
  retries 500/502/504 a few times; what still fails maps to ``TransientDeliveryError``
  (network, 5xx, a longer 429 with its ``retry_after``) or ``PermanentDeliveryError``
  (400, 403, 404). A 401 means the token was revoked: the listener aborts with
  ``ChannelAuthError`` (exit code 2), leaving the reply in ``outgoing/`` rather than
  failing every reply. An API that cannot be reached at start-up is retried with
  backoff; a lost gateway is resumed by discord.py (logged here).
* **Offline.** ``api_base`` and ``gateway_url`` in the channel's config point the
  library elsewhere (a loopback fake in the tests, a proxy in production). discord.py
  keeps both as process-wide class attributes, so they are set on connect and restored
  on disconnect; one listener process serves one platform, so nothing else shares them.
* **Catching up.** Discord keeps nothing for an offline bot, so after each fresh
  IDENTIFY the listener reads what was written meanwhile in the chats it has heard from
  (see :mod:`tinyclaw.channels.discord_catchup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import yarl

from tinyclaw.channels.base import Channel, TextPart
from tinyclaw.channels.commands import ChatCommand, parse_command
from tinyclaw.channels.discord_catchup import CURSOR_FILE, Cursor, catch_up
from tinyclaw.channels.discord_translate import (
    LIBRARY_ERRORS,
    command_payloads,
    delivery_error,
    translate,
    translate_interaction,
)
from tinyclaw.channels.formatting import discord_parts
from tinyclaw.channels.live_chat import Button, Press
from tinyclaw.config import ChannelConfig
from tinyclaw.core.errors import (
    ChannelAuthError,
    ConfigError,
    InvalidMessageError,
    PermanentDeliveryError,
    SpoolError,
    TransientDeliveryError,
    UnsafePathError,
)
from tinyclaw.core.home import Home

TEXT_LIMIT = 2000
# A reply quotes what the model wrote: "@everyone", "<@id>" or "<@&role>" in it must not
# ping anyone. Only the person replied to is notified, as with any reply.
NO_MENTIONS = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)
UPLOAD_LIMIT = 10 * 1024 * 1024  # what a bot may upload to a guild without boosts
READY_TIMEOUT = 30.0
IDENTIFY_DELAY = 5.0
MAX_RECONNECT_DELAY = 30.0
# discord.py sleeps through rate limits up to this long itself (30 is its minimum);
# a longer one comes back to the outbox as a TransientDeliveryError with retry_after.
MAX_LIBRARY_RATELIMIT_WAIT = 30.0
_GATEWAY_CLOSE_REASONS = {
    4004: "Discord refused the bot token",
    4010: "Discord rejected the shard configuration",
    4011: "this bot is in too many guilds to connect without sharding",
    4012: "Discord rejected the gateway API version",
    4013: "Discord rejected the gateway intents",
}


def _view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """The buttons as one action row of components (their ``custom_id`` is the data)."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    styles = [discord.ButtonStyle.success, discord.ButtonStyle.primary, discord.ButtonStyle.danger]
    for index, button in enumerate(buttons):
        style = styles[index] if index < len(styles) else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(label=button.label, custom_id=button.data, style=style))
    return view


def _snowflake(value: str, what: str) -> int:
    if not value.isdigit():
        raise PermanentDeliveryError(f"{what} {value!r} is not a Discord id")
    return int(value)


class _Client(discord.Client):
    """discord.Client whose events go straight to the listener."""

    def __init__(self, listener: DiscordChannel, **options: Any) -> None:
        # The listener never joins voice; skip discord.py's "PyNaCl/davey is not
        # installed" warnings, which would only confuse someone reading the log.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(**options)
        self.listener = listener

    async def on_connect(self) -> None:
        self.listener.log.info("discord: gateway connected")
        self.listener.ready.set()

    async def on_ready(self) -> None:
        """READY follows every fresh IDENTIFY (start-up, a session Discord would not
        resume); a RESUME replays the missed events itself and dispatches no READY."""
        self.listener.start_catch_up()

    async def on_resumed(self) -> None:
        self.listener.log.info("discord: gateway session resumed")
        self.listener.ready.set()

    async def on_disconnect(self) -> None:
        if not self.is_closed():
            self.listener.log.warning("discord: gateway connection lost; reconnecting")
        self.listener.ready.clear()

    async def on_message(self, message: discord.Message) -> None:
        await self.listener.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.listener.on_interaction(interaction)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a fresh IDENTIFY after a lost session (Discord
        allows about one per 5 s); the wait is a constructor option so tests skip it."""
        if not initial:
            await asyncio.sleep(self.listener.identify_delay)


class DiscordChannel(Channel):
    """``tinyclaw listen discord``: a bot account in DMs and in allowed guild channels."""

    name = "discord"
    text_limit = TEXT_LIMIT

    def __init__(
        self,
        home: Home,
        config: ChannelConfig,
        *,
        token: str,
        upload_limit: int = UPLOAD_LIMIT,
        ready_timeout: float = READY_TIMEOUT,
        identify_delay: float = IDENTIFY_DELAY,
        reconnect_delay: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(home, config, **options)
        self._token = token
        self.upload_limit = upload_limit
        self.ready_timeout = ready_timeout
        self.identify_delay = identify_delay
        self.reconnect_delay = reconnect_delay
        self.ready = asyncio.Event()
        self.client: _Client | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._clock = options.get("clock", time.time)
        self.cursor = Cursor(home.state / CURSOR_FILE)
        self.catch_up_task: asyncio.Task[None] | None = None

    # -- connecting ----------------------------------------------------------------

    async def connect(self) -> None:
        self._redirect()
        try:
            client = await self._login()
            await self._open_gateway(client)
        except BaseException:
            await self.disconnect()  # base calls disconnect only after a good connect
            raise

    def _new_client(self) -> _Client:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = True
        self.client = _Client(
            self,
            intents=intents,
            max_messages=None,  # nothing here reads the message cache; keep RSS low
            chunk_guilds_at_startup=False,
            guild_ready_timeout=0.1,
            max_ratelimit_timeout=MAX_LIBRARY_RATELIMIT_WAIT,
        )
        return self.client

    async def _login(self) -> _Client:
        """``GET /users/@me`` checks the token. An unreachable or failing API is retried
        with backoff (1 s doubling to 30 s); a refused token is fatal at once."""
        delay = 0.0
        while True:
            client = self._new_client()
            try:
                await client.login(self._token)
                return client
            except discord.LoginFailure:
                raise ChannelAuthError(
                    f"discord: the bot token was refused; check {self.config.token_env}"
                ) from None
            except LIBRARY_ERRORS as exc:
                error = delivery_error(exc, "discord login")
                if isinstance(error, PermanentDeliveryError):
                    raise error from exc
                await client.close()  # its HTTP session is spent; the next try starts afresh
                delay = min(MAX_RECONNECT_DELAY, max(self.reconnect_delay, delay * 2))
                self.log.warning("%s; retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)

    async def _open_gateway(self, client: _Client) -> None:
        """Start the gateway and wait for READY, or for the close that says why not."""
        assert client.user is not None
        me = client.user.id
        self.mention_tokens = (f"<@{me}>", f"<@!{me}>")
        self._gateway = asyncio.create_task(self._run_gateway(client), name="discord-gateway")
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._gateway}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if self._gateway in done:
            self._gateway.result()  # a fatal close: raise it now, at start-up
        elif not done:
            self.log.warning(
                "discord: gateway not ready after %.0f s; still trying", self.ready_timeout
            )
        self.log.info("discord: logged in as %s (%s)", client.user, me)

    def _redirect(self) -> None:
        """Point discord.py at ``api_base``/``gateway_url`` (remembering the defaults)."""
        api, gateway = self.config.api_base, self.config.gateway_url
        if api and not api.startswith(("http://", "https://")):
            raise ConfigError(f"channels.discord.api_base: {api!r} is not an http(s) URL")
        if gateway and not gateway.startswith(("ws://", "wss://")):
            raise ConfigError(f"channels.discord.gateway_url: {gateway!r} is not a ws(s) URL")
        ws = discord.gateway.DiscordWebSocket
        self._saved_endpoints = (discord.http.Route.BASE, ws.DEFAULT_GATEWAY)
        if api:
            discord.http.Route.BASE = api.rstrip("/")
        if gateway:
            ws.DEFAULT_GATEWAY = yarl.URL(gateway)

    def _restore(self) -> None:
        if self._saved_endpoints is not None:
            base, gateway = self._saved_endpoints
            discord.http.Route.BASE = base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
            self._saved_endpoints = None

    async def _run_gateway(self, client: _Client) -> None:
        """discord.py reconnects (with backoff, resuming the session) by itself; what
        comes out of ``connect`` is a close that retrying cannot fix. It ends the
        listener: raised during start-up, through :meth:`abort` afterwards."""
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            error = ChannelAuthError(
                "discord: the Message Content intent is not enabled for this bot; turn on "
                "Developer Portal → your application → Bot → Privileged Gateway Intents → "
                "Message Content Intent"
            )
        except discord.ConnectionClosed as exc:
            reason = _GATEWAY_CLOSE_REASONS.get(exc.code or 0, exc.reason or "closed")
            error = ChannelAuthError(f"discord: gateway closed ({exc.code}): {reason}")
        else:
            return
        self.abort(error)
        raise error

    async def disconnect(self) -> None:
        try:
            if self.catch_up_task is not None:
                self.catch_up_task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self.catch_up_task
            if self.client is not None:
                await self.client.close()
            if self._gateway is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(self._gateway, 5)
        finally:
            self._restore()

    # -- inbound -------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """One gateway message; a bad one is logged and skipped, never stops the listener."""
        if message.author.bot or message.type not in (
            discord.MessageType.default,
            discord.MessageType.reply,
        ):
            return  # our own replies, other bots, joins/pins: never queued
        assert self.client is not None and self.client.user is not None
        incoming = translate(message, self.client.user)
        try:
            # A sticker or an embed-only message has nothing an actor could read.
            if incoming.text or incoming.files:
                await self.receive(incoming)
            if not incoming.is_group or (
                {incoming.chat_id, incoming.parent_chat_id} & set(self.config.allow_groups)
            ):
                self.cursor.advance(incoming.chat_id, message.id)
        except (InvalidMessageError, SpoolError, UnsafePathError, OSError, ValueError) as exc:
            self.log.exception("could not queue discord message %s: %s", message.id, exc)

    def start_catch_up(self) -> None:
        """Read, in the background, what was written while no session was open."""
        if self.catch_up_task is None or self.catch_up_task.done():
            self.catch_up_task = asyncio.create_task(self._run_catch_up(), name="discord-catch-up")

    async def _run_catch_up(self) -> None:
        client = self.client
        assert client is not None
        now = datetime.fromtimestamp(self._clock(), UTC)
        try:
            count = await catch_up(client, self.cursor, self.on_message, now=now, log=self.log)
        except Exception as exc:  # the edge of a background task nobody awaits
            if client.is_closed():  # the listener is stopping: the next start catches up
                self.log.info("discord: catch-up stopped, the listener is closing")
            else:
                self.log.warning("discord: could not catch up on missed messages: %s", exc)
            return
        self.log.info("discord: caught up on %d message(s) written while away", count)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A slash command: acknowledged first (in Discord's 3 s, whatever happens
        next), then queued exactly as the same command typed as text would be."""
        if interaction.type is discord.InteractionType.component:
            await self._press(interaction)
            return
        if interaction.type is not discord.InteractionType.application_command:
            return  # autocomplete, modals: the listener offers none
        incoming = translate_interaction(interaction)
        command = parse_command(incoming.text) if incoming is not None else None
        if incoming is None or command is None:
            note = "Unknown command. Try /help."
        elif incoming.is_group and not (
            {incoming.chat_id, incoming.parent_chat_id} & set(self.config.allow_groups)
        ):
            # Said only to the sender (ephemeral): the group rule's silence is about
            # not chattering in a channel, and an unanswered command looks broken.
            note = "I don't answer in this channel (it is not in allow_groups)."
        else:
            note = f"Got /{command.name}; the answer comes as a message in this chat."
        try:
            await interaction.response.send_message(note, ephemeral=True)
        except (*LIBRARY_ERRORS, discord.InteractionResponded) as exc:
            self.log.warning(
                "discord: could not acknowledge interaction %s: %s", interaction.id, exc
            )
        if incoming is None or command is None:
            return
        try:
            await self.receive(incoming)
        except (InvalidMessageError, SpoolError, UnsafePathError, OSError, ValueError) as exc:
            self.log.exception("could not queue discord interaction %s: %s", interaction.id, exc)

    async def _press(self, interaction: discord.Interaction) -> None:
        """A button of a permission question: checked against the question this
        listener sent and queued (local files only, well inside Discord's 3 s), then
        acknowledged with a note only the presser sees."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        message = interaction.message
        if message is None or interaction.channel_id is None:
            note = "This button is not valid any more."
        else:
            press = Press(
                data=custom_id,
                chat_id=str(interaction.channel_id),
                message_id=str(message.id),
                sender_id=str(interaction.user.id),
                sender_name=interaction.user.display_name,
                press_id=str(interaction.id),
            )
            try:
                note = await self.pressed(press)
            except (InvalidMessageError, SpoolError, OSError, ValueError) as exc:
                self.log.exception("could not handle a button press: %s", exc)
                note = "That did not work; please try again."
        try:
            await interaction.response.send_message(note, ephemeral=True)
        except (*LIBRARY_ERRORS, discord.InteractionResponded) as exc:
            self.log.warning("discord: could not acknowledge button %s: %s", interaction.id, exc)

    # -- the command menu ------------------------------------------------------------

    async def register_commands(self, commands: Sequence[ChatCommand]) -> None:
        """Publish the chat commands as global slash commands (one bulk overwrite, so a
        command dropped here disappears from Discord too). Discord may take a while to
        show new global commands; the text forms work regardless."""
        client = self.client
        if client is None or client.application_id is None:
            raise TransientDeliveryError("discord: the application id is not known yet")
        payload = command_payloads(commands)
        await self._call(
            "command registration",
            client.http.bulk_upsert_global_commands(client.application_id, payload),
        )
        self.log.info(
            "discord: registered the slash commands %s",
            " ".join("/" + command["name"] for command in payload),
        )

    # -- outbound ------------------------------------------------------------------

    def _channel(self, chat_id: str) -> discord.PartialMessageable:
        if self.client is None:
            raise TransientDeliveryError("discord: not connected yet")
        return self.client.get_partial_messageable(_snowflake(chat_id, "chat id"))

    def render_markdown(self, text: str) -> list[TextPart]:
        return discord_parts(text, self.text_limit)

    async def send_text(self, chat_id: str, text: str, *, reply_to: str | None = None) -> None:
        channel = self._channel(chat_id)
        reference = None
        if reply_to and reply_to.isdigit():
            reference = discord.MessageReference(
                message_id=int(reply_to), channel_id=channel.id, fail_if_not_exists=False
            )
        await self._call(
            "send",
            channel.send(
                content=text,
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=NO_MENTIONS,
            ),
        )

    async def send_file(self, chat_id: str, path: Path, *, reply_to: str | None = None) -> None:
        """Upload ``path``; one over the bot's upload limit becomes a short note instead
        (Discord would answer 413 and the rest of the reply would be lost with it)."""
        channel = self._channel(chat_id)
        try:
            size = path.stat().st_size
            if size > self.upload_limit:
                mb = 1024 * 1024
                note = (
                    f"(file {path.name} not sent: {size / mb:.1f} MB is over Discord's "
                    f"{self.upload_limit / mb:.0f} MB upload limit)"
                )
                await self.send_text(chat_id, note)
                return
            upload = discord.File(path, filename=path.name)  # send() closes it
        except OSError as exc:
            raise PermanentDeliveryError(f"discord upload: cannot read {path.name}: {exc}") from exc
        await self._call("upload", channel.send(file=upload))

    async def send_typing(self, chat_id: str) -> None:
        await self._call("typing", self._channel(chat_id).typing())

    async def send_marked(
        self,
        chat_id: str,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        reply_to: str | None = None,
    ) -> str:
        """A message whose id we keep (a question with buttons, a status line)."""
        channel = self._channel(chat_id)
        reference = None
        if reply_to and reply_to.isdigit():
            reference = discord.MessageReference(
                message_id=int(reply_to), channel_id=channel.id, fail_if_not_exists=False
            )
        view = _view(buttons)
        options: dict[str, Any] = {"view": view} if view is not None else {}
        sent = await self._call(
            "send",
            channel.send(
                content=text[: self.text_limit],
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=NO_MENTIONS,
                **options,
            ),
        )
        if view is not None:
            view.stop()  # presses come to on_interaction, not to a stored view
        return str(sent.id)

    async def edit_marked(
        self, chat_id: str, message_id: str, text: str, *, buttons: Sequence[Button] = ()
    ) -> None:
        """Edit a message the bot sent; no ``buttons`` removes its components."""
        message = self._channel(chat_id).get_partial_message(_snowflake(message_id, "message id"))
        view = _view(buttons)
        await self._call(
            "edit",
            message.edit(content=text[: self.text_limit], view=view, allowed_mentions=NO_MENTIONS),
        )
        if view is not None:
            view.stop()

    async def delete_marked(self, chat_id: str, message_id: str) -> None:
        message = self._channel(chat_id).get_partial_message(_snowflake(message_id, "message id"))
        await self._call("delete", message.delete())

    async def _call(self, what: str, call: Any) -> Any:
        """Await one REST call. A 401 means the token was revoked: the listener is
        aborted (exit code 2) and the call reports a transient failure, so the reply
        stays in ``outgoing/`` for the next start instead of landing in ``failed/``."""
        try:
            return await call
        except discord.HTTPException as exc:
            if exc.status == 401:
                error = ChannelAuthError(
                    f"discord: the bot token is no longer accepted; check {self.config.token_env}"
                )
                self.abort(error)
                raise TransientDeliveryError(str(error)) from exc
            raise delivery_error(exc, f"discord {what}") from exc
        except LIBRARY_ERRORS as exc:
            raise delivery_error(exc, f"discord {what}") from exc
