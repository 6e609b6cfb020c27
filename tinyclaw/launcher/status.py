"""What is running and what is waiting, read from files only (no tmux needed).

``tinyclaw status`` and the status window both show a :class:`Snapshot`. Everything
in it comes from the home: the supervisors' status files, the queue boxes, and the
event log (a ``run.start`` without its ``run.end`` is a run in flight; its timestamp
gives the elapsed time, and the claimed file's ctime backs it up when the event log
was rotated away). So status works the same with tmux, without it, and after a crash.

A home whose queue is on NATS takes the queue's figures from the servers instead
(:mod:`~tinyclaw.launcher.queue_view`); the rest still comes from this machine.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyclaw.config import Config
from tinyclaw.core import (
    DiskState,
    Home,
    InvalidMessageError,
    load_inbound,
    lock_holder,
    printable,
    read_report,
    rotated_path,
    worker_lock_path,
)
from tinyclaw.core import describe as describe_disk
from tinyclaw.launcher.components import WORKER, Component, plan
from tinyclaw.launcher.queue_view import SharedQueue
from tinyclaw.launcher.state import ComponentState, pid_alive, read_states, state_dir
from tinyclaw.runners import JsonlTail
from tinyclaw.spool import REASON_SUFFIX, QueueCensus, Spool, unfinished_move

TAIL_BYTES = 1_000_000
RECENT = 200
CONNECTING = "connecting"
STANDBY = "standby"


@dataclass
class ComponentView:
    name: str
    window: str
    kind: str
    running: bool
    phase: str
    pid: int | None = None
    restarts: int = 0
    since: float | None = None
    message: str = ""


@dataclass
class InFlight:
    actor: str
    id: str
    elapsed: float
    text: str = ""
    origin: str = ""


@dataclass
class FailureView:
    name: str
    reason: str
    at: str = ""


@dataclass
class ActorView:
    name: str
    runner: str
    inbox: int
    running: InFlight | None = None
    last_run: dict[str, Any] | None = None


@dataclass
class Snapshot:
    home: Path
    session: str
    session_running: bool | None  # None: tmux not available
    components: list[ComponentView]
    depths: dict[str, int]
    actors: list[ActorView]
    in_flight: list[InFlight]
    failures_count: int
    failures: list[FailureView]
    recent: list[dict[str, Any]] = field(default_factory=list)
    now: float = 0.0
    disk: DiskState | None = None  # the worker's report (tinyclaw.core.diskspace)
    node: str | None = None  # the worker node this machine's session runs
    queue: str = "files"  # where the queue is: "files", or "NATS <servers>"
    queue_problem: str | None = None  # why the queue's figures are missing (NATS down)
    moving_to: str | None = None  # a `tinyclaw spool move` that was interrupted

    @property
    def worker_running(self) -> bool:
        return any(c.kind == "worker" and c.running for c in self.components)


class RecentEvents:
    """The newest events of ``logs/events.jsonl``, read once from the end and then only
    what was appended, so a dashboard refreshing every second reads a few bytes. It
    follows the log across its rotation, and when the current file is young the end
    of the rotated ``events.jsonl.1`` fills in the history (the last runs, the runs in
    flight) that a rotation would otherwise hide."""

    def __init__(self, path: Path, keep: int = RECENT, tail_bytes: int = TAIL_BYTES) -> None:
        self.path = path
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)
        self.started: dict[str, dict[str, Any]] = {}  # message id -> run.start, in flight
        self._tail = JsonlTail(path, backlog=tail_bytes)
        self._tail_bytes = tail_bytes
        self._first = True

    def refresh(self) -> None:
        records = self._tail.poll()
        if self._first:
            self._first = False
            try:
                size = self.path.stat().st_size
            except OSError:
                size = 0
            if size < self._tail_bytes:
                records = _last_records(rotated_path(self.path), self._tail_bytes - size) + records
        for record in records:
            self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind == "run.start" and isinstance(record.get("id"), str):
            self.started[record["id"]] = record
        elif kind == "run.end" and isinstance(record.get("id"), str):
            self.started.pop(record["id"], None)
        self.events.append(record)

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") in kinds]


def _last_records(path: Path, budget: int) -> list[dict[str, Any]]:
    """The whole records in the last ``budget`` bytes of ``path`` (none if missing)."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - budget)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # started mid-line
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _component_view(component: Component, state: ComponentState | None) -> ComponentView:
    if state is None:
        return ComponentView(component.name, component.window, component.kind, False, "not started")
    alive = pid_alive(state.supervisor_pid) and state.phase != "stopped"
    child_alive = pid_alive(state.child_pid)
    phase: str = state.phase if alive else "stopped"
    running = alive and child_alive and phase in ("starting", "ready")
    if component.kind == "listener" and phase == "starting":
        phase = CONNECTING  # alive, but its platform has not accepted it (yet)
    return ComponentView(
        component.name,
        component.window,
        component.kind,
        running,
        phase,
        state.child_pid if child_alive else None,
        state.restarts,
        state.ready_at or state.started_at,
        state.message,
    )


