"""The worker's hot reload: notice an edited ``tinyclaw.toml`` and switch to it.

Three things ask for a reload: the file changing (the worker watches the home folder
and compares the file's ``stat`` on every pass, so an edit is seen within one scan
interval even if an event is lost), SIGHUP, and ``tinyclaw reload`` (which sends
SIGHUP). The reload happens on the loop thread between passes, so no routing or
dispatch ever sees half of an old and half of a new configuration. An invalid file is
refused with one line, in the log and as a ``config.refused`` event, and the running
configuration stays in force; a valid one is applied and reported as a
``config.reload`` event naming what changed and what needs a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tinyclaw.config import Config
from tinyclaw.config.reload import ReloadAttempt, fingerprint, read_again
from tinyclaw.core.errors import TinyclawError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home

log = logging.getLogger("tinyclaw.worker")


class HotReload:
    """Decides when to read the configuration again, and reports the outcome."""

    def __init__(
        self,
        home: Home,
        events: EventLog,
        current: Callable[[], Config],
        apply: Callable[[Config], None],
        wake: threading.Event,
    ) -> None:
        self.home = home
        self.events = events
        self._current = current
        self._apply = apply
        self._wake = wake
        self.requested = threading.Event()
        self._mark = fingerprint(home)

    def request(self) -> None:
        """Read the configuration again at the next pass (safe from a signal handler)."""
        self.requested.set()
        self._wake.set()

    def check(self) -> None:
        """Reload if asked to or if the file changed since it was last read."""
        forced = self.requested.is_set()
        mark = fingerprint(self.home)
        if not forced and mark == self._mark:
            return
        self.requested.clear()
        self._mark = mark
        self.reload("signal" if forced else "file")

    def reload(self, trigger: str = "request") -> ReloadAttempt:
        attempt = read_again(self.home, self._current())
        error = attempt.error
        if attempt.config is not None and not attempt.change.empty:
            try:
                self._apply(attempt.config)
            except (OSError, TinyclawError) as exc:
                error = f"cannot apply it: {exc}"
        if error is not None:
            log.error("configuration refused, the running one stays in force: %s", error)
            self.events.emit("config.refused", process="worker", trigger=trigger, reason=error)
            return attempt
        change = attempt.change
        if not change.empty:
            log.info("configuration reloaded (%s): %s", trigger, change.summary())
        for item in change.restart:
            log.warning("configuration: %s", item)
        self.events.emit(
            "config.reload",
            process="worker",
            trigger=trigger,
            applied=change.applied,
            restart=change.restart,
            actors=list(self._current().actors),
        )
        return attempt
