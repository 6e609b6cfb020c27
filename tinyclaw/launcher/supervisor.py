"""Run one component, restart it with exponential backoff, and say so where people look.

``tinyclaw supervise worker -- python -m tinyclaw worker`` sits in the worker's tmux
window. A child that dies is started again after 0.5 s, 1 s, 2 s … (capped; reset
after a stable run), and each restart is printed as a banner in the window, logged to
``logs/supervise-<component>.log`` and recorded in the event log, so a crash is
something the operator sees, not something that silently happened.

Exit code 2 means "retrying cannot help" (a platform refused the token, a usage
error): the supervisor stops restarting, keeps the message on screen and waits for
Enter or ``tinyclaw restart``. SIGTERM/SIGHUP are forwarded to the child as SIGTERM
(the worker then finishes or requeues its runs); a second one escalates to SIGKILL.

The child's environment is built anew at every start (``childenv``): the home's
``.env`` is read again, so a token fixed there is used on Enter or ``tinyclaw
restart``, and the child gets only the secrets it owns (``own``: a listener its
platform's, the worker its runners' ``pass_env``).

Readiness (what ``tinyclaw start`` waits for) is recorded in the status file when the
child's probe (``readiness.ReadyProbe``) says so. This module imports only the
standard library and small tinyclaw modules: it runs in every window and must stay
small.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from tinyclaw.core.events import EventLog
from tinyclaw.launcher.readiness import EventTail, ReadyProbe
from tinyclaw.launcher.state import (
    COMPONENT_ENV,
    READY_FILE_ENV,
    ComponentState,
    Phase,
    ready_file,
    state_dir,
    write_state,
)

log = logging.getLogger("tinyclaw.supervise")

PERMANENT_EXIT = 2  # the child says retrying cannot help
Spawner = Callable[..., "subprocess.Popen[bytes]"]


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: ``initial * factor**(n-1)`` up to ``maximum``; a child
    that ran ``stable_after`` seconds counts as healthy and resets the sequence."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    stable_after: float = 30.0

    def delay(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * self.factor ** max(0, failures - 1)))


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor vanishes (kill -9, tmux gone), so no
    component outlives its window. Linux only; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Stopped(Exception):
    """Raised from the signal handler to leave a wait that has no child to forward to."""


class Supervisor:
    def __init__(
        self,
        component: str,
        argv: Sequence[str],
        *,
        home_root: Path,
        ready: str = "alive:1",
        interactive: bool = False,
        backoff: Backoff | None = None,
        out: TextIO | None = None,
        spawn: Spawner = subprocess.Popen,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        poll: float = 0.02,
        max_restarts: int | None = None,
        own: Sequence[str] = (),
        withheld: Sequence[str] = (),
    ) -> None:
        if not argv:
            raise ValueError("nothing to supervise: the command after -- is empty")
        self.component = component
        self.argv = list(argv)
        self.probe = ReadyProbe.parse(ready)
        self.interactive = interactive
        self.backoff = backoff or Backoff()
        self.out = out or sys.stdout
        self.spawn = spawn
        self.clock = clock
        self.wall = wall
        self.poll = poll
        self.max_restarts = max_restarts
        self.own = list(own)
        self.withheld = list(withheld)
        self.env_file = home_root / ".env"
        self.dir = state_dir(home_root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(home_root / "logs" / "events.jsonl", clock=wall)
        self.state = ComponentState(component, os.getpid(), argv=self.argv)
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self._signals = 0
        self._last_interrupt = -1e9
        self._waiting_idle = False

    # -- output ----------------------------------------------------------------------

    def say(self, text: str, color: str = "33") -> None:
        """A banner line in the window (ANSI colour unless NO_COLOR) and in the log."""
        log.info("%s", text)
        plain = os.environ.get("NO_COLOR") is not None or not self.out.isatty()
        line = f"── tinyclaw: {text} ──"
        self.out.write(("\n" + line if plain else f"\n\x1b[1;{color}m{line}\x1b[0m") + "\n")
        self.out.flush()

    def _save(self, phase: Phase, message: str = "") -> None:
        self.state.phase = phase
        self.state.message = message
        try:
            write_state(self.dir, self.state)
        except OSError as exc:
            log.warning("cannot write status file: %s", exc)

    # -- signals ---------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        self.stopping = True
        child = self.child
        if child is not None and child.poll() is None:
            sig = signal.SIGTERM if self._signals == 1 else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(sig)
        elif self._waiting_idle:
            raise _Stopped

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.interactive:
            return  # the child got the same Ctrl-C; it decides what it means
        now = self.clock()
        if now - self._last_interrupt <= 3.0:
            self.say(f"stopping {self.component} (Ctrl-C twice)", "31")
            self._on_stop_signal(signum, frame)
            return
        self._last_interrupt = now
        self.say(
            f"press Ctrl-C again within 3 s to stop {self.component}; "
            "`tinyclaw stop` stops everything, C-b d detaches"
        )

    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_interrupt)

    # -- one child -------------------------------------------------------------------

    def _start_child(self) -> subprocess.Popen[bytes]:
        marker = ready_file(self.dir, self.component)
        marker.unlink(missing_ok=True)
        env = self._child_environment()
        env[READY_FILE_ENV] = str(marker)
        env[COMPONENT_ENV] = self.component
        env.setdefault("PYTHONUNBUFFERED", "1")
        kwargs: dict[str, object] = {"env": env, "preexec_fn": _die_with_parent}
        if not self.interactive:
            # Its own process group: Ctrl-C in the window reaches only us, and the
            # keyboard is not the child's to read.
            kwargs["stdin"] = subprocess.DEVNULL
            kwargs["process_group"] = 0
        return self.spawn(self.argv, **kwargs)

    def _child_environment(self) -> dict[str, str]:
        """The environment of the next child: ``.env`` read now, foreign secrets out."""
        from tinyclaw.config.childenv import child_environment, read_dotenv
        from tinyclaw.core.errors import ConfigError

        try:
            dotenv = read_dotenv(self.env_file)
        except ConfigError as exc:  # the child reads it too and says so; go on without
            self.say(f"{exc}; starting {self.component} without .env", "31")
            dotenv = {}
        env, _removed = child_environment(os.environ, dotenv, own=self.own, withheld=self.withheld)
        return env

    def _is_ready(self, child: subprocess.Popen[bytes], since: float, tail: EventTail) -> bool:
        probe = self.probe
        if ready_file(self.dir, self.component).exists():
            return True
        if probe.events and tail.seen(child.pid, probe.events):
            return True
        return probe.seconds is not None and self.clock() - since >= probe.seconds

    def run_once(self) -> tuple[int, float]:
        """Start the child, record readiness, wait for it; (exit code, seconds it ran)."""
        tail = EventTail(self.events.path)
        started = self.clock()
        try:
            child = self._start_child()
        except OSError as exc:
            self.say(f"cannot start {self.component}: {exc}", "31")
            return 127, 0.0
        self.child = child
        self.state.child_pid = child.pid
        self.state.started_at = self.wall()
        self.state.ready_at = None
        self._save("starting")
        self.events.emit("component.start", component=self.component, child_pid=child.pid)
        if self.stopping:  # a signal raced the spawn
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        while True:
            # Poll fast while a start is being awaited; a child that never signals
            # readiness must not cost a busy loop for the rest of its life.
            poll = self.poll if self.clock() - started < 5.0 else 0.5
            try:
                code = child.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.state.ready_at is None and self._is_ready(child, started, tail):
                tail.close()  # not needed any more; don't hold a rotated log open
                self.state.ready_at = self.wall()
                self._save("ready")
                self.events.emit("component.ready", component=self.component, child_pid=child.pid)
                log.info("%s ready (pid %d)", self.component, child.pid)
                code = child.wait()
                break
        ran = self.clock() - started
        tail.close()
        self.child = None
        self.state.last_exit = code
        self.state.last_exit_at = self.wall()
        return code, ran

    # -- the loop --------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until asked to stop; returns the process exit code."""
        self.install_signals()
        failures = 0
        try:
            while True:
                code, ran = self.run_once()
                if self.stopping:
                    break
                what = describe_exit(code)
                self.events.emit(
                    "component.exit", component=self.component, code=code, ran=round(ran, 3)
                )
                if code == PERMANENT_EXIT or (
                    self.max_restarts is not None and self.state.restarts >= self.max_restarts
                ):
                    if not self._give_up(what):
                        break
                    failures = 0
                    continue
                failures = 1 if ran >= self.backoff.stable_after else failures + 1
                delay = self.backoff.delay(failures)
                self.state.restarts += 1
                self.say(
                    f"{self.component} stopped ({what}) after {ran:.1f} s; "
                    f"restart #{self.state.restarts} in {delay:g} s",
                    "31",
                )
                self._save("backoff", f"{what}; restarting in {delay:g} s")
                if not self._sleep(delay):
                    break
                self.say(f"restarting {self.component} (restart #{self.state.restarts})", "32")
        except _Stopped:
            pass
        self._save("stopped", "stopped on request")
        self.events.emit("component.stop", component=self.component)
        return 0

    def _sleep(self, seconds: float) -> bool:
        """Wait between restarts; False if a stop signal came meanwhile."""
        deadline = self.clock() + seconds
        self._waiting_idle = True
        try:
            while not self.stopping and self.clock() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - self.clock())))
        finally:
            self._waiting_idle = False
        return not self.stopping

    def _give_up(self, what: str) -> bool:
        """Stop restarting; True if the operator pressed Enter to try again."""
        self.say(
            f"{self.component} cannot run ({what}); not restarting it. Fix the problem shown "
            "above, then press Enter here or run `tinyclaw restart`",
            "31",
        )
        self._save("gave_up", what)
        self._waiting_idle = True
        try:
            while not self.stopping:
                if self._enter_pressed(0.5):
                    self.say(f"trying {self.component} again", "32")
                    self.state.restarts += 1
                    return True
        finally:
            self._waiting_idle = False
        return False

    @staticmethod
    def _enter_pressed(timeout: float) -> bool:
        try:
            if not sys.stdin.isatty():
                time.sleep(timeout)
                return False
            ready, _, _ = select.select([sys.stdin], [], [], timeout)
        except (OSError, ValueError):
            time.sleep(timeout)
            return False
        if ready:
            return bool(sys.stdin.readline() or True)
        return False


def supervise_main(
    component: str,
    argv: Sequence[str],
    *,
    ready: str,
    interactive: bool,
    home_root: Path,
    own: Sequence[str] = (),
    withheld: Sequence[str] = (),
) -> int:
    """The body of ``tinyclaw supervise`` (and of ``python -m tinyclaw.launcher``)."""
    from tinyclaw.core.logsetup import setup_logging

    setup_logging(home_root / "logs", f"supervise-{component}", stderr=False)
    supervisor = Supervisor(
        component,
        argv,
        home_root=home_root,
        ready=ready,
        interactive=interactive,
        own=own,
        withheld=withheld,
    )
    return supervisor.run()
