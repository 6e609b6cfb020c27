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

from tinyclaw.actors.persona import write_personas
from tinyclaw.config import Config
from tinyclaw.errors import InvalidMessageError, TinyclawError, UnsafePathError
from tinyclaw.events import EventLog
from tinyclaw.failpoints import failpoint
from tinyclaw.fsutil import confine
from tinyclaw.home import Home
from tinyclaw.instance import InstanceLock, worker_lock_path
from tinyclaw.messages import Inbound, load_inbound
from tinyclaw.pairing.worker_check import WorkerAccess
from tinyclaw.runners import RunEvent, Runner, RunRequest, RunResult
from tinyclaw.runners.groups import GroupLedger
from tinyclaw.runners.sessions import SessionStore
from tinyclaw.spool import Spool
from tinyclaw.teams.coordinator import Coordinator
from tinyclaw.watching import Watcher
from tinyclaw.worker.addressing import parse_address
from tinyclaw.worker.commands import CommandContext, describe_actors, handle_command, resolve_actor
from tinyclaw.worker.inflight import InFlight, Running, same_chat
from tinyclaw.worker.journal import RunJournal
from tinyclaw.worker.prompt import build_prompt, fit_prompt
from tinyclaw.worker.replies import reply_to, result_reply

log = logging.getLogger("tinyclaw.worker")

