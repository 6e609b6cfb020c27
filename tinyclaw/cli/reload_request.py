"""``tinyclaw reload``: ask the running worker and listeners to read the config again.

The command first validates the file itself, so a mistake is shown at once as one
line. Then it sends SIGHUP to each running process of the home (found by the
instance lock each holds, which names its pid) and waits for the answer each writes
to the event log (``config.reload`` or ``config.refused``, with its pid), so what the
command prints is what the processes did, not what it hoped they would do.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from tinyclaw.config import ChannelsConfig, load_config
from tinyclaw.config.reload import config_files, one_line
from tinyclaw.core.errors import ConfigError
from tinyclaw.core.events import EventLog
from tinyclaw.core.home import Home
from tinyclaw.core.instance import listener_lock_path, lock_holder, worker_lock_path


@dataclass(frozen=True)
class ProcessAnswer:
    """What one process said (``answered`` False: no answer within the timeout)."""

    name: str
    pid: int
    answered: bool = False
    refused: str | None = None
    applied: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()

    def line(self) -> str:
        if not self.answered:
            return f"{self.name} (pid {self.pid}): no answer yet; see its log"
        if self.refused is not None:
            return f"{self.name}: refused, the running configuration stays in force: {self.refused}"
        parts = [f"{self.name}: reloaded"]
        if self.applied:
            parts.append("applied: " + ", ".join(self.applied))
        elif not self.restart:
            parts.append("no changes")
        if self.restart:
            parts.append("needs a restart: " + "; ".join(self.restart))
        return "; ".join(parts)


@dataclass(frozen=True)
class ReloadReport:
    error: str | None
    answers: list[ProcessAnswer]

    @property
    def ok(self) -> bool:
        return self.error is None and all(a.answered and a.refused is None for a in self.answers)


def running_processes(home: Home) -> list[tuple[str, int]]:
    """(name, pid) of the home's worker and listeners that run now."""
    found = []
    pid = lock_holder(worker_lock_path(home.state))
    if pid:
        found.append(("worker", pid))
    for channel in ChannelsConfig.model_fields:
        pid = lock_holder(listener_lock_path(home.state, channel))
        if pid:
            found.append((f"{channel} listener", pid))
    return found


def request_reload(home: Home, *, timeout: float = 15.0) -> ReloadReport:
    error = None
    try:
        load_config(home)
    except ConfigError as exc:
        error = one_line(str(exc))
    events = EventLog(home.logs / "events.jsonl")
    since = time.time()
    targets = []
    for name, pid in running_processes(home):
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            continue
        targets.append((name, pid))
    answers = {pid: ProcessAnswer(name, pid) for name, pid in targets}
    # A process that saw the edit on its own before the signal came answers "no
    # changes"; what it applied then (since the file last changed) is reported instead.
    edited = _last_edit(home)
    earlier: dict[int, dict[str, object]] = {}
    deadline = time.monotonic() + timeout
    while any(not a.answered for a in answers.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
        for event in events.read():
            answer = answers.get(event.get("pid", -1))
            ts = float(event.get("ts", 0))
            if answer is None or answer.answered or ts < edited:
                continue
            if ts < since:
                if event.get("event") == "config.reload" and (
                    event.get("applied") or event.get("restart")
                ):
                    earlier[answer.pid] = event
                continue
            if event.get("event") == "config.reload" and not (
                event.get("applied") or event.get("restart")
            ):
                event = earlier.get(answer.pid, event)
            if event.get("event") == "config.refused":
                answers[answer.pid] = ProcessAnswer(
                    answer.name, answer.pid, True, str(event.get("reason", ""))
                )
            elif event.get("event") == "config.reload":
                answers[answer.pid] = ProcessAnswer(
                    answer.name,
                    answer.pid,
                    True,
                    applied=tuple(event.get("applied") or ()),
                    restart=tuple(event.get("restart") or ()),
                )
    return ReloadReport(error, list(answers.values()))


def _last_edit(home: Home) -> float:
    times = []
    for path in config_files(home):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)
