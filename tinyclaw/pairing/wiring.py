"""Pairing put together for a home: the service from ``tinyclaw.toml``, and notices
through the outgoing queue.

Build the pairing service of a home from its ``tinyclaw.toml``.

The config contributes what does not live in the store: ``[pairing] owners``
(``channel:user_id`` strings), each ``[channels.X] allow_from`` list (user ids of that
channel), the code lifetime and the pending cap. Listeners, the worker and
``tinyclaw pair`` all build their service here, so they agree on who is allowed.

Telling a sender they are in: a notice written into the outgoing queue.

Whoever approves a request (``tinyclaw pair approve`` on the host, ``/approve`` from an
owner's chat in the worker) is not the process that can talk to the platform: only the
listener can. So the notice travels like any reply, as a file in
``queue/outgoing/<channel>/`` that the listener delivers, retries and records, and
that survives a listener being down at the time of the approval.

It goes to the chat the sender asked from, which the listener recorded with the
request. A request recorded without one falls back to the user id on platforms where a
direct chat *is* the user id (Telegram, WhatsApp); on Discord it is not, so there the
notice cannot be addressed and the approver is told to pass it on by hand.
"""

from __future__ import annotations

from tinyclaw.config import ChannelsConfig, Config, PairingConfig
from tinyclaw.core import (
    ConfigError,
    Home,
    PairingError,
    Reply,
    SpoolError,
    parse_duration,
    unique_name,
)
from tinyclaw.pairing.owner_side import PairingService
from tinyclaw.pairing.records import Identity, Notice
from tinyclaw.pairing.sender_side import Clock, Notify, utc_now
from tinyclaw.spool import Spool


def owners_from(config: PairingConfig) -> set[Identity]:
    try:
        return {Identity.parse(entry) for entry in config.owners}
    except PairingError as exc:
        raise ConfigError(f"tinyclaw.toml: pairing.owners: {exc}") from None


def allow_lists_from(channels: ChannelsConfig) -> set[Identity]:
    allowed: set[Identity] = set()
    for name in type(channels).model_fields:
        for user_id in channels.get(name).allow_from:
            try:
                allowed.add(Identity(name, user_id.strip()))
            except PairingError as exc:
                raise ConfigError(f"tinyclaw.toml: channels.{name}.allow_from: {exc}") from None
    return allowed


def pairing_service(
    home: Home,
    config: Config | None,
    *,
    notify: Notify | None = None,
    now: Clock = utc_now,
) -> PairingService:
    """The service for ``home``; with ``config=None`` (no ``tinyclaw.toml`` yet) there are
    no config owners or allow-lists and the defaults apply."""
    pairing = config.pairing if config is not None else PairingConfig()
    try:
        ttl = parse_duration(pairing.code_ttl)
    except ConfigError as exc:
        raise ConfigError(f"tinyclaw.toml: pairing.code_ttl: {exc}") from None
    return PairingService(
        home.pairing,
        owners=owners_from(pairing),
        static_allow=allow_lists_from(config.channels) if config is not None else set(),
        now=now,
        notify=notify,
        max_pending_per_channel=pairing.max_pending_per_channel,
        code_ttl=ttl,
    )


# Platforms whose direct-message chat id is the sender's user id.
DM_IS_USER = frozenset({"telegram", "whatsapp"})


def notice_chat(notice: Notice) -> str:
    """Where to send ``notice``; raises SpoolError when nobody knows."""
    if notice.chat_id:
        return notice.chat_id
    if notice.identity.channel in DM_IS_USER:
        return notice.identity.user_id
    raise SpoolError(
        f"do not know which {notice.identity.channel} chat {notice.identity} asked from"
    )


def notice_reply(notice: Notice) -> Reply:
    """The outgoing file for ``notice``: a ``kind="notice"`` reply to no message."""
    reply_id = unique_name()
    return Reply(
        id=reply_id,
        in_reply_to=reply_id,  # it answers no queued message; its own id keeps it unique
        channel=notice.identity.channel,
        chat_id=notice_chat(notice),
        text=notice.text,
        kind="notice",
        meta={"pairing": "approved"},
    )


def queue_notifier(home: Home, spool: Spool | None = None) -> Notify:
    """A :data:`~tinyclaw.pairing.sender_side.Notify` that queues the notice for the listener.

    Raises only TinyclawError subclasses (the service then keeps the approval and says
    the sender was not told), never a bare OSError.
    """

    def notify(notice: Notice) -> None:
        reply = notice_reply(notice)
        try:  # the spool is made on first use: approving needs no queue folders until then
            (spool if spool is not None else Spool(home)).put_reply(reply)
        except OSError as exc:
            raise SpoolError(f"could not queue the notice for {notice.identity}: {exc}") from exc

    return notify
