"""What the worker does besides serving messages: recovery at start-up, and the
periodic upkeep of the queue (half-written files, strays, old ledger entries).

Recovery runs before the first claim, in this order: CLIs a dead worker left running
are stopped (else they would go on working while their message runs again), claimed
messages go back to their inboxes, half-queued files are finished, messages nobody
would ever run are failed with a reason, and the run journal forgets results whose
message is complete."""

from __future__ import annotations

import logging

from tinyclaw.config import Config
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.live_files import clear_approvals, restore_taken_steers
from tinyclaw.runners.groups import GroupLedger
from tinyclaw.spool import Spool
from tinyclaw.spool.recovery import prune, recover_tmp, strays
from tinyclaw.worker.journal import RunJournal

log = logging.getLogger("tinyclaw.worker")

TMP_EVERY = 60.0  # seconds between sweeps of queue/tmp/ and strays in incoming/
PRUNE_EVERY = 3600.0  # seconds between prunings of queue/sent/ and queue/seen/
STRAY_AGE = 60.0  # a non-.json file in incoming/ this old is not on its way to a rename


class Upkeep:
    def __init__(
        self,
        home: Home,
        config: Config,
        spool: Spool,
        journal: RunJournal,
        ledger: GroupLedger,
        events: EventLog,
    ) -> None:
        self.home = home
        self.config = config
        self.spool = spool
        self.journal = journal
        self.ledger = ledger
        self.events = events
        self._last_sweep = self._last_prune = float("-inf")

    def recover(self) -> None:
        """Put back what a crash left behind, before anything new is taken."""
        orphans = self.ledger.reap()
        if orphans:
            self.events.emit("recovered.orphans", groups=orphans)
        cfg = self.config.worker
        saved = set(self.journal.ids())  # ran to the end: not a message that kills us
        recovered = self.spool.recover(
            cfg.max_attempts, cfg.retry_backoff, ran=saved.__contains__
        )
        requeued, failed, rolled = recovered.requeued, recovered.failed, recovered.rolled
        self.fail_unrunnable()
        restore_taken_steers(self.home)  # taken by a dead run, never delivered
        for request in clear_approvals(self.home):  # asked again when the run restarts
            self.events.emit(
                "approval.decided",
                actor=request.get("actor"),
                id=request.get("message_id"),
                key=request.get("key"),
                tool=request.get("tool"),
                decision="deny",
                by="restart",
            )
        inboxes = [self.spool.inbox(a) for a in self.config.actors]
        queued = {p.stem for box in inboxes for p in self.spool.list_box(box)}
        for message_id in self.journal.ids():
            if message_id not in queued:  # killed between complete() and drop()
                self.journal.drop(message_id)
        if requeued or failed or rolled:
            log.warning(
                "recovered: %d requeued, %d failed, %d half-queued", requeued, failed, rolled
            )
            self.events.emit("recovered", requeued=requeued, failed=failed, rolled=rolled)

    def fail_unrunnable(self) -> None:
        """Messages nobody will ever run: in the inbox of an actor no longer in the
        configuration. Each goes to ``failed/`` with the reason, instead of waiting
        there unseen; so do strays in ``incoming/``."""
        for actor in self.spool.actors_with_inbox():
            if actor in self.config.actors:
                continue
            for path in self.spool.list_box(self.spool.inbox(actor)):
                self.spool.fail(path, f"@{actor} is not in {self.home.config_file.name} (removed?)")
        self.fail_strays()

    def fail_strays(self) -> None:
        for path in strays(self.spool, self.spool.incoming, STRAY_AGE):
            self.spool.fail(path, "not a queue file: a message file is named <id>.json")

    def periodic(self, now: float) -> None:
        """Called on every pass of the loop; does what is due."""
        if now - self._last_sweep > TMP_EVERY:
            self._last_sweep = now
            recover_tmp(self.spool)
            self.fail_strays()
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            self.prune()

    def prune(self) -> None:
        """Forget delivered replies and seen platform keys older than ``keep_days``.

        Both ledgers only matter for a while: ``sent/`` tells recovery that a message
        was answered (minutes after a crash), ``seen/`` filters platform redeliveries
        (Telegram keeps updates a day, WhatsApp retries a webhook for up to a week)."""
        age = self.config.worker.keep_days * 86400
        removed = prune(self.spool, self.spool.sent_root, age)
        removed += prune(self.spool, self.spool.seen_root, age)
        if removed:
            log.info("pruned %d ledger files older than %g days", removed, age / 86400)
            self.events.emit("pruned", files=removed)
