"""What ``tinyclaw status`` shows of a queue on NATS: the counts, each inbox, the
runs in flight on any machine, and the newest failures with their reasons.

On files status reads the folders; on NATS the same figures come from the streams
and the claims bucket, read through one connection in a handful of requests (the
failed stream is read from its end, so a long history costs nothing)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from tinyclaw.core import InvalidMessageError, load_inbound
from tinyclaw.spool.jetstream.spool import JetStreamSpool
from tinyclaw.spool.jetstream.streams import ClaimState, message_key

LOOK_BACK = 200  # failed-stream positions read at most to find the newest failures


@dataclass(frozen=True)
class Running:
    """A message a worker holds a live claim on, on whichever machine."""

    actor: str
    message_id: str
    text: str
    origin: str  # channel:chat_id
    holder: str  # HOST:PID:... of the claiming worker


@dataclass(frozen=True)
class Failure:
    key: str
    reason: str
    at: str


@dataclass(frozen=True)
class Census:
    depths: dict[str, int]
    inboxes: dict[str, int]  # actor -> messages waiting (not claimed)
    running: list[Running]
    failures: list[Failure]  # the newest first


def census(spool: JetStreamSpool, latest: int = 3) -> Census:
    """The queue's figures now. SpoolError when the servers do not answer."""
    L = spool.layout
    depths = spool.depths()
    now = time.time()
    running: list[Running] = []
    held: dict[str, int] = {}
    for key in spool.claims.keys():  # noqa: SIM118
        if not key.startswith("m."):
            continue
        found = spool.claims.get(key)
        try:
            state = ClaimState.parse(found) if found is not None else None
        except (ValueError, TypeError):
            state = None
        if state is None or not state.held:
            continue
        held[state.actor] = held.get(state.actor, 0) + 1
        if state.until > now:
            running.append(_running(spool, int(key[2:]), state))

    async def subjects() -> dict[str, int]:
        info = await spool.conn.js.stream_info(L.queue, subjects_filter=L.inbox_subject("*"))
        return dict(info.state.subjects or {})

    counts = spool.conn.call(subjects(), "count the inboxes")
    inbox_prefix = L.inbox_subject("")
    inboxes = {subject[len(inbox_prefix) :]: count for subject, count in counts.items() if count}
    for actor, n in held.items():
        inboxes[actor] = max(0, inboxes.get(actor, 0) - n)
    return Census(depths, inboxes, running, _failures(spool, latest))


def _running(spool: JetStreamSpool, seq: int, state: ClaimState) -> Running:
    found = spool._get(spool.layout.queue, seq)
    data = (found.data or b"") if found is not None else b""
    headers = found.headers if found is not None else None
    text = origin = ""
    try:
        message = load_inbound(data, default_id=f"seq-{seq}")
        text, origin = " ".join(message.text.split())[:120], f"{message.channel}:{message.chat_id}"
    except InvalidMessageError:
        pass
    return Running(
        state.actor, message_key(data, headers, f"seq-{seq}"), text, origin, state.holder
    )


def _failures(spool: JetStreamSpool, latest: int) -> list[Failure]:
    async def last() -> int:
        info = await spool.conn.js.stream_info(spool.layout.failed)
        return int(info.state.last_seq or 0)

    result: list[Failure] = []
    seq = spool.conn.call(last(), "read the failed stream")
    stop = max(0, seq - LOOK_BACK)
    while seq > stop and len(result) < latest:
        found = spool._get(spool.layout.failed, seq)
        seq -= 1
        if found is None:
            continue
        headers = found.headers or {}
        try:
            reason = str(json.loads(headers.get("Tinyclaw-Reason", '""')))
        except ValueError:
            reason = headers.get("Tinyclaw-Reason", "")
        key = headers.get("Tinyclaw-Key", f"seq-{found.seq}")
        result.append(Failure(key, reason, headers.get("Tinyclaw-At", "")))
    return result
