"""What the worker loop drives besides its queues: the ``Service`` protocol.

Schedules, the actors' outboxes and the team sweep each implement it; the worker
assembly (``tinyclaw.worker.assembly``) builds them and hands them to the loop, which
knows them only through this protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Service(Protocol):
    """Periodic work the worker loop drives besides its queues (schedules, outboxes).

    ``tick`` does whatever is due and returns the epoch time it wants to be called
    again (None: at the next scan). It runs on the loop thread; keep it short.
    ``folders`` are where a new file means the service has work: the worker watches
    them too, so an actor's outbox file is delivered at once, not at the next scan."""

    name: str

    def tick(self, now: float) -> float | None: ...

    def folders(self) -> list[Path]: ...
