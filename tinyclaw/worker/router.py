"""Routing: each file of ``incoming/`` goes to one actor's inbox, or is answered or
failed right here, without a CLI run.

In order: an unreadable file goes to ``failed/``; a sender pairing refuses gets nothing
(the file goes to ``failed/`` with the reason); a ``kind`` that does not fit its
message (see ``admission.py``) goes to ``failed/`` too; a chat command is answered at once,
never behind an actor's queue (so ``/cancel`` works while that actor is busy); an
unknown ``@name`` gets the list of actors, a bare ``@name`` a hint; an actor the
sender's profile may not use, one line saying so. Everything else moves to its actor's
inbox.

A file is never the reason routing stops: whatever one file does, it ends in an inbox,
in ``outgoing/`` or in ``failed/``, and the files behind it are routed. Only a fault
of the filesystem itself (EIO, a read-only or full disk) leaves the file where it is,
for the next pass: the file is not to blame, and ``failed/`` is for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from tinyclaw.config import Config
from tinyclaw.core import (
    EventLog,
    Inbound,
    InvalidMessageError,
    SpoolUnavailableError,
    TinyclawError,
    failpoint,
    is_transient,
    parse_address,
)
from tinyclaw.spool import Spool
from tinyclaw.worker.access import WorkerAccess
from tinyclaw.worker.admission import kind_problem
from tinyclaw.worker.approvals import ApprovalDesk
from tinyclaw.worker.commands import CommandContext, describe_actors, handle_command, resolve_actor
from tinyclaw.worker.replies import reply_to

log = logging.getLogger("tinyclaw.worker")


class Router:
    def __init__(
        self,
        spool: Spool,
        config: Config,
        access: WorkerAccess,
        events: EventLog,
        commands: Callable[[], CommandContext],
        conversation_exists: Callable[[str], bool],
        approvals: ApprovalDesk | None = None,
    ) -> None:
        self.spool = spool
        self.config = config
        self.access = access
        self.events = events
        self.commands = commands
        self.conversation_exists = conversation_exists
        # Files left in place after a transient error, so the log says so once each.
        self._deferred: set[str] = set()
        self.approvals = approvals
        # Inboxes moved into since the last flush(), not yet fsynced.
        self._unsynced: set[Path] = set()

    def flush(self) -> None:
        """fsync each inbox routed into since the last call, once (group commit).

        The worker calls it after routing a batch and before claiming from any inbox,
        so a claimed file's route is durable, as with one fsync per move."""
        for box in self._unsynced:
            self.spool.sync(box)
        self._unsynced.clear()
        self.events.flush()  # the batch's "routed" events, in one write

    def route_safely(self, path: Path) -> None:
        """Route one file; whatever it holds, the next file is routed after it."""
        try:
            self.route(path)
        except OSError as exc:
            if is_transient(exc):  # the disk's trouble, not the file's: try again later
                self._defer(path, exc)
                return
            log.error("routing %s failed: %s", path.name, exc)  # permissions: for good
            self._fail(path, f"cannot be read: {exc}")
        except SpoolUnavailableError as exc:
            # The shared spool's servers did not answer (a read of the pairing store, a
            # team conversation): their trouble, not the message's.
            self._defer(path, exc)
        except TinyclawError as exc:
            log.error("routing %s failed: %s", path.name, exc)
            self._fail(path, f"routing failed: {exc}")
        except Exception as exc:  # the edge of one file: a bug must not stop the routing
            log.exception("routing %s failed unexpectedly", path.name)
            self._fail(path, f"routing failed: {type(exc).__name__}: {exc}")
        else:
            self._deferred.discard(path.name)

    def _defer(self, path: Path, exc: Exception) -> None:
        """Leave ``path`` where it is for a later pass, saying so once."""
        if path.name not in self._deferred:
            self._deferred.add(path.name)
            log.warning("cannot route %s now, will retry: %s", path.name, exc)

    def _fail(self, path: Path, reason: str) -> None:
        try:
            self.spool.fail(path, reason)
        except (OSError, TinyclawError) as again:
            log.error("cannot move %s to failed/ either: %s", path.name, again)

    def route(self, path: Path) -> None:
        try:
            message = self.spool.load(path)
        except FileNotFoundError:
            return
        except InvalidMessageError as exc:
            self.spool.fail(path, str(exc))
            return
        refused = self.access.refuse_sender(message)  # unpaired: no run, no reply
        if refused is None:
            refused = kind_problem(message, self.conversation_exists)
        if refused is not None:
            self.spool.fail(path, refused)
            return
        if message.kind == "command":
            self.answer(path, message, handle_command(message, self.commands()), "notice")
            return
        if self.approvals is not None:
            settled = self.approvals.settle(message)
            if settled is not None:
                note, decided = settled
                self.events.emit("approval.answer", id=message.id, channel=message.channel)
                meta: dict[str, object] = {}
                if decided is not None:
                    # A listener with buttons marks its question answered with this.
                    meta["approval_decided"] = {**decided, "pressed": message.kind == "approval"}
                self.answer(path, message, note, "notice", meta=meta)
                return
        if message.kind == "approval":
            self.spool.fail(path, "an approval answer without an approval desk")
            return
        target = message.actor
        if target is None:
            name, words = parse_address(message.text)
            target = resolve_actor(self.config, name)
            if target is None:
                text = (
                    f"There is no actor called @{name}. Here is who you can talk to:\n"
                    + describe_actors(self.config)
                )
                self.answer(path, message, text, "error")
                return
            if not words.strip() and not message.attachments:  # "@coder" and nothing else
                hint = f"Nothing to send to @{target}: write your message after the name."
                self.answer(path, message, hint, "error")
                return
        elif target not in self.config.actors:
            self.spool.fail(path, f"addressed to unknown actor {target!r}")
            return
        not_yours = self.access.refuse_actor(message, target)
        if not_yours is not None:
            self.answer(path, message, not_yours, "error")
            return
        failpoint("route.before_move")
        if self.spool.route(path, target, sync=False) is not None:
            self._unsynced.add(self.spool.inbox(target))
            self.events.emit(
                "routed", id=message.id, actor=target, channel=message.channel, chat=message.chat_id
            )

    def answer(
        self,
        path: Path,
        message: Inbound,
        text: str,
        kind: str,
        *,
        meta: dict[str, object] | None = None,
    ) -> None:
        """Reply without running a CLI: reply first, then drop the incoming file."""
        self.spool.put_reply(reply_to(message, text, kind=kind, meta=meta))
        self.spool.complete(path)