def _mark_standby(view: ComponentView, events: RecentEvents) -> None:
    """A listener waiting for its lease (the queue on NATS, another machine serving the
    bot), or a worker waiting for its node's, is on standby, not stuck connecting or
    starting: say so, and who serves."""
    holder = standby_holder(view.kind, view.name, view.since or 0.0, events)
    if holder is not None:
        view.phase = STANDBY
        view.message = f"another machine serves it ({holder})"


def standby_holder(kind: str, name: str, since: float, events: RecentEvents) -> str | None:
    """Who serves in place of the listener or worker ``name`` started at ``since``,
    while it waits for its lease on another machine's (None: it does not wait)."""
    prefix = "listener" if kind == "listener" else "worker"
    ready = "listener.ready" if kind == "listener" else "worker.start"
    latest = [
        e
        for e in events.of_kind(f"{prefix}.standby", f"{prefix}.lease", ready)
        if (kind != "listener" or e.get("channel") == name) and float(e.get("ts") or 0) >= since
    ]
    if latest and latest[-1].get("event") == f"{prefix}.standby":
        return str(latest[-1].get("holder", "?"))
    return None


def loose_worker(home: Home, supervised: int | None = None) -> int | None:
    """The pid of a worker serving ``home`` that is not the ``supervised`` one (a
    ``tinyclaw worker`` started by hand): whoever holds the worker lock."""
    holder = lock_holder(worker_lock_path(home.state))
    return holder if holder and holder != supervised else None


def running_node(home: Home) -> str | None:
    """The worker node the session's worker was started as (``--node NAME`` in its
    supervisor's record), None without one: so ``restart`` and ``status`` know it."""
    state = read_states(state_dir(home.root)).get(WORKER)
    argv = state.argv if state is not None else []
    if "--node" in argv[:-1]:
        return argv[argv.index("--node") + 1]
    return None


def _message_summary(path: Path) -> tuple[str, str]:
    try:
        message = load_inbound(path.read_bytes(), default_id=path.stem)
    except (OSError, InvalidMessageError):
        return "", ""
    return " ".join(message.text.split())[:120], f"{message.channel}:{message.chat_id}"


def _in_flight(spool: Spool, events: RecentEvents, now: float) -> list[InFlight]:
    result = []
    try:
        actor_dirs = sorted(e.name for e in os.scandir(spool.processing_root) if e.is_dir())
    except FileNotFoundError:
        return []
    for actor in actor_dirs:
        for path in Spool.list_box(spool.processing_root / actor):
            started = events.started.get(path.stem, {}).get("ts")
            if not isinstance(started, (int, float)):
                try:
                    started = path.stat().st_ctime  # the claim's rename sets ctime
                except OSError:
                    continue
            text, origin = _message_summary(path)
            result.append(InFlight(actor, path.stem, max(0.0, now - started), text, origin))
    return result


