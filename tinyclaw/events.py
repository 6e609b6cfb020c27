"""The structured event log: one JSON object per line in ``logs/events.jsonl``.

Every process appends to the same file with ``O_APPEND`` and one ``write`` per event,
which POSIX keeps whole for lines this small, so no lock is needed. ``tinyclaw trace``,
``status`` and the dashboard read it; nothing else depends on it, and a failure to
write an event never stops the work it describes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("tinyclaw.events")
MAX_LINE = 16_000


class EventLog:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, kind: str, **fields: Any) -> None:
        record = {"ts": round(self.clock(), 6), "event": kind, "pid": os.getpid(), **fields}
        line = json.dumps(record, default=str, ensure_ascii=False)
        if len(line) > MAX_LINE:
            record = {
                k: (v[:500] + "…" if isinstance(v, str) and len(v) > 500 else v)
                for k, v in record.items()
            }
            line = json.dumps(record, default=str, ensure_ascii=False)[:MAX_LINE]
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("cannot write event log %s: %s", self.path, exc)

    def read(self) -> Iterator[dict[str, Any]]:
        """Every readable event, oldest first; a torn or foreign line is skipped."""
        try:
            handle = self.path.open("r", encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        with handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record
