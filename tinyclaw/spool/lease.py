"""A lease in a :class:`~tinyclaw.spool.backend.KeyValue`: one holder at a time.

What several machines need to agree on who does a thing that must happen once: which
machine runs a bot's listener (a platform allows one connection per token), which
node fires a schedule. The holder writes its name and an expiry under the key with
compare-and-set, renews it well before the expiry, and gives it back when it stops.
A holder that dies stops renewing; once the expiry has passed, anyone may take the
lease over, again with compare-and-set, so two contenders never both win.

The expiry is wall-clock time, compared on each machine with its own clock: keep the
clocks in sync (NTP), well within ``ttl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from tinyclaw.spool.backend import KeyValue


@dataclass(frozen=True)
class LeaseState:
    holder: str
    until: float

    def dump(self) -> bytes:
        return json.dumps({"holder": self.holder, "until": self.until}).encode()


def _parse(data: bytes) -> LeaseState | None:
    """The stored lease; None for a value that is not one (it is taken over)."""
    try:
        value = json.loads(data)
        return LeaseState(str(value["holder"]), float(value["until"]))
    except (ValueError, KeyError, TypeError):
        return None


class Lease:
    """The lease ``key`` as seen by ``holder``. Not thread-safe: one owner uses it."""

    def __init__(
        self,
        kv: KeyValue,
        key: str,
        holder: str,
        ttl: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kv = kv
        self.key = key
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self._revision: int | None = None

    @property
    def held(self) -> bool:
        """Whether the last acquire or renew succeeded (and it was not released)."""
        return self._revision is not None

    def current(self) -> LeaseState | None:
        """Who holds the lease now (an expired lease is held by nobody)."""
        found = self.kv.entry(self.key)
        state = None if found is None else _parse(found[0])
        if state is None or not state.holder or state.until <= self.clock():
            return None
        return state

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; False if another
        holder has it (or won the race for it)."""
        mine = LeaseState(self.holder, self.clock() + self.ttl).dump()
        found = self.kv.entry(self.key)
        if found is None:
            self._revision = self.kv.create(self.key, mine)
            return self.held
        state = _parse(found[0])
        held_by_another = state is not None and state.holder not in ("", self.holder)
        if held_by_another and state is not None and state.until > self.clock():
            self._revision = None
            return False
        self._revision = self.kv.update(self.key, mine, found[1])
        return self.held

    def take_from(self, dead: str) -> bool:
        """Take the lease from the holder ``dead`` before it runs out, when the caller
        knows that holder is gone (its own predecessor on the same machine, whose
        process no longer exists); False if someone else holds it or won the race."""
        found = self.kv.entry(self.key)
        state = None if found is None else _parse(found[0])
        if found is None or state is None or state.holder != dead:
            return False
        mine = LeaseState(self.holder, self.clock() + self.ttl).dump()
        self._revision = self.kv.update(self.key, mine, found[1])
        return self.held

    def renew(self) -> bool:
        """Push the expiry ``ttl`` ahead; False if the lease was lost meanwhile (it
        expired and someone took it over): the holder must stop what it leads."""
        if self._revision is None:
            return False
        mine = LeaseState(self.holder, self.clock() + self.ttl).dump()
        self._revision = self.kv.update(self.key, mine, self._revision)
        return self.held

    def release(self) -> None:
        """Give the lease back at once, if it is still ours."""
        if self._revision is not None:
            self.kv.update(self.key, LeaseState("", 0.0).dump(), self._revision)
        self._revision = None


def once(kv: KeyValue, key: str, holder: str) -> bool:
    """Claim the one-time event ``key`` (a schedule's firing at a given time): True
    for exactly one caller, whichever machine it runs on."""
    return kv.create(key, json.dumps({"holder": holder}).encode()) is not None
