"""The queue as ``tinyclaw status`` and the dashboard see it when it lives on NATS.

On files status reads the home's folders. On NATS the figures come from the servers
(:func:`tinyclaw.spool.nats_census`), through one connection that is opened on first
use and kept for the dashboard's refreshes. When no server answers, status says so in
one line and shows everything else it knows (the components, the schedules): the
question is then put again at most every :data:`RETRY` seconds, so a dashboard does
not stall on every refresh."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tinyclaw.config import Config
from tinyclaw.core import Home, TinyclawError
from tinyclaw.spool import QueueCensus, nats_census, open_spool

RETRY = 10.0  # seconds between attempts to reach servers that did not answer


class SharedQueue:
    """A NATS queue's figures, from a connection kept between calls."""

    def __init__(
        self, home: Home, config: Config, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.home = home
        self.config = config
        self.clock = clock
        self._spool: Any = None
        self._failed_at: float | None = None
        self._problem = ""

    @property
    def where(self) -> str:
        return ", ".join(self.config.spool.servers)

    def figures(self) -> QueueCensus | str:
        """The census, or the one line saying why there is none."""
        if self._failed_at is not None and self.clock() - self._failed_at < RETRY:
            return self._problem
        try:
            if self._spool is None:
                self._spool = open_spool(self.home, self.config)
            found = nats_census(self._spool)
        except TinyclawError as exc:
            self.close()
            self._failed_at = self.clock()
            self._problem = f"the NATS queue at {self.where} does not answer: {exc}"
            return self._problem
        self._failed_at = None
        return found

    def close(self) -> None:
        if self._spool is not None:
            spool, self._spool = self._spool, None
            spool.close()
