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
from typing import Protocol

from tinyclaw.actors.persona import persona_prompt, write_personas
from tinyclaw.config import Config
from tinyclaw.errors import InvalidMessageError
from tinyclaw.events import EventLog
from tinyclaw.failpoints import failpoint
from tinyclaw.home import Home
from tinyclaw.instance import InstanceLock, worker_lock_path
from tinyclaw.messages import Inbound
from tinyclaw.pairing.worker_check import WorkerAccess
from tinyclaw.runners import RunEvent, Runner, RunRequest, RunResult
from tinyclaw.runners.groups import GroupLedger
from tinyclaw.runners.sessions import SessionStore, home_sessions
from tinyclaw.spool import Spool
from tinyclaw.teams.coordinator import Coordinator
from tinyclaw.watching import Watcher
from tinyclaw.worker.addressing import parse_address
from tinyclaw.worker.approvals import ApprovalDesk
from tinyclaw.worker.commands import (
    CommandContext,
    chat_status,
)
from tinyclaw.worker.inflight import InFlight, Running
from tinyclaw.worker.journal import RunJournal
from tinyclaw.worker.live_controls import RunLink, SessionGrants
from tinyclaw.worker.progress import ChatProgress
from tinyclaw.worker.prompt import build_prompt, fit_prompt, unconfined_attachment
from tinyclaw.worker.replies import result_reply
from tinyclaw.worker.router import Router
from tinyclaw.worker.steering import IdleSteering, note_run
from tinyclaw.worker.upkeep import Upkeep

log = logging.getLogger("tinyclaw.worker")

ProgressSink = Callable[[str, RunEvent], None]
OPERATOR_CHANNEL = "operator"  # lines typed in an actor's tmux window (launcher/watch.py)


class Service(Protocol):
    """Periodic work the worker loop drives besides its queues (schedules, outboxes).

    ``tick`` does whatever is due and returns the epoch time it wants to be called
    again (None: at the next scan). It runs on the loop thread; keep it short.
    ``folders`` are where a new file means the service has work: the worker watches
    them too, so an actor's outbox file is delivered at once, not at the next scan."""

    name: str

    def tick(self, now: float) -> float | None: ...

    def folders(self) -> list[Path]: ...


