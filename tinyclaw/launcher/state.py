"""The status file each supervisor keeps: ``state/launcher/<component>.json``.

The supervisor is the only writer of its file and replaces it atomically, so any
reader (``tinyclaw start`` waiting for readiness, ``status``, ``stop``, the dashboard)
sees a whole, current record without asking tmux. A record outlives its process; a
pid in it is trusted only after :func:`pid_alive` confirms it still names a live,
non-zombie process whose command line mentions tinyclaw (pids are reused).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tinyclaw.core.fsutil import atomic_write

Phase = Literal["starting", "ready", "backoff", "gave_up", "stopping", "stopped"]
READY_FILE_ENV = "TINYCLAW_READY_FILE"
COMPONENT_ENV = "TINYCLAW_COMPONENT"


def state_dir(home_root: Path) -> Path:
    return home_root / "state" / "launcher"


@dataclass
class ComponentState:
    """One supervised component as its supervisor last described it."""

    component: str
    supervisor_pid: int
    phase: Phase = "starting"
    child_pid: int | None = None
    started_at: float | None = None  # wall clock when the current child was spawned
    ready_at: float | None = None
    restarts: int = 0
    last_exit: int | None = None
    last_exit_at: float | None = None
    message: str = ""
    argv: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ComponentState:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def state_file(directory: Path, component: str) -> Path:
    return directory / f"{component}.json"


def ready_file(directory: Path, component: str) -> Path:
    """The file a child touches once it serves (``$TINYCLAW_READY_FILE``)."""
    return directory / f"{component}.ready"


def write_state(directory: Path, state: ComponentState) -> None:
    data = json.dumps(asdict(state), indent=1).encode("utf-8")
    atomic_write(state_file(directory, state.component), data, durable=False)


def read_states(directory: Path) -> dict[str, ComponentState]:
    """Every readable status file, by component name; a torn or foreign file is skipped."""
    states: dict[str, ComponentState] = {}
    try:
        entries = sorted(directory.glob("*.json"))
    except OSError:
        return states
    for path in entries:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = ComponentState.from_dict(raw)
        except (OSError, ValueError, TypeError):
            continue
        states[state.component] = state
    return states


def clear(directory: Path) -> None:
    """Forget the records of an earlier session (only when none of it is running)."""
    for pattern in ("*.json", "*.ready"):
        for path in directory.glob(pattern):
            path.unlink(missing_ok=True)


def touch_ready() -> None:
    """Called by a child program once it serves; a no-op when not supervised."""
    path = os.environ.get(READY_FILE_ENV)
    if path:
        with contextlib.suppress(OSError):
            Path(path).touch()


def pid_alive(pid: int | None, needle: str = "tinyclaw") -> bool:
    """Whether ``pid`` is a live, non-zombie process whose command line has ``needle``."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: the pid was reused
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no procfs (macOS): trust kill(0)
    try:
        stat = (proc / "stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return needle in cmdline
