"""A listener's hot reload: its allow lists and limits follow ``tinyclaw.toml``.

SIGHUP (``tinyclaw reload`` sends it) or an edit of the file (checked every few
seconds) makes the listener read the configuration again. Who may talk (``[pairing]
owners``, ``allow_from``), the group allow list and the attachment limit change at
once; what the listener read when it connected (its token, API addresses, webhook
host and port) is reported as needing a restart. An invalid file is refused with one
line in the log and a ``config.refused`` event, and the running settings stay.
"""

from __future__ import annotations

import logging

from tinyclaw.channels.base import Channel
from tinyclaw.channels.pairing_gate import ListenerGate
from tinyclaw.config import Config, fingerprint, read_again
from tinyclaw.core import ConfigError, EventLog, Home, SpoolError
from tinyclaw.pairing import pairing_service

log = logging.getLogger("tinyclaw.listen")
CHECK_EVERY = 2.0  # seconds between looks at the file's stat


class ListenerReload:
    def __init__(
        self, home: Home, config: Config, channel: Channel, gate: ListenerGate, events: EventLog
    ) -> None:
        self.home = home
        self.config = config
        self.channel = channel
        self.gate = gate
        self.events = events
        self._mark = fingerprint(home)

    def check(self) -> None:
        """Reload if the file changed since the last look."""
        mark = fingerprint(self.home)
        if mark != self._mark:
            self._mark = mark
            self.reload("file")

    def reload(self, trigger: str = "signal") -> None:
        name = self.channel.name
        attempt = read_again(self.home, self.config)
        error = attempt.error
        new = attempt.config
        if new is not None:
            try:
                pairing = pairing_service(self.home, new, spool=self.channel.spool)
            except (ConfigError, SpoolError) as exc:  # SpoolError: NATS away
                error = str(exc)
        if error is not None or new is None:
            log.error("configuration refused, the running one stays in force: %s", error)
            self.events.emit("config.refused", process=f"listen-{name}", reason=error)
            return
        mine = f"channels.{name}."
        restart = [r for r in attempt.change.restart if r.startswith((mine, "spool"))]
        applied = [
            a
            for a in attempt.change.applied
            if a.startswith((mine, "pairing")) or not a.startswith("channels.")
        ]
        settings = new.channels.get(name)
        self.gate.pairing = pairing
        self.channel.config = settings
        self.channel.intake.config = settings
        self.channel.intake.max_bytes = int(settings.max_attachment_mb * 1024 * 1024)
        self.config = new
        log.info("configuration reloaded (%s): %s", trigger, ", ".join(applied) or "no changes")
        for item in restart:
            log.warning("configuration: %s", item)
        self.events.emit(
            "config.reload",
            process=f"listen-{name}",
            trigger=trigger,
            applied=applied,
            restart=restart,
        )