class Worker:
    def __init__(
        self,
        home: Home,
        config: Config,
        runners: Mapping[str, Runner],
        *,
        spool: Spool | None = None,
        sessions: SessionStore | None = None,
        events: EventLog | None = None,
        clock: Callable[[], float] = time.time,
        progress: ProgressSink | None = None,
        services: Iterable[Service] = (),
        access: WorkerAccess | None = None,
        ledger: GroupLedger | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self.runners = runners
        self.spool = spool or Spool(home, clock=clock)
        # Pairing's second look before routing (default: this home's store; fails closed).
        self.access = access or WorkerAccess.for_home(home, config, self.spool)
        self.sessions = sessions or home_sessions(home)
        self.journal = RunJournal(home.state / "results")
        # The CLIs' process groups, as build_runners records them (state/runs/).
        self.ledger = ledger or GroupLedger(home.runs)
        self.services = list(services)
        self.events = events or EventLog(home.logs / "events.jsonl", clock=clock)
        self.clock = clock
        self.progress = progress
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.inflight = InFlight(clock)
        self._pool = ThreadPoolExecutor(
            max_workers=config.worker.concurrency, thread_name_prefix="tinyclaw-run"
        )
        self._next_due: float | None = None
        for name in config.actors:
            self.spool.ensure_box(self.spool.inbox(name))
            config.workspace_for(home, name).mkdir(parents=True, exist_ok=True)
        self.teams = Coordinator(home, config, self.spool, events=self.events, clock=clock)
        self.persona_files = write_personas(home, config)  # these actors read their persona there
        self.upkeep = Upkeep(home, config, self.spool, self.journal, self.ledger, self.events)
        desk = ApprovalDesk(home, config, self.access.pairing)
        self.router = Router(self.spool, config, self.access, self.events, self._commands, desk)
        self.grants = SessionGrants()  # tools allowed "for the session" in chat or window
        self.idle_steering = IdleSteering(home, config, self.spool, self.events)
        self.chat_progress = ChatProgress(config, self.spool, clock=time.monotonic)

    # -- lifecycle -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then shut down gracefully. Raises
        AlreadyRunningError if another worker serves this home."""
        with InstanceLock(worker_lock_path(self.home.state), "worker"):
            self._serve(stop)

    def _serve(self, stop: threading.Event) -> None:
        self.upkeep.recover()
        boxes = [self.spool.incoming, *(self.spool.inbox(a) for a in self.config.actors)]
        # A service folder that could not be made (unwritable workspace) was reported by
        # its service; the timed scan still covers it if it appears later.
        boxes += [f for service in self.services for f in service.folders() if f.is_dir()]
        watcher = Watcher(boxes, self.wake)
        watcher.start()
        self.events.emit("worker.start", actors=list(self.config.actors))
        log.info(
            "worker ready: %d actors, concurrency %d",
            len(self.config.actors),
            self.config.worker.concurrency,
        )
        try:
            while not stop.is_set():
                self.wake.clear()
                self.tick()
                now = self.clock()
                self.upkeep.periodic(now)
                timeout = self.config.worker.scan_interval
                if self._next_due is not None:
                    timeout = max(0.01, min(timeout, self._next_due - now))
                self.wake.wait(timeout)
        finally:
            watcher.stop()
            self.shutdown()

    def shutdown(self) -> None:
        """No new claims; give in-flight runs ``stop_timeout``, then return them."""
        self.stopping.set()
        deadline = time.monotonic() + self.config.worker.stop_timeout
        while len(self.inflight) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.inflight.cancel("shutdown")
        self._pool.shutdown(wait=True)
        self.events.emit("worker.stop")

    # -- one pass ------------------------------------------------------------------

    def tick(self) -> None:
        """Route everything in ``incoming/``, then start what can start."""
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
                self._next_due = wanted if self._next_due is None else min(self._next_due, wanted)

    def dispatch(self) -> None:
        """Start the due head of each idle actor, oldest message first.

        Oldest first, not actor by actor: with fewer run slots than busy actors, an
        actor named early in the configuration would otherwise run its whole backlog
        before a later actor's older message got a turn."""
        limit = self.config.worker.concurrency
        if self.stopping.is_set() or len(self.inflight) >= limit:
            return
        heads = []
        for actor in self.config.actors:
            if self.inflight.can_start(actor, limit):
                path = self._due_head(actor)
                if path is not None:
                    heads.append((path.name, actor, path))
        for _name, actor, path in sorted(heads):
            if not self.inflight.can_start(actor, limit):
                break  # every slot is taken
            # The claim's fsync is made on the run thread, before the CLI starts: off
            # this thread, which serves every actor, and concurrent with the others'.
            claimed = self.spool.claim(path, actor, sync=False)
            if claimed is None:
                continue
            failpoint("worker.claimed")
            try:
                message = self.spool.load(claimed)
            except (OSError, InvalidMessageError) as exc:
                self.spool.fail(claimed, str(exc))
                self.wake.set()
                continue
            if self._refused_at_run(claimed, message, actor):
                self.wake.set()
                continue
            running = Running(actor, message, claimed, self.clock())
            self.inflight.add(running)
            self._pool.submit(self._process_safely, running)

    def _refused_at_run(self, claimed: Path, message: Inbound, actor: str) -> bool:
        """Pairing's look again just before the CLI runs: the sender may have been
        revoked while the message waited in the inbox, and a file may have been put
        into an inbox directly, past the router's check."""
        refused = self.access.refuse_sender(message)
        if refused is not None:
            self.spool.fail(claimed, refused)
            return True
        not_yours = self.access.refuse_actor(message, actor)
        if not_yours is not None:
            self.router.answer(claimed, message, not_yours, "error")
            return True
        return False

    def _due_head(self, actor: str) -> Path | None:
        """The oldest inbox file if it may run now (a retry waits for ``not_before``
        and holds the actor's later messages behind it, keeping arrival order)."""
        inbox = self.spool.inbox(actor)
        for name in self.spool.box_names(inbox):
            path = inbox / name
            try:
                message = self.spool.load(path)
            except FileNotFoundError:
                continue
            except (OSError, InvalidMessageError) as exc:
                self.spool.fail(path, str(exc))
                continue
            if message.not_before is not None and message.not_before > self.clock():
                due = message.not_before
                self._next_due = due if self._next_due is None else min(self._next_due, due)
                return None
            return path
        return None

    # -- one run -------------------------------------------------------------------

    def _process_safely(self, running: Running) -> None:
        try:
            self.spool.sync(running.path.parent)  # the claim is durable before the run
            self.process(running)
        except Exception as exc:  # the edge of a run: log it, retry the message, go on
            log.exception("run of %s for %s failed", running.path.name, running.actor)
            cfg = self.config.worker
            self.spool.retry(
                running.path,
                running.actor,
                cfg.max_attempts,
                cfg.retry_backoff,
                f"internal error: {exc}",
            )
        finally:
            self.inflight.remove(running.actor)
            self.wake.set()

    def process(self, running: Running) -> None:
        message, actor_name = running.message, running.actor
        if self.spool.reply_exists(message.channel, message.id):
            log.info("%s was answered before a restart; not running it again", message.id)
            self.spool.complete(running.path)
            self.journal.drop(message.id)  # killed between reply and drop: no orphan
            return
        outside = unconfined_attachment(self.spool.files_root, message)
        if outside:
            self.spool.fail(running.path, outside)
            return
        if self.teams.before_run(message, actor_name):  # applied before a restart, or ended
            self.spool.complete(running.path)
            self.journal.drop(message.id)
            return
        actor = self.config.actors[actor_name]
        workspace = self.config.workspace_for(self.home, actor_name)
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
            model=actor.model,
            persona=(
                ""  # the CLI reads it from the persona file in its workspace
                if actor_name in self.persona_files
                else persona_prompt(self.home, self.config, actor_name)
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
            result = self._run(running, request, conversation)
            if running.cancel_reason == "shutdown":
                self.spool.move(running.path, self.spool.inbox(actor_name))
                log.info("returned %s to @%s's inbox on shutdown", message.id, actor_name)
                return
            self.journal.put(message.id, result)
            failpoint("worker.ran")
        if result.session_id:
            self.sessions.set(actor_name, conversation, result.session_id, lease)
        if not self.teams.after_run(message, actor_name, result, running.cancel_reason):
            reply = result_reply(message, actor_name, workspace, result, running.cancel_reason)
            if reply is not None:
                self.spool.put_reply(reply)
        failpoint("worker.replied")
        self.spool.complete(running.path)
        self.journal.drop(message.id)

    def _run(self, running: Running, request: RunRequest, conversation: str) -> RunResult:
        message, actor_name = running.message, running.actor
        self.events.emit("run.start", id=message.id, actor=actor_name, conversation=conversation)
        actor = self.config.actors[actor_name]
        runner = self.runners[actor.runner]
        sink = self.progress
        steps = self.chat_progress.for_run(message, actor_name)

        def on_event(event: RunEvent) -> None:
            if sink is not None:
                sink(actor_name, event)
            if steps is not None:
                steps(event)

        link = RunLink(
            self.home,
            self.spool,
            self.events,
            self.grants,
            actor_name,
            actor,
            message,
            self.clock,
        )
        try:
            result = runner.run(request, on_event=on_event, cancel=running.cancel, controls=link)
        finally:
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
            self.config, self._reset_session, self._chat_status, self._cancel_chat
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

    def running_snapshot(self) -> list[tuple[str, str, float]]:
        """(actor, message id, seconds running) for status displays."""
        return self.inflight.snapshot()
