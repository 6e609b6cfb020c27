"""Telling a sender they are in: a notice written into the outgoing queue.

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

from tinyclaw.core.errors import SpoolError
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Reply
from tinyclaw.pairing.decisions import Notice
from tinyclaw.pairing.gate import Notify
from tinyclaw.spool import Spool

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
    """A :data:`~tinyclaw.pairing.gate.Notify` that queues the notice for the listener.

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