def failures(spool: Spool, latest: int = 3) -> tuple[int, list[FailureView]]:
    """How many files sit in ``failed/``, and the newest reasons."""
    files = Spool.list_box(spool.failed)
    reasons: list[tuple[float, Path]] = []
    for path in spool.failed.glob("*" + REASON_SUFFIX):
        try:
            reasons.append((path.stat().st_mtime, path))
        except OSError:
            continue
    views = []
    for _, path in sorted(reasons, reverse=True)[:latest]:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            reason, at = str(raw.get("reason", "")), str(raw.get("at", ""))
        except (OSError, ValueError, AttributeError):
            reason, at = path.read_text(errors="replace")[:300] if path.exists() else "", ""
        views.append(FailureView(path.name[: -len(REASON_SUFFIX)], reason, at))
    return len(files), views


def collect(
    home: Home,
    config: Config,
    *,
    session: str,
    session_running: bool | None,
    events: RecentEvents | None = None,
    components: Iterable[Component] | None = None,
    now: float | None = None,
    shared: SharedQueue | None = None,
) -> Snapshot:
    """What runs and what waits now. ``shared`` keeps a NATS queue's connection
    between calls (the dashboard); without it one is opened and closed here."""
    now = time.time() if now is None else now
    events = events or RecentEvents(home.logs / "events.jsonl")
    events.refresh()
    spool = Spool(home)
    states = read_states(state_dir(home.root))
    views = [_component_view(c, states.get(c.name)) for c in (components or plan(config))]
    for view in views:
        loose = loose_worker(home, view.pid) if view.kind == "worker" else None
        if loose is not None and not view.running:
            view.running, view.phase, view.pid = True, "outside tmux", loose
    for view in views:
        if (view.kind, view.phase) in (("listener", CONNECTING), ("worker", "starting")):
            _mark_standby(view, events)
    figures: Figures | None
    if config.spool.backend == "file":
        figures = _file_figures(spool, events, now, list(config.actors))
        queue, problem = "files", None
    else:
        own = shared is None
        shared = shared or SharedQueue(home, config)
        try:
            found = shared.figures()
        finally:
            if own:
                shared.close()
        queue = f"NATS {shared.where}"
        problem = found if isinstance(found, str) else None
        figures = _nats_figures(found, events, now) if not isinstance(found, str) else None
    depths, inboxes, in_flight, count, latest = figures or ({}, {}, [], 0, [])
    running_by_actor = {r.actor: r for r in in_flight}
    last_runs: dict[str, dict[str, Any]] = {}
    for event in events.of_kind("run.end"):
        if isinstance(event.get("actor"), str):
            last_runs[event["actor"]] = event
    actors = [
        ActorView(
            name,
            actor.runner,
            inboxes.get(name, 0),
            running_by_actor.get(name),
            last_runs.get(name),
        )
        for name, actor in config.actors.items()
    ]
    return Snapshot(
        home=home.root,
        session=session,
        session_running=session_running,
        components=views,
        depths=depths,
        actors=actors,
        in_flight=in_flight,
        failures_count=count,
        failures=latest,
        recent=events.of_kind("routed", "run.end")[-20:],
        now=now,
        disk=read_report(home.state),
        node=running_node(home),
        queue=queue,
        queue_problem=problem,
        moving_to=unfinished_move(home),
    )


Figures = tuple[dict[str, int], dict[str, int], list[InFlight], int, list[FailureView]]


def _file_figures(spool: Spool, events: RecentEvents, now: float, actors: list[str]) -> Figures:
    """The queue's figures from the home's folders."""
    inboxes = {name: len(Spool.list_box(spool.inbox(name))) for name in actors}
    count, latest = failures(spool)
    return spool.depths(), inboxes, _in_flight(spool, events, now), count, latest


