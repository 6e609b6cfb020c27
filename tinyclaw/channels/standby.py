"""One listener per bot across machines: the listener lease on a shared spool.

A platform serves one connection per bot token (Telegram answers a second poller
with a conflict, Discord drops the older gateway session), and two listeners would
each deliver every reply. On one machine a file lock keeps it to one; with the queue
on NATS, listeners on several machines agree through a lease in the key-value store,
named ``listener.<platform>``:

* a listener serves only while it holds the lease; it renews it every third of the
  lease's ``ttl``;
* a second listener waits (its log says on which machine the bot runs), checks the
  lease at least once a second, and takes it over as soon as it expires: within
  ``ttl`` seconds of the holder's death (SIGKILL, a lost machine);
* a holder whose renewal is refused (the lease expired and another took it) or that
  cannot reach the servers for most of ``ttl`` stops serving at once, so the two never
  serve together for longer than it takes to notice;
* a listener that stops cleanly gives the lease back, and a waiting one takes over
  within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from tinyclaw.core import SpoolError
from tinyclaw.spool import Lease

POLL = 1.0  # how often a waiting listener looks at the lease, at most
RETRY = 1.0  # how soon a renewal that could not reach the servers is tried again
GIVE_UP = 0.8  # without a renewal for this share of ttl, the holder stops serving


def lease_key(platform: str) -> str:
    return f"listener.{platform}"


class ListenerLease:
    """The lease of one platform's listener, as its process sees it."""

    def __init__(
        self,
        lease: Lease,
        platform: str,
        *,
        log: logging.Logger,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.platform = platform
        self.log = log
        self.monotonic = monotonic
        self.lost: SpoolError | None = None
        self.waited = False
        self._renewed = 0.0

    async def acquire(
        self, stop: asyncio.Event, waiting: Callable[[str], None] | None = None
    ) -> bool:
        """Wait until this listener holds the lease; False if ``stop`` came first.
        ``waiting(holder)`` is told each time another holder is found serving."""
        announced: str | None = None
        while not stop.is_set():
            wait = POLL
            try:
                if await asyncio.to_thread(self.lease.acquire):
                    self._renewed = self.monotonic()
                    self.log.info(
                        "holding the lease %s as %s (renewed every %.0f s, ttl %.0f s)",
                        self.lease.key,
                        self.lease.holder,
                        self.lease.ttl / 3,
                        self.lease.ttl,
                    )
                    return True
                current = await asyncio.to_thread(self.lease.current)
            except SpoolError as exc:
                self.log.warning("cannot reach the queue for the lease %s: %s", self.lease.key, exc)
                current = None
            if current is not None:
                wait = min(POLL, max(0.05, current.until - self.lease.clock() + 0.05))
                if current.holder != announced:
                    announced = current.holder
                    self.waited = True
                    self.log.info(
                        "waiting: the %s listener runs as %s (lease %s); this one takes "
                        "over within %.0f s of it stopping",
                        self.platform,
                        current.holder,
                        self.lease.key,
                        self.lease.ttl,
                    )
                    if waiting is not None:
                        waiting(current.holder)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stop.wait()
        return False

    async def keep(self, on_lost: Callable[[SpoolError], None]) -> None:
        """Renew the lease until cancelled; when it is lost, set :attr:`lost` and call
        ``on_lost`` (the listener stops serving) once."""
        ttl = self.lease.ttl
        wait = ttl / 3
        while True:
            await asyncio.sleep(wait)
            try:
                renewed = await asyncio.to_thread(self.lease.renew)
            except SpoolError as exc:
                silent = self.monotonic() - self._renewed
                if silent < ttl * GIVE_UP:
                    self.log.warning("could not renew the lease %s: %s", self.lease.key, exc)
                    wait = min(RETRY, ttl / 3)
                    continue
                self._lose(
                    f"could not renew the lease {self.lease.key} for {silent:.0f} s", on_lost
                )
                return
            if not renewed:
                self._lose(
                    f"the lease {self.lease.key} was taken over by another listener", on_lost
                )
                return
            self._renewed = self.monotonic()
            wait = ttl / 3

    def fresh(self) -> bool:
        """Whether the last renewal is recent enough to act on (a process that was
        suspended past it must not deliver before its keeper finds out)."""
        return self.lost is None and self.monotonic() - self._renewed < self.lease.ttl * GIVE_UP

    def _lose(self, why: str, on_lost: Callable[[SpoolError], None]) -> None:
        self.lost = SpoolError(f"{why}; stopped serving {self.platform} (another may serve it)")
        self.log.error("%s", self.lost)
        on_lost(self.lost)

    def release(self) -> None:
        """Give the lease back (a clean stop): a waiting listener takes over at once."""
        if self.lost is None:
            with contextlib.suppress(SpoolError):
                self.lease.release()
