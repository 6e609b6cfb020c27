"""The run journal: a CLI's result, saved before anything is done with it.

A CLI run is the one step that is neither fast nor repeatable (the model may answer
differently, and tools may have side effects). Saving its result under the message id
before acting on it means a worker killed after the run replays the *same* result:
the same reply, the same handoffs, and no second run. The entry is dropped once the
message is complete.

Entries are renamed into place but not fsynced: they guard against a killed process
(the page cache survives it), and after a power cut a torn entry only means the CLI
runs again, which is the behaviour without a journal. That keeps a second fsync off
every message's path.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinyclaw.core import atomic_write
from tinyclaw.runners import RunResult


class RunJournal:
    def __init__(self, root: Path, *, durable: bool = False) -> None:
        self.root = root
        self.durable = durable
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, message_id: str) -> Path:
        return self.root / f"{message_id}.json"

    def get(self, message_id: str) -> RunResult | None:
        try:
            data = json.loads(self._path(message_id).read_bytes())
            return RunResult(**data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, RecursionError):
            return None  # a torn or foreign entry: run again rather than trust it

    def has(self, message_id: str) -> bool:
        """Whether a run of this message ended and its result is saved: a message
        answered before a restart, as opposed to a new file reusing an old id."""
        return self._path(message_id).exists()

    def put(self, message_id: str, result: RunResult) -> None:
        # Its fields are flat (the usage is parsed JSON): no deep copy, as asdict makes.
        body = json.dumps(vars(result), default=str).encode("utf-8")
        atomic_write(self._path(message_id), body, durable=self.durable)

    def ids(self) -> list[str]:
        """Message ids with a saved result (for the start-up sweep of orphans)."""
        return sorted(p.stem for p in self.root.glob("*.json"))

    def drop(self, message_id: str) -> None:
        self._path(message_id).unlink(missing_ok=True)
