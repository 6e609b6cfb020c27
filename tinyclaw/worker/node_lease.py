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

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tinyclaw.core import EventLog, Home, InstanceLock, SpoolError, sdnotify, worker_lock_path
from tinyclaw.spool import Lease, Standby

log = logging.getLogger("tinyclaw.worker")

DEFAULT_NODE = "default"  # the lease name of a home on NATS without [nodes]


def node_lease_key(node: str | None) -> str:
    """``node.NAME``; ``node.default`` for the one worker of a home without nodes."""
    return f"node.{node or DEFAULT_NODE}"


class NodeLease(Standby):
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
        served = f"node {node}" if node else "the worker"
        super().__init__(lease, served, served, "worker", log=log, monotonic=monotonic)
        self.node = node
        self._ended = threading.Event()
        self._keeper: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._telling = threading.Lock()
        self._told = False

    def acquire(
        self,
        stop: threading.Event,
        waiting: Callable[[str], None] | None = None,
        dead: Callable[[str], bool] = lambda holder: False,
    ) -> bool:
        """Wait until this worker holds the lease; False if ``stop`` came first.
        ``waiting(holder)`` is told each time another holder is found serving; a
        holder ``dead`` says is gone (this home's previous worker, killed) is taken
        over at once instead of when its lease runs out."""
        while not stop.is_set():
            wait = self.look(waiting, dead)
            if wait is None:
                return True
            stop.wait(wait)
        return False

    def keep(self, on_lost: Callable[[SpoolError], None]) -> None:
        """Renew the lease on a thread of its own until :meth:`release`; when it is
        lost, set :attr:`lost` and call ``on_lost`` (the worker stops serving) once.

        A second thread watches the time since the last renewal: a renewal that hangs
        for the servers' ``timeout`` must not keep the worker serving past
        the point where it must give up (80 % of the ttl), when a standby is about to
        take the node over."""
        self._keeper = threading.Thread(
            target=self._renew_until_released, args=(on_lost,), name="node-lease", daemon=True
        )
        self._watchdog = threading.Thread(
            target=self._watch_renewals, args=(on_lost,), name="node-lease-watch", daemon=True
        )
        self._keeper.start()
        self._watchdog.start()

    def _renew_until_released(self, on_lost: Callable[[SpoolError], None]) -> None:
        wait: float | None = self.lease.ttl / 3
        while wait is not None and self.lost is None and not self._ended.wait(wait):
            wait = self.renew()
        if self.lost is not None:
            self._tell(on_lost)

    def _watch_renewals(self, on_lost: Callable[[SpoolError], None]) -> None:
        while self.lost is None:
            left = self.until_give_up()
            if left <= 0:
                self.give_up()
                break
            if self._ended.wait(min(left, 1.0)):
                return
        self._tell(on_lost)

    def _tell(self, on_lost: Callable[[SpoolError], None]) -> None:
        with self._telling:
            if self._told or self.lost is None:
                return
            self._told = True
        on_lost(self.lost)

    def release(self) -> None:
        """Stop renewing and give the lease back (a clean stop, once the worker's runs
        are finished or returned): a waiting worker takes over at once."""
        self._ended.set()
        for thread in (self._watchdog, self._keeper):
            if thread is not None:
                thread.join()
        super().release()


def hold_node(
    home: Home, ttl: float, node: str | None, spool: object, stop: threading.Event
) -> NodeLease | None:
    """On a NATS home: wait until this worker holds its node's lease (another machine
    may serve the node now), before it returns a claim or takes a message. None on
    files (the home's lock is enough), or when ``stop`` came while waiting."""
    kv = getattr(spool, "kv", None)
    if kv is None:
        return None
    # A second worker in this very home is refused at once, as on files, rather than
    # waiting for a lease its own home's worker holds (the loop takes the lock for good).
    with InstanceLock(worker_lock_path(home.state), "worker"):
        pass
    events = EventLog(home.logs / "events.jsonl")
    holder = f"{socket.gethostname()}:{os.getpid()}"
    lease = NodeLease(Lease(kv("leases"), node_lease_key(node), holder, ttl), node, log=log)

    def waiting(other: str) -> None:
        events.emit("worker.standby", node=node, holder=other, lease=lease.lease.key)
        sdnotify.notify(f"STATUS=standby: {other} serves the node")

    record = home.state / "node-lease"  # the holder this home's worker last was
    if not lease.acquire(stop, waiting, dead=lambda other: _dead_predecessor(record, other)):
        return None
    record.write_text(holder + "\n", encoding="utf-8")
    events.emit(
        "worker.lease", node=node, lease=lease.lease.key, holder=holder, waited=lease.waited
    )
    return lease


def _dead_predecessor(record: Path, holder: str) -> bool:
    """Whether ``holder`` is this home's previous worker on this machine (its name is
    in ``record``) and its process is gone: a worker restarted after a crash need not
    wait for its own lease to run out. Any other holder is left to its lease."""
    try:
        mine = record.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    host, _, pid = holder.rpartition(":")
    if holder != mine or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, under another user
    return False
