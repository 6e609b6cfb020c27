"""The one message factory, and readers of what the queue holds.

``message("hi")`` is what the terminal would queue; ``channel=``, ``chat=`` and
``sender=`` make it a chat user's, any other keyword is an ``Inbound`` field
(``actor=``, ``attachments=``, …).
"""

from __future__ import annotations

import json

from tests.support.waiting import wait_for
from tinyclaw.core.fsutil import unique_name
from tinyclaw.core.home import Home
from tinyclaw.core.messages import Inbound, Reply, Sender, load_inbound, load_reply
from tinyclaw.spool import Spool

ME = Sender(id="me", name="Me")


def message(
    text: str = "hello",
    *,
    channel: str = "cli",
    chat: str = "local",
    sender: Sender = ME,
    **fields: object,
) -> Inbound:
    """A new message with a fresh id (extra ``fields`` are validated as ``Inbound``)."""
    return Inbound.model_validate(
        {
            "id": unique_name(),
            "channel": channel,
            "chat_id": chat,
            "sender": sender,
            "text": text,
            **fields,
        }
    )


def reply_to(msg: Inbound, text: str, **fields: object) -> Reply:
    """The answer the worker would write to ``msg``."""
    return Reply.model_validate(
        {
            "id": msg.id,
            "in_reply_to": msg.id,
            "channel": msg.channel,
            "chat_id": msg.chat_id,
            "text": text,
            **fields,
        }
    )


def incoming(home: Home) -> list[Inbound]:
    """What the worker would find in ``queue/incoming``, oldest first."""
    spool = Spool(home)
    return [load_inbound(path.read_bytes()) for path in spool.list_box(spool.incoming)]


def outgoing(home: Home, channel: str = "cli") -> list[Reply]:
    """Every reply waiting for ``channel`` in ``queue/outgoing``, in name order."""
    spool = Spool(home)
    return [load_reply(path.read_bytes()) for path in spool.list_box(spool.outgoing(channel))]


def failed_reasons(home: Home) -> dict[str, str]:
    """``queue/failed/``: file name → reason."""
    spool = Spool(home)
    return {
        path.name: json.loads((spool.failed / f"{path.name}.reason").read_text())["reason"]
        for path in spool.list_box(spool.failed)
    }


def reply_for(home: Home, msg: Inbound, timeout: float = 20.0) -> Reply:
    """Wait for the reply to ``msg`` in its channel's outgoing box."""
    path = Spool(home).outgoing(msg.channel) / f"{msg.id}.json"
    wait_for(path.exists, timeout, f"reply to {msg.text!r}")
    return load_reply(path.read_bytes())


def ask(home: Home, text: str, **fields: object) -> str:
    """Queue ``text`` as the terminal would and return the reply's text."""
    msg = message(text, **fields)
    Spool(home).put(msg)
    return reply_for(home, msg, timeout=30).text
