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
from tinyclaw.spool import Lease, Standby


def lease_key(platform: str) -> str:
    return f"listener.{platform}"


class ListenerLease(Standby):
    """The lease of one platform's listener, as its process sees it (on its event
    loop: each look and renewal is a call to the servers, made on a thread)."""

    def __init__(
        self,
        lease: Lease,
        platform: str,
        *,
        log: logging.Logger,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            lease, f"the {platform} listener", platform, "listener", log=log, monotonic=monotonic
        )
        self.platform = platform

    async def acquire(
        self, stop: asyncio.Event, waiting: Callable[[str], None] | None = None
    ) -> bool:
        """Wait until this listener holds the lease; False if ``stop`` came first.
        ``waiting(holder)`` is told each time another holder is found serving."""
        while not stop.is_set():
            wait = await asyncio.to_thread(self.look, waiting)
            if wait is None:
                return True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stop.wait()
        return False

    async def keep(self, on_lost: Callable[[SpoolError], None]) -> None:
        """Renew the lease until cancelled; when it is lost, set :attr:`lost` and call
        ``on_lost`` (the listener stops serving) once."""
        wait: float | None = self.lease.ttl / 3
        while wait is not None:
            await asyncio.sleep(wait)
            wait = await asyncio.to_thread(self.renew)
        assert self.lost is not None
        on_lost(self.lost)
