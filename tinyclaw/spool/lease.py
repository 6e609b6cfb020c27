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

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tinyclaw.core import SpoolError
from tinyclaw.spool.backend import KeyValue

POLL = 1.0  # how often a waiting process looks at the lease, at most
RETRY = 1.0  # how soon a renewal that could not reach the servers is tried again
GIVE_UP = 0.8  # without a renewal for this share of ttl, the holder stops serving


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


class Standby:
    """A process that may serve only while it holds ``lease`` (a listener its bot, a
    worker its node), one step at a time: :meth:`look` while it waits, :meth:`renew`
    while it serves. The caller loops around them on its own threads or event loop.

    A waiting process is told who serves (and logs it once per holder); it takes the
    lease as soon as it is free, given back or run out, or at once from a holder
    ``dead`` says is gone. A holder whose renewal is refused (it was frozen past the
    ttl and another took over), or that could not renew for :data:`GIVE_UP` of the
    ttl, has lost it: :attr:`lost` says why, and it must stop serving."""

    def __init__(
        self,
        lease: Lease,
        who: str,
        served: str,
        rival: str,
        *,
        log: logging.Logger,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.who = who  # "the telegram listener", "node box-a"
        self.served = served  # "telegram", "node box-a"
        self.rival = rival  # "listener", "worker"
        self.log = log
        self.monotonic = monotonic
        self.lost: SpoolError | None = None
        self.waited = False
        self._renewed = 0.0
        self._announced: str | None = None

    def look(
        self,
        waiting: Callable[[str], None] | None = None,
        dead: Callable[[str], bool] = lambda holder: False,
    ) -> float | None:
        """Take the lease if it can be had: None once held; else how many seconds to
        wait before looking again. ``waiting(holder)`` is told each new holder."""
        try:
            current = self.lease.current()
            if current is not None and dead(current.holder):
                taken = self.lease.take_from(current.holder)
            else:
                taken = self.lease.acquire()
            if taken:
                self._renewed = self.monotonic()
                self.log.info(
                    "holding the lease %s as %s (renewed every %.0f s, ttl %.0f s)",
                    self.lease.key,
                    self.lease.holder,
                    self.lease.ttl / 3,
                    self.lease.ttl,
                )
                return None
            current = self.lease.current()
        except SpoolError as exc:
            self.log.warning("cannot reach the queue for the lease %s: %s", self.lease.key, exc)
            return POLL
        if current is None:
            return POLL
        if current.holder != self._announced:
            self._announced = current.holder
            self.waited = True
            self.log.info(
                "waiting: %s runs as %s (lease %s); this one takes over within %.0f s of "
                "it stopping",
                self.who,
                current.holder,
                self.lease.key,
                self.lease.ttl,
            )
            if waiting is not None:
                waiting(current.holder)
        return min(POLL, max(0.05, current.until - self.lease.clock() + 0.05))

    def renew(self) -> float | None:
        """Renew the lease: how many seconds until the next renewal; None when it is
        lost (:attr:`lost` says why: stop serving)."""
        ttl = self.lease.ttl
        try:
            renewed = self.lease.renew()
        except SpoolError as exc:
            if self.until_give_up() > 0:
                self.log.warning("could not renew the lease %s: %s", self.lease.key, exc)
                return min(RETRY, ttl / 3)
            self.give_up()
            return None
        if not renewed:
            self._lose(f"the lease {self.lease.key} was taken over by another {self.rival}")
            return None
        self._renewed = self.monotonic()
        return ttl / 3

    def until_give_up(self) -> float:
        """Seconds left before a holder that cannot renew must stop serving (at
        :data:`GIVE_UP` of the ttl after its last renewal, well before a standby may
        take over); zero or less: now."""
        return self._renewed + self.lease.ttl * GIVE_UP - self.monotonic()

    def give_up(self) -> None:
        """Lose the lease for want of a renewal (see :meth:`until_give_up`)."""
        silent = self.monotonic() - self._renewed
        self._lose(f"could not renew the lease {self.lease.key} for {silent:.0f} s")

    def _lose(self, why: str) -> None:
        """Record the loss (the first reason, when a watchdog and the renewal both
        find it)."""
        if self.lost is None:
            self.lost = SpoolError(f"{why}; stopped serving {self.served} (another may serve it)")
            self.log.error("%s", self.lost)

    def fresh(self) -> bool:
        """Whether the last renewal is recent enough to act on (a process that was
        suspended past it must not act before its keeper finds out)."""
        return self.lost is None and self.monotonic() - self._renewed < self.lease.ttl * GIVE_UP

    def release(self) -> None:
        """Give the lease back (a clean stop): a waiting process takes over at once."""
        if self.lost is None:
            with contextlib.suppress(SpoolError):
                self.lease.release()


def once(kv: KeyValue, key: str, holder: str) -> bool:
    """Claim the one-time event ``key`` (a schedule's firing at a given time): True
    for exactly one caller, whichever machine it runs on."""
    return kv.create(key, json.dumps({"holder": holder}).encode()) is not None
