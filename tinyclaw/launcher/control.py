"""``tinyclaw start`` and ``stop``: create the session, wait until every part serves,
and take it all down again without losing a message.

Start is idempotent: a running session is reported, not doubled, and a worker that
someone started by hand keeps start from launching a second one on the same queue.
Stop is graceful: SIGTERM goes to every supervisor, which passes it to its child (the
worker finishes its runs or returns them to the inboxes, as its shutdown does), stop
waits for every process to exit, and only then kills the session. Whatever is still
alive after the worker's ``stop_timeout`` plus a margin is killed, and said so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tinyclaw.config import Config
from tinyclaw.core import Home, LauncherError
from tinyclaw.launcher.components import Component, plan
from tinyclaw.launcher.handover import launch_secrets
from tinyclaw.launcher.queue_view import SharedQueue
from tinyclaw.launcher.state import clear, pid_alive, read_states, state_dir
from tinyclaw.launcher.status import RecentEvents, loose_worker, standby_holder
from tinyclaw.launcher.tmux import Tmux, window_env

STOP_MARGIN = 10.0


@dataclass
class StartReport:
    already_running: bool
    components: list[Component] = field(default_factory=list)
    ready_after: dict[str, float] = field(default_factory=dict)  # seconds since start
    not_ready: dict[str, str] = field(default_factory=dict)  # name -> phase/message
    elapsed: float = 0.0


@dataclass
class StopReport:
    was_running: bool
    stopped: list[str] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    waiting: dict[str, int] = field(default_factory=dict)  # queue depths left for next start


class Launcher:
    def __init__(
        self,
        home: Home,
        config: Config,
        tmux: Tmux,
        *,
        python: str = sys.executable,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        node: str | None = None,
    ) -> None:
        """``node``: this machine's worker node (``tinyclaw start --node NAME``); a
        home with ``[nodes]`` must name one to start (see :meth:`start`)."""
        self.node = node
        self.home = home
        self.config = config
        self.tmux = tmux
        self.python = python
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.state_dir = state_dir(home.root)
        self.components = plan(config, node)

    # -- start -----------------------------------------------------------------------

    def running(self) -> bool:
        return self.tmux.exists()

    def _leftovers(self) -> list[int]:
        """Supervisors or children of an earlier session that are somehow still alive."""
        pids: list[int] = []
        for state in read_states(self.state_dir).values():
            for pid in (state.supervisor_pid, state.child_pid):
                if pid is not None and pid_alive(pid):
                    pids.append(pid)
        return pids

    def start(self, *, wait: float = 30.0) -> StartReport:
        """Start the session. ConfigError, before anything runs, for a node that
        ``[nodes]`` does not name, or none named where ``[nodes]`` is defined: the
        worker would refuse to start, in a loop, inside the session."""
        from tinyclaw.worker import node_actors

        node_actors(self.config, self.node)
        if self.running():
            self.tmux.check_home(self.home.root)
            return StartReport(already_running=True, components=self.components)
        leftovers = self._leftovers()
        if leftovers:
            raise LauncherError(
                "parts of an earlier start are still running outside the tmux session "
                f"(pids {', '.join(map(str, leftovers))}); run `tinyclaw stop` first"
            )
        loose = loose_worker(self.home)
        if loose is not None:
            raise LauncherError(
                f"a worker is already running outside tmux (pid {loose}); stop it "
                "(Ctrl-C in its terminal) before `tinyclaw start`"
            )
        self.home.ensure()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        clear(self.state_dir)
        began, began_wall = self.clock(), self.wall()
        handed = launch_secrets(self.home, self.config, self.components)
        self.tmux.create(
            self.components,
            python=self.python,
            env=window_env(self.home.root),
            cwd=self.home.root,
            extra=handed.windows,
            unset=handed.unset,
        )
        report = StartReport(already_running=False, components=self.components)
        if wait > 0:
            self.wait_ready(report, began, began_wall, wait)
        report.elapsed = self.clock() - began
        return report

    def wait_ready(
        self, report: StartReport, began: float, began_wall: float, timeout: float
    ) -> None:
        """Poll the status files until every component is ready, gave up, or time runs out."""
        pending = {c.name for c in self.components}
        kinds = {c.name: c.kind for c in self.components}
        events = RecentEvents(self.home.logs / "events.jsonl")
        deadline = began + timeout
        while pending:
            states = read_states(self.state_dir)
            events.refresh()
            for name in list(pending):
                state = states.get(name)
                if state is None:
                    continue
                holder = (
                    standby_holder(kinds[name], name, state.started_at or 0.0, events)
                    if state.phase == "starting" and kinds[name] in ("worker", "listener")
                    else None
                )
                if holder is not None:
                    # Another machine serves it: it waits there, maybe for long.
                    report.not_ready[name] = f"on standby: another machine serves it ({holder})"
                    pending.discard(name)
                elif state.phase == "ready" and state.ready_at is not None:
                    report.ready_after[name] = max(0.0, state.ready_at - began_wall)
                    pending.discard(name)
                elif state.phase in ("backoff", "gave_up", "stopped"):
                    # It failed at least once: say so now rather than wait out the
                    # timeout; its supervisor keeps trying (or waits for a fix).
                    report.not_ready[name] = f"{state.phase}: {state.message}"
                    pending.discard(name)
            if not pending or self.clock() >= deadline:
                break
            self.sleep(0.02)
        states = read_states(self.state_dir)
        waited = self.clock() - began
        for name in pending:
            state = states.get(name)
            if state is None:
                report.not_ready[name] = "did not start"
            elif state.phase == "starting" and kinds.get(name) == "listener":
                # Alive but never said listener.ready: the platform did not accept it
                # (network down, an API that does not answer). Its supervisor keeps it
                # running and it keeps trying, but nothing is received yet.
                report.not_ready[name] = (
                    f"still connecting after {waited:.0f} s (no listener.ready yet; "
                    f"see `tinyclaw logs {name}`)"
                )
            elif state.phase == "starting":
                report.not_ready[name] = f"still starting after {waited:.0f} s"
            else:
                report.not_ready[name] = f"{state.phase}: {state.message}".rstrip(": ")

    # -- stop ------------------------------------------------------------------------

    def stop(
        self,
        *,
        timeout: float | None = None,
        on_waiting: Callable[[int, float], None] | None = None,
    ) -> StopReport:
        """Stop every component gracefully, then remove the session. ``on_waiting`` is
        told (runs in flight, seconds at most) once the signals are sent, so a command
        can say why it sits there: the worker lets its runs finish first."""
        began = self.clock()
        timeout = self.config.worker.stop_timeout + STOP_MARGIN if timeout is None else timeout
        if self.running():
            self.tmux.check_home(self.home.root)
        windows = self.tmux.windows()
        states = read_states(self.state_dir)
        supervisors: dict[str, int] = {}
        children: dict[str, int] = {}
        for name, state in states.items():
            if pid_alive(state.supervisor_pid):
                supervisors[name] = state.supervisor_pid
            if pid_alive(state.child_pid):
                children[name] = state.child_pid  # type: ignore[assignment]
        for name, (_window, pane_pid) in windows.items():
            if pane_pid and pid_alive(pane_pid):
                supervisors.setdefault(name, pane_pid)
        report = StopReport(was_running=bool(windows or supervisors or children))
        for pid in supervisors.values():
            _signal(pid, signal.SIGTERM)
        for name, pid in children.items():
            if name not in supervisors:  # an orphan: nobody will pass the signal on
                _signal(pid, signal.SIGTERM)
        everything = {f"s:{k}": v for k, v in supervisors.items()}
        everything.update({f"c:{k}": v for k, v in children.items()})
        if on_waiting is not None and everything:
            on_waiting(self._queue()[0], timeout)
        deadline = self.clock() + timeout
        while any(pid_alive(pid) for pid in everything.values()) and self.clock() < deadline:
            self.sleep(0.05)
        for key, pid in everything.items():
            if pid_alive(pid):
                if key.startswith("c:"):
                    # A non-interactive child leads its own process group: take along
                    # anything it started (a CLI run that ignored its cancel).
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
                _signal(pid, signal.SIGKILL)
                report.killed.append(pid)
        self.tmux.kill()
        report.stopped = sorted(set(supervisors) | set(children) | set(windows))
        report.elapsed = self.clock() - began
        depths = self._queue()[1]
        report.waiting = {k: v for k, v in depths.items() if k != "failed" and v}
        return report

    def _queue(self) -> tuple[int, dict[str, int]]:
        """(the runs in flight on this machine, the queue's depths). On NATS the
        depths are the shared queue's, and the runs those this host's worker holds;
        servers that do not answer leave both out rather than hold up the stop."""
        if self.config.spool.backend == "file":
            from tinyclaw.spool import Spool

            depths = Spool(self.home).depths()
            return depths.get("processing", 0), depths
        shared = SharedQueue(self.home, self.config)
        try:
            found = shared.figures()
        finally:
            shared.close()
        if isinstance(found, str):
            return 0, {}
        host = socket.gethostname()
        return sum(r.holder.split(":", 1)[0] == host for r in found.running), found.depths


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