ProgressSink = Callable[[str, RunEvent], None]
PRUNE_EVERY = 3600.0  # seconds between prunings of queue/sent/ and queue/seen/


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
        self.sessions = sessions or SessionStore(home.state / "sessions")
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
            self.spool.inbox(name).mkdir(parents=True, exist_ok=True)
            config.workspace_for(home, name).mkdir(parents=True, exist_ok=True)
        self.teams = Coordinator(home, config, self.spool, events=self.events, clock=clock)
        self.persona_files = write_personas(home, config)  # these actors read their persona there

    # -- lifecycle -----------------------------------------------------------------

    def recover(self) -> None:
        """Put back what a crash left behind before taking anything new.

        A CLI left running by a killed worker is stopped first: it would otherwise go
        on working in the workspace while its message runs again."""
        orphans = self.ledger.reap()
        if orphans:
            self.events.emit("recovered.orphans", groups=orphans)
        cfg = self.config.worker
        requeued, failed = self.spool.recover_processing(cfg.max_attempts, cfg.retry_backoff)
        rolled = self.spool.recover_tmp()
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

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then shut down gracefully. Raises
        AlreadyRunningError if another worker serves this home."""
        with InstanceLock(worker_lock_path(self.home.state), "worker"):
            self._serve(stop)

    def _serve(self, stop: threading.Event) -> None:
        self.recover()
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
        last_maintenance = last_prune = 0.0
        try:
            while not stop.is_set():
                self.wake.clear()
                self.tick()
                now = self.clock()
                if now - last_maintenance > 60:
                    self.spool.recover_tmp()
                    last_maintenance = now
                if now - last_prune > PRUNE_EVERY:
                    self.prune()
                    last_prune = now
                timeout = self.config.worker.scan_interval
                if self._next_due is not None:
                    timeout = max(0.01, min(timeout, self._next_due - now))
                self.wake.wait(timeout)
        finally:
            watcher.stop()
            self.shutdown()

    def prune(self) -> None:
        """Forget delivered replies and seen platform keys older than ``keep_days``.

        Both ledgers only matter for a while: ``sent/`` tells recovery that a message
        was answered (minutes after a crash), ``seen/`` filters platform redeliveries
        (Telegram keeps updates a day, WhatsApp retries a webhook for up to a week)."""
        age = self.config.worker.keep_days * 86400
        removed = self.spool.prune(self.spool.sent_root, age)
        removed += self.spool.prune(self.spool.seen_root, age)
        if removed:
            log.info("pruned %d ledger files older than %g days", removed, age / 86400)
            self.events.emit("pruned", files=removed)

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
        for path in self.spool.list_box(self.spool.incoming):
            if self.stopping.is_set():
                return
            self._route_safely(path)
        self._next_due = None
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

    def _route_safely(self, path: Path) -> None:
        try:
            self.route(path)
        except TinyclawError as exc:
            log.error("routing %s failed: %s", path.name, exc)
            self.spool.fail(path, f"routing failed: {exc}")
        except OSError as exc:
            log.error("routing %s failed: %s", path.name, exc)

    def route(self, path: Path) -> None:
        try:
            message = load_inbound(self.spool.read(path), default_id=path.stem)
        except FileNotFoundError:
            return
        except InvalidMessageError as exc:
            self.spool.fail(path, str(exc))
            return
        refused = self.access.refuse_sender(message)  # unpaired: no run, no reply
        if refused is not None:
            self.spool.fail(path, refused)
            return
        if message.kind == "command":
            context = self.access.equip(self._command_context(), self)
            self._answer(path, message, handle_command(message, context), "notice")
            return
        target = message.actor
        if target is None:
            name, _ = parse_address(message.text)
            target = resolve_actor(self.config, name)
            if target is None:
                text = (
                    f"There is no actor called @{name}. Here is who you can talk to:\n"
                    + describe_actors(self.config)
                )
                self._answer(path, message, text, "error")
                return
        elif target not in self.config.actors:
            self.spool.fail(path, f"addressed to unknown actor {target!r}")
            return
        not_yours = self.access.refuse_actor(message, target)
        if not_yours is not None:
            self._answer(path, message, not_yours, "error")
            return
        failpoint("route.before_move")
        if self.spool.move(path, self.spool.inbox(target)) is not None:
            self.events.emit(
                "routed", id=message.id, actor=target, channel=message.channel, chat=message.chat_id
            )

    def _answer(self, path: Path, message: Inbound, text: str, kind: str) -> None:
        """Reply without running a CLI: reply first, then drop the incoming file."""
        self.spool.put_reply(reply_to(message, text, kind=kind))
        self.spool.complete(path)

    def dispatch(self) -> None:
        if self.stopping.is_set():
            return
        for actor in self.config.actors:
            if not self.inflight.can_start(actor, self.config.worker.concurrency):
                continue
            path = self._due_head(actor)
            if path is None:
                continue
            claimed = self.spool.claim(path, actor)
            if claimed is None:
                continue
            failpoint("worker.claimed")
            try:
                message = load_inbound(self.spool.read(claimed), default_id=claimed.stem)
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
            self._answer(claimed, message, not_yours, "error")
            return True
        return False

    def _due_head(self, actor: str) -> Path | None:
        """The oldest inbox file if it may run now (a retry waits for ``not_before``
        and holds the actor's later messages behind it, keeping arrival order)."""
        for path in self.spool.list_box(self.spool.inbox(actor)):
            try:
                message = load_inbound(self.spool.read(path), default_id=path.stem)
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
        outside = self._unconfined_attachments(message)
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
        request = RunRequest(
            prompt=fit_prompt(build_prompt(message, text), message.id, workspace),
            actor=actor_name,
            workspace=workspace,
            model=actor.model,
            persona="" if actor_name in self.persona_files else actor.persona,
            permission_mode=actor.permission_mode,
            timeout=actor.timeout,
            session_id=self.sessions.get(actor_name, conversation),
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
            self.sessions.set(actor_name, conversation, result.session_id)
        if not self.teams.after_run(message, actor_name, result, running.cancel_reason):
            reply = result_reply(message, actor_name, workspace, result, running.cancel_reason)
            if reply is not None:
                self.spool.put_reply(reply)
        failpoint("worker.replied")
        self.spool.complete(running.path)
        self.journal.drop(message.id)

    def _unconfined_attachments(self, message: Inbound) -> str | None:
        """Attachments are listed in the CLI's prompt, and the CLI opens them: each must
        be a file a listener stored under ``queue/files/``, never a path elsewhere."""
        for attachment in message.attachments:
            try:
                confine(self.spool.files_root, attachment.path)
            except UnsafePathError:
                return f"attachment {attachment.name!r} is outside queue/files/"
        return None

    def _run(self, running: Running, request: RunRequest, conversation: str) -> RunResult:
        message, actor_name = running.message, running.actor
        self.events.emit("run.start", id=message.id, actor=actor_name, conversation=conversation)
        runner = self.runners[self.config.actors[actor_name].runner]
        on_event = None
        if self.progress is not None:
            sink = self.progress
            on_event = lambda event: sink(actor_name, event)  # noqa: E731
        result = runner.run(request, on_event=on_event, cancel=running.cancel)
        self.events.emit(
            "run.end",
            id=message.id,
            actor=actor_name,
            ok=result.ok,
            error=result.error,
            duration=round(result.duration_s, 3),
            cost=result.cost_usd,
            conversation=conversation,
        )
        return result

    # -- commands ------------------------------------------------------------------

    def _command_context(self) -> CommandContext:
        return CommandContext(
            self.config, self.sessions.reset, self._chat_status, self._cancel_chat
        )

    def _chat_status(self, message: Inbound) -> str:
        lines = []
        now = self.clock()
        for r in self.inflight.for_chat(message):
            lines.append(
                f"@{r.actor} is working on: {r.message.text[:60]!r} ({now - r.started:.0f}s)"
            )
        queued = 0
        for actor in self.config.actors:
            for path in self.spool.list_box(self.spool.inbox(actor)):
                try:
                    other = load_inbound(self.spool.read(path), default_id=path.stem)
                except (OSError, InvalidMessageError):
                    continue
                if same_chat(other, message):
                    queued += 1
        lines.append(f"{queued} message(s) waiting." if queued else "Nothing waiting.")
        return "\n".join(lines)

    def _cancel_chat(self, message: Inbound) -> list[str]:
        return self.inflight.cancel("user", message)

    def running_snapshot(self) -> list[tuple[str, str, float]]:
        """(actor, message id, seconds running) for status displays."""
        return self.inflight.snapshot()
