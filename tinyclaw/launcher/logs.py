"""``tinyclaw logs [COMPONENT] [-f]``: find a process's log and print or follow it.

Every process writes ``logs/<component>.log`` (rotated by ``logsetup``; a listener's
is ``listen-<platform>.log``), supervisors
``logs/supervise-<component>.log``, the actor windows ``logs/watch-<actor>.log``; the
structured event log is ``logs/events.jsonl`` and each actor's live progress
``logs/live/<actor>.jsonl``. A component name resolves to one of them, so the
operator does not need to know the layout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tinyclaw.core.errors import ConfigError
from tinyclaw.core.home import Home
from tinyclaw.core.printable import printable


@dataclass(frozen=True)
class LogFile:
    name: str
    path: Path
    size: int
    modified: float


def available(home: Home) -> list[LogFile]:
    found = []
    patterns = ("*.log", "events.jsonl", "live/*.jsonl")
    for pattern in patterns:
        for path in sorted(home.logs.glob(pattern)):
            try:
                st = path.stat()
            except OSError:
                continue
            name = f"live/{path.stem}" if path.parent.name == "live" else path.stem
            found.append(LogFile(name, path, st.st_size, st.st_mtime))
    return found


def resolve(home: Home, component: str) -> Path:
    """The file for ``component``: a log's name (``worker``, ``supervise-worker``,
    ``events``, ``live/coder``), a platform (``telegram`` is ``listen-telegram.log``),
    or an actor's name for its live progress."""
    logs = home.logs
    candidates = [
        logs / f"{component}.log",
        logs / f"listen-{component}.log",
        logs / f"{component}.jsonl",
        logs / "live" / f"{component.removeprefix('live/')}.jsonl",
        logs / f"watch-{component}.log",
    ]
    for path in candidates:
        if path.is_file():
            return path
    names = ", ".join(f.name for f in available(home)) or "none yet"
    raise ConfigError(f"no log called {component!r} in {logs} (available: {names})")


def last_lines(path: Path, count: int, block: int = 64 * 1024) -> list[str]:
    """The last ``count`` lines, reading only as much of the end as needed."""
    if count <= 0:
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [printable(line) for line in lines[-count:]]


def follow(
    path: Path,
    out: TextIO,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    interval: float = 0.25,
) -> None:
    """Print what is appended to ``path`` until ``should_stop``; reopens the file when
    it is rotated (a new inode under the same name) or truncated."""
    handle = path.open("rb")
    handle.seek(0, os.SEEK_END)
    try:
        while not should_stop():
            chunk = handle.read()
            if chunk:
                out.write(printable(chunk.decode("utf-8", errors="replace")))
                out.flush()
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                time.sleep(interval)
                continue
            if st.st_ino != os.fstat(handle.fileno()).st_ino:
                handle.close()
                handle = path.open("rb")
            elif st.st_size < handle.tell():
                handle.seek(0)
            else:
                time.sleep(interval)
    finally:
        handle.close()
