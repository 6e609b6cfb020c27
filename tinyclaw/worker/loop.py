"""The worker process: route ``incoming/``, run each actor's inbox, write replies.

One loop thread routes and dispatches; a pool of threads runs the CLIs. Each actor has
at most one run in flight (its inbox is a FIFO), and at most ``worker.concurrency``
actors run at once. The loop sleeps on an event that the watcher sets, with a timeout
that is the safety-net rescan (or the next retry that comes due).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tinyclaw.actors import persona_prompt, write_personas
from tinyclaw.config import Config
from tinyclaw.core import (
    DiskGuard,
    EventLog,
    Home,
    Inbound,
    InstanceLock,
    InvalidMessageError,
    Service,
    SpoolUnavailableError,
    TinyclawError,
    Watcher,
    disk_full,
    failpoint,
    is_transient,
    parse_address,
    worker_lock_path,
)
from tinyclaw.costs import CostLedger, import_run_ends
from tinyclaw.runners import (
    GroupLedger,
    LiveSink,
    RunEvent,
    Runner,
    RunRequest,
    RunResult,
    Sessions,
    open_session_store,
)
from tinyclaw.spool import Spool
from tinyclaw.teams import Coordinator
from tinyclaw.worker.access import WorkerAccess
from tinyclaw.worker.admission import OPERATOR_CHANNEL, far_not_before, kind_problem
from tinyclaw.worker.approvals import ApprovalDesk
from tinyclaw.worker.commands import (
    CommandContext,
    chat_status,
)
from tinyclaw.worker.inflight import InFlight, Running
from tinyclaw.worker.journal import RunJournal
from tinyclaw.worker.killed import retry_if_killed
from tinyclaw.worker.live_controls import RunLink, SessionGrants
from tinyclaw.worker.model_choice import ModelChoices, effective_model
from tinyclaw.worker.model_switch import ModelSwitches
from tinyclaw.worker.progress import ChatProgress
from tinyclaw.worker.prompt import (
    build_prompt,
    discard_prompt_file,
    fit_prompt,
    shown_images,
    unconfined_attachment,
)
from tinyclaw.worker.reloading import HotReload
from tinyclaw.worker.replies import reply_to, result_reply
from tinyclaw.worker.router import Router
from tinyclaw.worker.spending import SpendGuard
from tinyclaw.worker.steering import IdleSteering, flush_notes, note_run
from tinyclaw.worker.upkeep import Upkeep

if TYPE_CHECKING:  # imported when a configuration turns transcription on
    from tinyclaw.transcribe import Transcriber

log = logging.getLogger("tinyclaw.worker")

ProgressSink = Callable[[str, RunEvent], None]
CHAT_CHANNELS = frozenset({"telegram", "discord", "whatsapp"})  # where a notice can go
# Written with the batch's fsync (Router.flush), not one open-append-close each. The
# run events are not deferred: a restarted worker replays a saved result without a
# second run, so a run.start or run.end lost with a killed worker would never be
# written, and the crash tests count them.
DEFERRED_EVENTS = frozenset({"routed"})
# At most this long (seconds), or until one of them ends, the runs of the first pass
# have the worker to themselves before the services are built and the queue watched.
FIRST_RUNS_HEAD_START = 0.25
# Seconds before an actor whose head could not be checked before its run (its claim
# given back) is tried again: not at once, which would claim and give back in a loop.
CHECK_AGAIN_AFTER = 1.0


# What a reload builds anew from a configuration besides the worker's own parts.
Rebuild = Callable[[Config], "tuple[Mapping[str, Runner], Iterable[Service]]"]


class Worker:
    def __init__(
        self,
        home: Home,
        config: Config,
        runners: Mapping[str, Runner],
        *,
        spool: Spool | None = None,
        sessions: Sessions | None = None,
        events: EventLog | None = None,
        clock: Callable[[], float] = time.time,
        progress: ProgressSink | None = None,
        services: Iterable[Service] = (),
        later_services: Callable[[], Iterable[Service]] | None = None,
        access: WorkerAccess | None = None,
        ledger: GroupLedger | None = None,
        rebuild: Rebuild | None = None,
        transcriber: Transcriber | None = None,
        inflight: InFlight | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self.runners = runners
        self.spool = spool or Spool(home, clock=clock)
        # Pairing's second look before routing (default: this home's store, built from
        # the configuration by _adopt, so a reload changes owners and allow lists; fails
        # closed).
        self._own_access = access is None
        if access is not None:
            self.access = access
        # Hot reload: runners and services come from the configuration too, so a new
        # one is built by ``rebuild`` (None: they stay as given).
        self._rebuild = rebuild
        self._watcher: Watcher | None = None
        self._retired_pools: list[ThreadPoolExecutor] = []
        self.sessions = sessions or open_session_store(home, config, self.spool)
        self.journal = RunJournal(home.state / "results")
        # The CLIs' process groups, as build_runners records them (state/runs/).
        self.ledger = ledger or GroupLedger(home.runs)
        self.services = list(services)
        # Built after the first pass, so that what waited for the worker need not wait
        # for the schedules, outboxes and team sweep to be imported and set up too.
        self._later_services = later_services
        self._services_waiting = False  # said once that they cannot be built yet
        self.events = events or EventLog(home.logs / "events.jsonl", clock=clock)
        self.events.deferred = DEFERRED_EVENTS
        self.clock = clock
        self.progress = progress
        listening = config.transcription
        if transcriber is None and listening is not None and listening.enabled:
            from tinyclaw.transcribe import build_transcriber

            transcriber = build_transcriber(listening)
        self.transcriber = transcriber
        self.wake = threading.Event()
        self.stopping = threading.Event()
        # Shared with the services that must not take an actor's files mid-run.
        self.inflight = inflight if inflight is not None else InFlight(clock)  # len() 0: falsy
        self._pool = ThreadPoolExecutor(
            max_workers=config.worker.concurrency, thread_name_prefix="tinyclaw-run"
        )
        self._next_due: float | None = None
        self._unreadable_heads: set[str] = set()  # said once each in the log
        self.upkeep = Upkeep(home, config, self.spool, self.journal, self.ledger, self.events)
        # A full disk stalls runs, never fails them; see tinyclaw.core.diskspace.
        self.disk = DiskGuard(home.state, self.spool.tmp, clock=clock)
        self._stalled: list[tuple[Path, str]] = []  # claims to put back once there is room
        self._unreleased: list[tuple[Path, str]] = []  # claims to give back (check failed)
        self._put_off: dict[str, float] = {}  # actor → when to try its check again
        self._stalled_lock = threading.Lock()  # run threads stall, the loop puts back
        # Held while routing a batch (until its fsync) and while a run thread claims
        # its actor's next message.
        self._routing = threading.Lock()
        self.models = ModelChoices(home.actors)  # what /model picked, per actor and chat
        self.model_switches = ModelSwitches()  # /model reaching a live claude run at once
        # What each run cost; its fsyncs are shared (at most a second apart, and when idle).
        self.costs = CostLedger(home.state / "costs", sync_every=1.0)
        self.grants = SessionGrants()  # tools allowed "for the session" in chat or window
        self._adopt(config)
        self.hot_reload = HotReload(
            home, self.events, lambda: self.config, self.apply_config, self.wake
        )

    def _adopt(self, config: Config) -> None:
        """Build everything that follows from the configuration (at start and on reload)."""
        home = self.home
        for name in config.actors:
            self.spool.ensure_box(self.spool.inbox(name))
            config.workspace_for(home, name).mkdir(parents=True, exist_ok=True)
        if self._own_access:
            self.access = WorkerAccess.for_home(home, config, self.spool)
        access = self.access
        teams = Coordinator(
            home,
            config,
            self.spool,
            events=self.events,
            clock=self.clock,
            may_hand_to=self.access.refuse_handoff,
        )
        self.spending = SpendGuard.for_home(
            home,
            config,
            self.spool,
            teams.store,
            self.events,
            lambda: access.pairing,  # built when a person's message first needs it
            self.clock,
            ledger=self.costs,
        )
        persona_files = write_personas(home, config)  # these actors read their persona there
        self.config, self.teams, self.persona_files = config, teams, persona_files
        self.upkeep.config = config
        desk = ApprovalDesk(home, config, lambda: access.pairing)
        self.router = Router(
            self.spool, config, self.access, self.events, self._commands, teams.store.exists, desk
        )
        self.idle_steering = IdleSteering(home, config, self.spool, self.events)
        self.chat_progress = ChatProgress(config, self.spool, clock=time.monotonic)

    # -- lifecycle -----------------------------------------------------------------

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until ``stop`` is set, then shut down gracefully. Raises
        AlreadyRunningError if another worker serves this home. ``on_ready`` is called
        once the queues are recovered and watched (systemd's ``READY=1``)."""
        with InstanceLock(worker_lock_path(self.home.state), "worker"):
            self._serve(stop, on_ready)

    def _serve(self, stop: threading.Event, on_ready: Callable[[], None] | None) -> None:
        self.upkeep.recover()
        import_run_ends(self.costs, self.events.read(), self.clock())  # once per home
        self.disk.prepare()
        self.events.emit("worker.start", actors=list(self.config.actors))
        log.info(
            "worker ready: %d actors, concurrency %d",
            len(self.config.actors),
            self.config.worker.concurrency,
        )
        first = True
        try:
            while not stop.is_set():
                self.wake.clear()
                if self.disk.check():
                    self._put_back_stalled()
                if self._unreleased:
                    self._put_back_unreleased()
                self.hot_reload.check()
                self.tick()
                if self._later_services is not None and not first and self._start_services():
                    self._watch()  # their folders too
                if first:
                    # What waited for the worker has started before the services are
                    # built and the queue is watched, and has a head start: building
                    # them holds the interpreter's lock, which the run threads need
                    # for every step of a reply. What arrived in between is found by
                    # the next pass, which follows at once.
                    first = False
                    if len(self.inflight):
                        self.wake.wait(FIRST_RUNS_HEAD_START)  # a run's end sets it
                    if stop.is_set():
                        break
                    self._start_services()
                    self._watch()
                    if on_ready is not None:
                        on_ready()
                    continue
                now = self.clock()
                self.upkeep.periodic(now)
                self.events.flush()
                if not len(self.inflight):  # idle: what was left for a shared write
                    self.spool.flush()
                    self.costs.flush()
                    flush_notes(self.home)
                timeout = self.config.worker.scan_interval
                for due in (self._next_due, self.disk.due()):
                    if due is not None:
                        timeout = max(0.01, min(timeout, due - now))
                self.wake.wait(timeout)
        finally:
            if self._watcher is not None:
                self._watcher.stop()
            self.shutdown()

    def _start_services(self) -> bool:
        """Build the services left for after the first pass. False if they cannot be
        built now (a shared spool's servers do not answer): the next pass tries again,
        and the worker serves its queues meanwhile."""
        if self._later_services is None:
            return False
        try:
            built = list(self._later_services())
        except SpoolUnavailableError as exc:
            if not self._services_waiting:
                log.warning("cannot start the schedules, outboxes and team sweep yet: %s", exc)
            self._services_waiting = True
            return False
        self.services += built
        self._later_services, self._services_waiting = None, False
        log.debug("started %s", ", ".join(service.name for service in built) or "no services")
        return True

    def _watch(self) -> None:
        """(Re)start the watcher on the boxes of the actors configured now, the
        services' folders and the home itself (an edit of ``tinyclaw.toml``)."""
        boxes = [self.spool.incoming, *(self.spool.inbox(a) for a in self.config.actors)]
        # A service folder that could not be made (unwritable workspace) was reported by
        # its service; the timed scan still covers it if it appears later.
        boxes += [f for service in self.services for f in service.folders() if f.is_dir()]
        boxes.append(self.home.root)
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = Watcher(
            boxes, self.wake, arrived=self.spool.arrived, lost=self.spool.forget_listings
        )
        self._watcher.start()

    def apply_config(self, config: Config) -> None:
        """Switch to ``config`` between passes. Runs in flight finish with what they
        started with; a changed ``worker.concurrency`` takes a new pool of run threads
        (the old one ends as its runs do)."""
        old = self.config
        runners, services = (
            self._rebuild(config) if self._rebuild is not None else (self.runners, self.services)
        )
        try:
            self._adopt(config)
        except (OSError, TinyclawError):
            self._adopt(old)
            raise
        self.runners, self.services = runners, list(services)
        if self._rebuild is not None:
            self._later_services = None  # the rebuilt services replace them
        if config.worker.concurrency != old.worker.concurrency:
            self._pool.shutdown(wait=False)
            self._retired_pools.append(self._pool)
            self._pool = ThreadPoolExecutor(
                max_workers=config.worker.concurrency, thread_name_prefix="tinyclaw-run"
            )
        for name in set(old.actors) - set(config.actors):
            waiting = len(list(self.spool.box_names(self.spool.inbox(name))))
            if waiting:
                log.warning("@%s was removed; %d message(s) wait in its inbox", name, waiting)
        self._watch()

    def shutdown(self) -> None:
        """No new claims; give in-flight runs ``stop_timeout``, then return them."""
        self.stopping.set()
        deadline = time.monotonic() + self.config.worker.stop_timeout
        while len(self.inflight) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.inflight.cancel("shutdown")
        for pool in (*self._retired_pools, self._pool):
            pool.shutdown(wait=True)
        self.spool.flush()
        self.costs.flush()
        flush_notes(self.home)
        self.events.emit("worker.stop")  # after the deferred ones

    # -- one pass ------------------------------------------------------------------

    def tick(self) -> None:
        """Route everything in ``incoming/``, then start what can start."""
        with self._routing:  # a run thread taking its actor's next message waits
            try:
                for path in self.spool.list_box(self.spool.incoming):
                    if self.stopping.is_set():
                        return
                    self.router.route_safely(path)
            finally:
                self.router.flush()  # one fsync per inbox for the batch, before any claim
            self._next_due = None
            busy = set(self.inflight.actors())
            self.idle_steering.pass_on([a for a in self.config.actors if a not in busy])
            self.dispatch()
        self._tick_services()

    def _tick_services(self) -> None:
        now = self.clock()
        for service in self.services:
            try:
                wanted = service.tick(now)
            except Exception:  # the edge of a service: log it, keep the worker serving
                log.exception("service %s failed", service.name)
                continue
            if wanted is not None:
                self._due_by(wanted)

    def dispatch(self) -> None:
        """Start the due head of each idle actor, oldest message first.

        Oldest first, not actor by actor: with fewer run slots than busy actors, an
        actor named early in the configuration would otherwise run its whole backlog
        before a later actor's older message got a turn."""
        limit = self.config.worker.concurrency
        if self.stopping.is_set() or self.disk.full or len(self.inflight) >= limit:
            return
        heads = []
        now = self.clock()
        for actor in self.config.actors:
            later = self._put_off.get(actor)
            if later is not None and later > now:  # its check could not be made
                self._due_by(later)
                continue
            if self.inflight.can_start(actor, limit):
                head = self._due_head(actor)
                if head is not None:
                    heads.append((head[1].id, actor, head))
        for _id, actor, (handle, message) in sorted(heads, key=lambda h: h[:2]):
            if not self.inflight.can_start(actor, limit):
                break  # every slot is taken
            # The claim's fsync is made on the run thread, before the CLI starts: off
            # this thread, which serves every actor, and concurrent with the others'.
            # The message was read and checked as the head; it is not read again.
            claimed = self.spool.claim(handle, actor, sync=False)
            if claimed is None:
                continue
            failpoint("worker.claimed")
            verdict = self._check_at_run(claimed, message, actor)
            if verdict == "refused":
                self.wake.set()  # handled: the actor's next message may start
            if verdict != "run":
                continue
            running = Running(actor, message, claimed, self.clock())
            self.inflight.add(running)
            self._pool.submit(self._process_safely, running)

    def _due_by(self, when: float) -> None:
        """The loop's next pass comes by ``when`` at the latest."""
        self._next_due = when if self._next_due is None else min(self._next_due, when)

    def _check_at_run(
        self, claimed: Path, message: Inbound, actor: str
    ) -> Literal["run", "refused", "later"]:
        """:meth:`_refused_at_run` at the edge of one message. A check that cannot be
        made now (a shared spool's servers do not answer the pairing store, the disk
        fails) gives the claim back, no attempt counted: the message waits for a
        later pass ("later"), and never stays claimed with nothing running it."""
        try:
            verdict: Literal["run", "refused"] = (
                "refused" if self._refused_at_run(claimed, message, actor) else "run"
            )
        except Exception as exc:  # not this message's fault
            if actor not in self._put_off:  # said once, until a check is made again
                log.warning("cannot check %s before its run; it waits: %s", claimed.name, exc)
            later = self._put_off[actor] = self.clock() + CHECK_AGAIN_AFTER
            self._due_by(later)
            with self._stalled_lock:
                self._unreleased.append((claimed, actor))
            self._put_back_unreleased()
            return "later"
        self._put_off.pop(actor, None)
        return verdict

    def _refused_at_run(self, claimed: Path, message: Inbound, actor: str) -> bool:
        """Pairing's look again just before the CLI runs: the sender may have been
        revoked while the message waited in the inbox, and a file may have been put
        into an inbox directly, past the router's check."""
        refused = self.access.refuse_sender(message)
        if refused is None:  # a hand-made file may have skipped the router
            refused = kind_problem(message, self.teams.store.exists)
        if refused is not None:
            self.spool.fail(claimed, refused)
            return True
        not_yours = self.access.refuse_actor(message, actor)
        if not_yours is not None:
            self.router.answer(claimed, message, not_yours, "error")
            return True
        return False

    def _due_head(self, actor: str) -> tuple[Path, Inbound] | None:
        """The oldest inbox message, with its handle, if it may run now (a retry waits
        for ``not_before`` and holds the actor's later messages behind it, keeping
        arrival order).

        A head that can never run goes to ``failed/`` and the next one is looked at;
        one the filesystem cannot read just now (EIO, ...) holds the inbox until the
        next pass, as a retry would."""
        for handle in self.spool.pending(actor):
            try:
                message = self.spool.load(handle)
            except FileNotFoundError:
                continue
            except OSError as exc:
                if is_transient(exc):
                    if handle.name not in self._unreadable_heads:
                        self._unreadable_heads.add(handle.name)
                        log.warning("cannot read the head of @%s's inbox now: %s", actor, exc)
                    return None
                self._fail_head(handle, f"cannot be read: {exc}")
                continue
            except InvalidMessageError as exc:
                self._fail_head(handle, str(exc))
                continue
            self._unreadable_heads.discard(handle.name)
            too_late = far_not_before(message, self.config.worker, self.clock())
            if too_late is not None:
                self._fail_head(handle, too_late)
                continue
            if message.not_before is not None and message.not_before > self.clock():
                due = message.not_before
                self._due_by(due)
                return None
            return handle, message
        return None

    def _fail_head(self, path: Path, reason: str) -> None:
        try:
            self.spool.fail(path, reason)
        except (OSError, TinyclawError) as exc:  # a read-only disk: the next pass retries
            log.error("cannot move %s to failed/: %s", path.name, exc)

    # -- one run -------------------------------------------------------------------

    def _process_safely(self, running: Running) -> None:
        """Run ``running``, then the actor's next due message on this same thread
        while :meth:`_following` allows, so a busy actor's messages follow each other
        without a round trip through the loop thread."""
        try:
            while self._process_guarded(running):
                following = self._following(running.actor)
                if following is None:
                    break
                running = following
        except Exception:  # the pool would keep it to itself: say it
            log.exception("the run thread of @%s stopped", running.actor)
        finally:
            self.inflight.discard(running)  # not a run the loop started meanwhile
            self.wake.set()

    def _process_guarded(self, running: Running) -> bool:
        """One run, at the edge: an error is logged and the message retried; a full
        disk stalls it (False: stop here)."""
        try:
            try:
                self.spool.sync(running.path.parent)  # the claim is durable before the run
                self.process(running)
            except Exception as exc:  # the edge of a run: log it, retry the message, go on
                if disk_full(exc):
                    raise
                log.exception("run of %s for %s failed", running.path.name, running.actor)
                cfg = self.config.worker
                self.spool.retry(
                    running.path,
                    running.actor,
                    cfg.max_attempts,
                    cfg.retry_backoff,
                    f"internal error: {exc}",
                )
        except Exception as exc:  # wrapped or not (a ConversationError from ENOSPC)
            if not disk_full(exc):
                raise
            self._stall(running, exc)
            return False
        return True

    def _following(self, actor: str) -> Running | None:
        """Claim ``actor``'s next due message for the run thread that just finished
        one, or None to hand back to the loop.

        Only when no other actor could want this run slot (there are at least as many
        slots as actors), so oldest-first across actors still holds where slots are
        scarce; never while stopping, stalled or after the actor was removed. It
        happens under the lock the loop holds while it routes and dispatches: a
        message routed but whose inbox is not fsynced yet is never claimed (the loop
        syncs each batch first), and the loop never starts the actor meanwhile."""
        config = self.config
        with self._routing:
            self.inflight.remove(actor)  # done: a /cancel from now on is for the next
            if (
                self.stopping.is_set()
                or self.disk.full
                or self._stalled
                or actor not in config.actors
                or config.worker.concurrency < len(config.actors)
                or self._put_off.get(actor, 0.0) > self.clock()
            ):
                return None
            head = self._due_head(actor)
            if head is None:
                return None
            handle, message = head
            claimed = self.spool.claim(handle, actor, sync=False)
            if claimed is None:
                return None
            running = Running(actor, message, claimed, self.clock())
            self.inflight.add(running)
        failpoint("worker.claimed")
        if self._check_at_run(claimed, message, actor) != "run":
            self.inflight.discard(running)  # the caller's finally frees only its own run
            return None
        return running

    def _stall(self, running: Running, exc: BaseException) -> None:
        """The disk is full: the message goes back to its inbox, attempt not counted
        (it is not its fault), and the worker waits for space (``DiskGuard``)."""
        with self._stalled_lock:
            self._stalled.append((running.path, running.actor))
        self._put_back_stalled()
        depths = self.spool.depths()
        waiting = depths["inboxes"] + depths["incoming"]
        self.disk.stall(f"{running.path.name} for @{running.actor}", exc, waiting)

    def _put_back_stalled(self) -> None:
        """Move stalled claims back to their inboxes (a rename: no space needed);
        one that cannot move yet stays listed for the next try."""
        with self._stalled_lock:
            self._stalled = self._put_back(self._stalled)

    def _put_back_unreleased(self) -> None:
        """Give back the claims whose check before the run could not be made."""
        with self._stalled_lock:
            self._unreleased = self._put_back(self._unreleased)

    def _put_back(self, claims: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """Return each claim to its inbox; those that cannot go back yet."""
        left: list[tuple[Path, str]] = []
        for path, actor in claims:
            try:
                self.spool.release(path, actor, sync=False)
            except (OSError, TinyclawError) as exc:
                log.warning("cannot put %s back into @%s's inbox yet: %s", path.name, actor, exc)
                left.append((path, actor))
        return left

    def process(self, running: Running) -> None:
        message, actor_name = running.message, running.actor
        if self.spool.reply_exists(message.channel, message.id):
            if not self.journal.has(message.id):  # not ours: a new file with an old id
                self.spool.fail(
                    running.path,
                    f"message id {message.id!r} was answered already (its reply is in "
                    f"queue/outgoing/ or queue/sent/{message.channel}/); a new message "
                    "needs a new id",
                )
                return
            log.info("%s was answered before a restart; not running it again", message.id)
            self.spool.complete(running.path)
            self.journal.drop(message.id)  # killed between reply and drop: no orphan
            return
        outside = unconfined_attachment(self.spool.files_root, message)
        if outside:
            self.spool.fail(running.path, outside)
            return
        message = self._transcribe(running)
        if self.teams.before_run(message, actor_name):  # applied before a restart, or ended
            self.spool.complete(running.path)
            self.journal.drop(message.id)
            return
        config = self.config  # a reload during the run does not change what it runs with
        actor = config.actors[actor_name]
        workspace = config.workspace_for(self.home, actor_name)
        text = message.text
        if message.actor is None:
            _, text = parse_address(text)
        conversation = message.conversation_key
        lease = self.sessions.lease(actor_name, conversation)
        note_run(self.home, actor_name, message)
        request = RunRequest(
            prompt=fit_prompt(build_prompt(message, text), message.id, workspace),
            actor=actor_name,
            workspace=workspace,
            readable=tuple(Path(a.path) for a in message.attachments),
            images=shown_images(message),
            model=self.model_for(actor_name, conversation),
            persona=(
                ""  # the CLI reads it from the persona file in its workspace
                if actor_name in self.persona_files
                else persona_prompt(self.home, config, actor_name)
            ),
            permission_mode=actor.permission_mode,
            timeout=actor.timeout,
            session_id=lease.session_id,
            approval_policy=actor.approval_policy,
            ask_permissions=bool(actor.approvals),
        )
        result = self.journal.get(message.id)
        if result is not None:
            log.info("%s: reusing the saved result of a run interrupted by a restart", message.id)
        else:
            try:
                # Spend limits: the one check before a run; over a limit, the answer is
                # the result and no CLI starts.
                result = self.spending.check(message, actor_name) or self._run(
                    running, request, conversation, self.runners[actor.runner]
                )
            finally:  # a long prompt's file has been read (or will be written anew)
                discard_prompt_file(message.id, workspace)
            if running.cancel_reason == "shutdown":
                self.spool.release(running.path, actor_name)
                log.info("returned %s to @%s's inbox on shutdown", message.id, actor_name)
                return
            if retry_if_killed(
                self.spool,
                running.path,
                message,
                actor_name,
                result,
                self.config.worker,
                self.clock(),
            ):
                return
            self.journal.put(message.id, result)
            failpoint("worker.ran")
        self.spending.record(message, actor_name, result, request.model)  # once per id
        failpoint("worker.costed")
        # A resumed session keeps its id: nothing to store (and a reset during the run
        # has dropped it already), so the store's lock and file are left alone.
        if result.session_id and result.session_id != lease.session_id:
            self.sessions.set(actor_name, conversation, result.session_id, lease)
        if not self.teams.after_run(message, actor_name, result, running.cancel_reason):
            reply = result_reply(message, actor_name, workspace, result, running.cancel_reason)
            if reply is not None:
                self.spool.put_reply(reply)
        failpoint("worker.replied")
        self.spool.complete(running.path)
        self.journal.drop(message.id)

    def _transcribe(self, running: Running) -> Inbound:
        """Voice notes become the message's text before the run (see
        tinyclaw.transcribe.voice). The user hears back first (what was heard, or why
        nothing was); then the transcript is written into the claimed file, so a crash
        after this point neither transcribes nor notifies again."""
        settings, transcriber = self.config.transcription, self.transcriber
        if settings is None or transcriber is None:
            return running.message
        message = running.message
        started = self.clock()
        from tinyclaw.transcribe import transcribe_message

        outcome = transcribe_message(message, settings, transcriber, self.spool.files_root)
        if outcome is None:
            return message
        self.events.emit(
            "transcription",
            id=message.id,
            ok=outcome.ok,
            engine=transcriber.name,
            duration=round(self.clock() - started, 3),
            error=outcome.message.meta["transcription"].get("error"),
        )
        notice_id = f"{message.id}.heard"
        if (
            outcome.notice
            and message.channel in CHAT_CHANNELS
            and not self.spool.reply_exists(message.channel, notice_id)
        ):
            notice = reply_to(message, outcome.notice, kind="notice")
            self.spool.put_reply(notice.model_copy(update={"id": notice_id}))
        running.path = self.spool.rewrite(running.path, outcome.message)
        running.message = outcome.message
        return outcome.message

    def _run(
        self, running: Running, request: RunRequest, conversation: str, runner: Runner
    ) -> RunResult:
        message, actor_name = running.message, running.actor
        self.events.emit(
            "run.start",
            id=message.id,
            actor=actor_name,
            conversation=conversation,
            model=request.model,
        )
        actor = self.config.actors[actor_name]
        sink = self.progress
        if isinstance(sink, LiveSink):  # its task marker: this message, not a re-read
            sink.begin(actor_name, running.path.stem, message)
        steps = self.chat_progress.for_run(message, actor_name)

        def on_event(event: RunEvent) -> None:
            if sink is not None:
                sink(actor_name, event)
            if steps is not None:
                steps(event)

        # Only claude's live protocol switches models mid-run (codex: from the next turn).
        switchable = actor.runner == "claude" and self.config.runners.claude.live
        box = self.model_switches.open(actor_name, conversation) if switchable else None
        link = RunLink(
            self.home,
            self.spool,
            self.events,
            self.grants,
            actor_name,
            actor,
            message,
            self.clock,
            box,
        )
        try:
            result = runner.run(request, on_event=on_event, cancel=running.cancel, controls=link)
        finally:
            if box is not None:
                self.model_switches.close(box)
            link.release()
        self.events.emit(
            "run.end",
            id=message.id,
            actor=actor_name,
            ok=result.ok,
            error=result.error,
            duration=round(result.duration_s, 3),
            cost=result.cost_usd,
            usage=result.usage,
            conversation=conversation,
        )
        return result

    # -- commands ------------------------------------------------------------------

    def _commands(self) -> CommandContext:
        """What chat commands may see and do; owners get pairing and the overview."""
        context = CommandContext(
            self.config,
            self._reset_session,
            self._chat_status,
            self._cancel_chat,
            models=self.models,
            switch_running=self.model_switches.switch,
            ledger=self.costs,
            clock=self.clock,
        )
        return self.access.equip(context, self)

    def _reset_session(self, actor: str, conversation: str) -> None:
        """``/reset``: a fresh session, and the tools allowed "for the session" go too."""
        self.sessions.reset(actor, conversation)
        self.grants.forget(actor, conversation)

    def _chat_status(self, message: Inbound) -> str:
        runs = self.inflight.for_chat(message)
        return chat_status(self.config, self.spool, runs, message, self.clock())

    def _cancel_chat(self, message: Inbound) -> list[str]:
        """``/cancel``: the runs of the sender's chat. The operator typing in an actor's
        window (channel ``operator``, chat = the actor) owns the home: their ``/cancel``
        also stops whatever that actor is running, for whoever asked."""
        if message.channel == OPERATOR_CHANNEL:
            return self.inflight.cancel("owner", message, message.chat_id)
        return self.inflight.cancel("user", message)

    def model_for(self, actor: str, conversation: str) -> str | None:
        """The ``--model`` of ``actor``'s next run in ``conversation``: the chat's
        ``/model`` choice while the actor still offers it, else the actor's ``model``."""
        return effective_model(self.config.actors[actor], self.models.get(actor, conversation))

    def running_snapshot(self) -> list[tuple[str, str, float]]:
        """(actor, message id, seconds running) for status displays."""
        return self.inflight.snapshot()
