"""One worker per node across machines: the node lease on a NATS home.

A node's actors are configured (``[nodes.NAME] actors``), but nothing in the
configuration stops ``tinyclaw worker --node box-a`` from being started on two
machines. Two workers of one node would each hand back the other's live claims at
start (a starting worker returns every claim of its actors, taking them for a dead
predecessor's), so runs in flight would run twice. The workers of one node agree
through a lease in the key-value bucket ``PREFIX_leases``, named ``node.NAME``
(``node.default`` for the one implicit node of a home without ``[nodes]``):

* a worker takes the lease before it returns any claim or takes any message, and
  renews it every third of the lease's ``ttl``;
* a second worker of the node waits (its log says which machine serves the node),
  looks at the lease at least once a second, and takes it over when it is given back
  (a clean stop: the first has finished or returned its runs) or has run out (the
  holder was killed or its machine lost: it cannot still be running anything). Only
  then does it return the node's claims and serve;
* a holder whose renewal is refused (it was frozen past ``ttl`` and another took
  over) or that cannot renew for most of ``ttl`` stops its runs and takes nothing
  more, so the two never serve together for longer than it takes to notice.

This is what lets a node move to another machine when its actors' workspaces are on
shared storage: the same node started on both, one serves and the other waits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from tinyclaw.core import SpoolError
from tinyclaw.spool import Lease

POLL = 1.0  # how often a waiting worker looks at the lease, at most
RETRY = 1.0  # how soon a renewal that could not reach the servers is tried again
GIVE_UP = 0.8  # without a renewal for this share of ttl, the holder stops serving
DEFAULT_NODE = "default"  # the lease name of a home on NATS without [nodes]


def node_lease_key(node: str | None) -> str:
    """``node.NAME``; ``node.default`` for the one worker of a home without nodes."""
    return f"node.{node or DEFAULT_NODE}"


def node_label(node: str | None) -> str:
    return f"node {node}" if node else "the worker"


class NodeLease:
    """The lease of one worker node, as its worker process sees it (threads: the
    worker's main thread waits for it, a keeper thread renews it)."""

    def __init__(
        self,
        lease: Lease,
        node: str | None,
        *,
        log: logging.Logger,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.node = node
        self.log = log
        self.monotonic = monotonic
        self.lost: SpoolError | None = None
        self.waited = False
        self._renewed = 0.0
        self._ended = threading.Event()
        self._keeper: threading.Thread | None = None

    def acquire(
        self,
        stop: threading.Event,
        waiting: Callable[[str], None] | None = None,
        dead: Callable[[str], bool] = lambda holder: False,
    ) -> bool:
        """Wait until this worker holds the lease; False if ``stop`` came first.
        ``waiting(holder)`` is told each time another holder is found serving;
        a holder ``dead`` says is gone (this home's previous worker, killed) is taken
        over at once instead of when its lease runs out."""
        announced: str | None = None
        while not stop.is_set():
            wait = POLL
            try:
                current = self.lease.current()
                taken = (
                    self.lease.take_from(current.holder)
                    if current is not None and dead(current.holder)
                    else self.lease.acquire()
                )
                if taken:
                    self._renewed = self.monotonic()
                    self.log.info(
                        "holding the lease %s as %s (renewed every %.0f s, ttl %.0f s)",
                        self.lease.key,
                        self.lease.holder,
                        self.lease.ttl / 3,
                        self.lease.ttl,
                    )
                    return True
                current = self.lease.current()
            except SpoolError as exc:
                self.log.warning("cannot reach the queue for the lease %s: %s", self.lease.key, exc)
                current = None
            if current is not None:
                wait = min(POLL, max(0.05, current.until - self.lease.clock() + 0.05))
                if current.holder != announced:
                    announced = current.holder
                    self.waited = True
                    self.log.info(
                        "waiting: %s runs as %s (lease %s); this one takes over within "
                        "%.0f s of it stopping",
                        node_label(self.node),
                        current.holder,
                        self.lease.key,
                        self.lease.ttl,
                    )
                    if waiting is not None:
                        waiting(current.holder)
            stop.wait(wait)
        return False

    def keep(self, on_lost: Callable[[SpoolError], None]) -> None:
        """Renew the lease on a thread of its own until :meth:`release`; when it is
        lost, set :attr:`lost` and call ``on_lost`` (the worker stops serving) once."""
        self._keeper = threading.Thread(
            target=self._renew_until_released, args=(on_lost,), name="node-lease", daemon=True
        )
        self._keeper.start()

    def _renew_until_released(self, on_lost: Callable[[SpoolError], None]) -> None:
        ttl = self.lease.ttl
        wait = ttl / 3
        while not self._ended.wait(wait):
            try:
                renewed = self.lease.renew()
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
                self._lose(f"the lease {self.lease.key} was taken over by another worker", on_lost)
                return
            self._renewed = self.monotonic()
            wait = ttl / 3

    def _lose(self, why: str, on_lost: Callable[[SpoolError], None]) -> None:
        self.lost = SpoolError(
            f"{why}; stopped serving {node_label(self.node)} (another machine may serve it)"
        )
        self.log.error("%s", self.lost)
        on_lost(self.lost)

    def release(self) -> None:
        """Stop renewing and give the lease back (a clean stop, once the worker's runs
        are finished or returned): a waiting worker takes over at once."""
        self._ended.set()
        if self._keeper is not None:
            self._keeper.join()
        if self.lost is None:
            with contextlib.suppress(SpoolError):
                self.lease.release()