def _nats_figures(census: QueueCensus, events: RecentEvents, now: float) -> Figures:
    """The queue's figures from NATS. A run of this machine has its start in the event
    log; one on another machine is shown with the host that runs it."""
    in_flight = []
    for run in census.running:
        started = events.started.get(run.message_id, {}).get("ts")
        elapsed = max(0.0, now - started) if isinstance(started, (int, float)) else -1.0
        host = run.holder.split(":", 1)[0]
        origin = f"{run.origin} on {host}" if elapsed < 0 else run.origin
        in_flight.append(InFlight(run.actor, run.message_id, elapsed, run.text, origin))
    latest = [FailureView(f.key, f.reason, f.at) for f in census.failures]
    return census.depths, census.inboxes, in_flight, census.depths.get("failed", 0), latest


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def format_status(snap: Snapshot) -> str:
    """The plain-text ``tinyclaw status`` (the dashboard draws the same with rich)."""
    lines = [f"tinyclaw home {snap.home}"]
    if snap.session_running is None:
        lines.append("tmux: not installed (status from files only)")
    elif snap.session_running:
        lines.append(f"tmux session {snap.session!r}: running (tinyclaw attach)")
    elif any(c.running for c in snap.components):
        # The components say they run: the session lives on another tmux server (or
        # none: a service manager), so "not running" would contradict the list below.
        lines.append(
            f"tmux session {snap.session!r}: not on this tmux server; its components run "
            "(to attach, set TINYCLAW_TMUX_SOCKET and TINYCLAW_TMUX_SESSION as at start)"
        )
    else:
        lines.append(f"tmux session {snap.session!r}: not running (tinyclaw start)")
    lines.append("components:")
    width = max((len(c.window) for c in snap.components), default=6)
    for c in snap.components:
        state = "running" if c.running else "not running"
        detail = [c.phase] if c.phase not in ("ready", "not started") else []
        if c.pid:
            detail.append(f"pid {c.pid}")
        if c.since and c.running:
            detail.append(f"up {duration(snap.now - c.since)}")
        if c.restarts:
            detail.append(f"{c.restarts} restart(s)")
        if c.message and (not c.running or c.phase == STANDBY):
            detail.append(c.message)
        extra = f"  ({', '.join(detail)})" if detail else ""
        lines.append(f"  {c.window:<{width}}  {c.kind:<8}  {state}{extra}")
    d = snap.depths
    if snap.node is not None:
        lines.append(f"worker node: {snap.node}")
    if snap.moving_to is not None:
        lines.append(
            f"a move of the queue to {snap.moving_to} is not finished: run "
            f"`tinyclaw spool move --to {snap.moving_to}` before starting anything"
        )
    if snap.queue_problem is not None:
        lines.append(f"queues: unknown: {snap.queue_problem}")
    else:
        lines.append(
            "queues: "
            + "  ".join(
                f"{k} {d.get(k, 0)}"
                for k in ("incoming", "inboxes", "processing", "outgoing", "failed")
            )
            + ("" if snap.queue == "files" else f"  (on {snap.queue})")
        )
    if snap.queue != "files" and snap.queue_problem is None:
        lines.append("inboxes: " + "  ".join(f"@{a.name} {a.inbox}" for a in snap.actors))
    if snap.disk is not None and snap.disk.full:
        lines.append(describe_disk(snap.disk, snap.now))
    if snap.in_flight:
        lines.append("in flight:")
        for r in snap.in_flight:
            text = f"  {r.text[:60]!r}" if r.text else ""
            took = duration(r.elapsed) if r.elapsed >= 0 else "?"
            lines.append(f"  @{r.actor}  {took}  {r.id}  {r.origin}{text}")
    else:
        lines.append("in flight: nothing")
    lines.append(f"failures: {snap.failures_count}")
    for f in snap.failures:
        lines.append(f"  {f.at}  {f.name}: {f.reason[:200]}")
    # Message texts, chat ids and failure reasons come from chat users and CLIs: no
    # escape sequence of theirs reaches the terminal that runs `tinyclaw status`.
    return printable("\n".join(lines))
