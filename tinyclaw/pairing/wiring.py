"""Pairing put together for a home: the service from ``tinyclaw.toml``, and notices
through the outgoing queue.

Build the pairing service of a home from its ``tinyclaw.toml``.

The store is the home's ``pairing/`` folder, or, when ``[spool] backend = "nats"``,
the ``PREFIX_pairing`` bucket of the NATS servers, so listeners and workers on
several machines agree on who is paired (:func:`open_pairing_store`, the one place
that decides; nothing else looks at the backend).

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

from typing import Any

from tinyclaw.config import ChannelsConfig, Config, PairingConfig, load_home_config
from tinyclaw.core import (
    ConfigError,
    Home,
    PairingError,
    Reply,
    SpoolError,
    parse_duration,
    unique_name,
)
from tinyclaw.pairing.kv_store import BUCKET, KVPairingStore
from tinyclaw.pairing.owner_side import PairingService
from tinyclaw.pairing.records import Identity, Notice
from tinyclaw.pairing.scope import DM_IS_USER
from tinyclaw.pairing.sender_side import Clock, Notify, utc_now
from tinyclaw.pairing.storage import PairingStorage, PairingStore
from tinyclaw.spool import Spool, SpoolBackend, open_spool, open_store_bucket


def open_pairing_store(home: Home, config: Config | None, spool: object = None) -> PairingStorage:
    """The home's pairing store, as ``[spool]`` says: ``pairing/`` in the home on
    files; on NATS the bucket ``PREFIX_pairing``, through ``spool``'s connection when
    it is a NATS spool, else through a connection of its own (SpoolUnavailableError
    when no server answers)."""
    if config is None:
        return PairingStore(home.pairing)
    kv = open_store_bucket(config, BUCKET, spool)
    if kv is None:
        return PairingStore(home.pairing)
    where = f"the NATS bucket {config.spool.stream_prefix}_{BUCKET}"
    return KVPairingStore(kv, where=where)


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
    spool: object = None,
) -> PairingService:
    """The service for ``home``; with ``config=None`` (no ``tinyclaw.toml`` yet) there are
    no config owners or allow-lists and the defaults apply. ``spool`` is the caller's
    open queue, whose connection a store on NATS shares (see :func:`open_pairing_store`)."""
    pairing = config.pairing if config is not None else PairingConfig()
    try:
        ttl = parse_duration(pairing.code_ttl)
    except ConfigError as exc:
        raise ConfigError(f"tinyclaw.toml: pairing.code_ttl: {exc}") from None
    return PairingService(
        open_pairing_store(home, config, spool),
        owners=owners_from(pairing),
        static_allow=allow_lists_from(config.channels) if config is not None else set(),
        now=now,
        notify=notify,
        max_pending_per_channel=pairing.max_pending_per_channel,
        code_ttl=ttl,
    )


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


def queue_notifier(home: Home, spool: SpoolBackend[Any] | Spool | None = None) -> Notify:
    """A :data:`~tinyclaw.pairing.sender_side.Notify` that queues the notice for the listener.

    Without ``spool`` the notice goes to the home's queue as ``tinyclaw.toml`` says
    (the files, or the NATS servers, opened for the notice and closed after it).
    Raises only TinyclawError subclasses (the service then keeps the approval and says
    the sender was not told), never a bare OSError.
    """

    def notify(notice: Notice) -> None:
        reply = notice_reply(notice)
        try:  # the spool is made on first use: approving needs no queue folders until then
            if spool is not None:
                spool.put_reply(reply)
                return
            queue = _home_queue(home)
            try:
                queue.put_reply(reply)
            finally:
                close = getattr(queue, "close", None)
                if close is not None:
                    close()
        except OSError as exc:
            raise SpoolError(f"could not queue the notice for {notice.identity}: {exc}") from exc

    return notify


def _home_queue(home: Home) -> SpoolBackend[Any] | Spool:
    """The home's queue for one notice: NATS when its configuration says so."""
    if not home.config_file.exists():
        return Spool(home)
    return open_spool(home, load_home_config(home))
