"""Drop folders in a shared workspace: files that belong to nobody.

Actors may share one workspace (two actors on one repository). Their drop folders
(``outbox/``, ``schedules/``) then get a subfolder per actor
(:meth:`~tinyclaw.config.Config.actor_folders`), and a file written straight into the
shared folder cannot be credited to anyone: taking it as one actor's would let the
other write with its chats. It is left where it is and reported once, naming the
folder the writer should have used.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tinyclaw.events import EventLog
from tinyclaw.spool import SUFFIX

log = logging.getLogger("tinyclaw.actors")


class Unclaimed:
    """Report ``*.json`` files written directly into shared drop folders, once each.

    ``roots`` maps each shared folder to the actors sharing it; ``kind`` names the
    folder in messages and events (``outbox``, ``schedules``)."""

    def __init__(
        self, roots: dict[Path, list[str]], kind: str, events: EventLog | None = None
    ) -> None:
        self.roots = roots
        self.kind = kind
        self.events = events
        self._reported: set[tuple[Path, int, int]] = set()

    def check(self) -> None:
        """Report the unclaimed files not reported before (a rewrite counts as new)."""
        seen: set[tuple[Path, int, int]] = set()
        for root, actors in self.roots.items():
            try:
                with os.scandir(root) as listing:
                    entries = [
                        (entry.name, entry.stat(follow_symlinks=False))
                        for entry in listing
                        if entry.name.endswith(SUFFIX)
                        and not entry.name.startswith(".")
                        and not entry.is_dir(follow_symlinks=False)
                    ]
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name, st in entries:
                key = (root / name, st.st_ino, st.st_mtime_ns)  # a rewrite is news again
                seen.add(key)
                if key not in self._reported:
                    self._report(root / name, actors)
        self._reported = seen

    def _report(self, path: Path, actors: list[str]) -> None:
        names = ", ".join(f"@{a}" for a in actors)
        where = f"{path.parent}/<actor>/"
        log.warning(
            "%s was written to the %s folder that %s share, so it belongs to nobody and "
            "is left alone; each of them writes to %s",
            path,
            self.kind,
            names,
            where,
        )
        if self.events is not None:
            self.events.emit(f"{self.kind}.unclaimed", file=str(path), actors=actors, use=where)
