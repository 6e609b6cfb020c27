"""What a watching worker node knows of its subjects' heads without asking the server.

A worker node looks at the head of every idle actor's inbox (and at incoming) on
each pass of its loop, and it passes often: on every publish it is woken for, every
finished run. On the file spool that is a directory listing in memory; on NATS each
look is a request. :class:`HeadCache` keeps, per watched subject, what the last look
found: that the subject was empty, or its first unclaimed message. Both stay true
until something changes the subject:

* **a publish onto it** (anyone's: the node's own subscription sees it) ends
  "empty", but not a known head: a new message goes behind it;
* **a claim, release, retry, rewrite, completion or failure** by this process on
  one of its messages ends both (:meth:`HeadCache.stir`), except that a message
  removed below the point from which nothing was found leaves that true
  (:meth:`HeadCache.gone`: a node routing incoming);
* another process claiming a known head makes the cached handle stale, which the
  claim's compare-and-set catches (the claim is refused, and the next look asks);
* what no subscription reports (a publish while the connection was down, the lease
  of another process's claim running out) is found when a remembered look is older
  than ``fresh_for``: it is then asked again, as the worker's timed rescan does.

Only watched subjects are remembered: a process that does not subscribe (the
command line, a listener) would never hear of a publish, and always asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tinyclaw.spool.jetstream.streams import Handle

FRESH_FOR = 2.0  # seconds a remembered look is trusted without a subscription's word


@dataclass(frozen=True)
class Look:
    at: float
    head: Handle | None  # None: nothing on the subject from ``start`` on
    start: int = 1

    def empty_from(self, start: int) -> bool:
        """Whether this look found nothing on the subject at or after ``start``."""
        return self.head is None and self.start <= start

    def head_from(self, start: int) -> Handle | None:
        """The first message at or after ``start``, if this look tells it."""
        if self.head is not None and self.start <= start <= self.head.seq:
            return self.head
        return None


class HeadCache:
    """Thread-safe: looks are made on the worker's threads, publishes are heard on
    the connection's. A look that raced a publish is not remembered (the publish's
    count changed while the server was asked)."""

    def __init__(
        self, fresh_for: float = FRESH_FOR, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fresh_for = fresh_for
        self.clock = clock
        self._lock = threading.Lock()
        self._watched: set[str] = set()
        self._published: dict[str, int] = {}  # subject → publishes heard
        self._looks: dict[str, Look] = {}

    def watch(self, subjects: list[str]) -> None:
        with self._lock:
            self._watched.update(subjects)

    def unwatch(self, subjects: list[str]) -> None:
        with self._lock:
            for subject in subjects:
                self._watched.discard(subject)
                self._looks.pop(subject, None)

    def published(self, subject: str) -> None:
        """Something was published onto ``subject``: it is empty no longer."""
        with self._lock:
            self._published[subject] = self._published.get(subject, 0) + 1
            look = self._looks.get(subject)
            if look is not None and look.head is None:
                del self._looks[subject]

    def forget(self) -> None:
        """Forget every look: each subject is asked again (see the spool's
        ``forget_listings``)."""
        with self._lock:
            self._looks.clear()

    def stir(self, subject: str) -> None:
        """This process changed a message of ``subject``: forget what was seen there."""
        with self._lock:
            self._published[subject] = self._published.get(subject, 0) + 1
            self._looks.pop(subject, None)

    def gone(self, subject: str, seq: int) -> None:
        """This process removed message ``seq`` of ``subject`` (routed, completed,
        failed): a remembered head may be it, but that nothing came after a later
        point stays true."""
        with self._lock:
            self._published[subject] = self._published.get(subject, 0) + 1
            look = self._looks.get(subject)
            if look is not None and not (look.head is None and look.start > seq):
                del self._looks[subject]

    def empty(self, subject: str) -> bool:
        """Whether the last look found ``subject`` empty, and nothing changed since."""
        look = self.known(subject)
        return look is not None and look.empty_from(1)

    def head(self, subject: str, handle: Handle) -> None:
        """``handle`` is now the head of ``subject``, as the server confirmed (it was
        published onto the subject while nothing else was stored there)."""
        with self._lock:
            if subject in self._watched:
                self._looks[subject] = Look(self.clock(), handle, 1)

    def ticket(self, subject: str) -> int | None:
        """Taken before asking the server about ``subject``; None if it is not watched."""
        with self._lock:
            if subject not in self._watched:
                return None
            return self._published.get(subject, 0)

    def known(self, subject: str) -> Look | None:
        """The remembered look at ``subject``, if it is still to be trusted."""
        with self._lock:
            look = self._looks.get(subject)
            if look is None:
                return None
            if self.clock() - look.at >= self.fresh_for:
                del self._looks[subject]
                return None
            return look

    def saw(self, subject: str, ticket: int | None, head: Handle | None, start: int = 1) -> None:
        """Remember the look from ``start`` made with ``ticket`` (from :meth:`ticket`),
        unless something was published or changed on the subject meanwhile."""
        if ticket is None:
            return
        with self._lock:
            if subject in self._watched and self._published.get(subject, 0) == ticket:
                self._looks[subject] = Look(self.clock(), head, start)


class OwnPublishes:
    """The dedupe ids of the routes this process published, until its subscription
    hears each back: a route is made by the worker's pass that dispatches right
    after it, so hearing it need not wake the worker for another pass (as the file
    spool's watcher is not woken by the worker's own renames). Bounded: an id never
    heard back (the connection dropped meanwhile) is forgotten after ``keep`` more."""

    def __init__(self, keep: int = 1024) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._ids: dict[str, None] = {}

    def mine(self, msg_id: str) -> None:
        with self._lock:
            self._ids[msg_id] = None
            while len(self._ids) > self.keep:
                del self._ids[next(iter(self._ids))]

    def discard_if_mine(self, msg_id: str) -> bool:
        """Whether ``msg_id`` is one of this process's routes (forgotten from now on)."""
        with self._lock:
            if msg_id not in self._ids:
                return False
            del self._ids[msg_id]
            return True
