"""Drop folders in a shared workspace: files that belong to nobody.

Every drop folder follows one rule about half-written files (:func:`parse_settled`):
the CLI writes with its ordinary Write tool, which may truncate the file and write it
in chunks, so a file that is empty or not yet JSON is left alone until it has not
changed for ``SETTLE_SECONDS``; only then is it refused.

Actors may share one workspace (two actors on one repository). Their drop folders
(``outbox/``, ``schedules/``) then get a subfolder per actor
(:meth:`~tinyclaw.config.Config.actor_folders`), and a file written straight into the
shared folder cannot be credited to anyone: taking it as one actor's would let the
other write with its chats. It is left where it is and reported once, naming the
folder the writer should have used.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tinyclaw.core.errors import InvalidFileError
from tinyclaw.core.events import EventLog
from tinyclaw.spool import SUFFIX

log = logging.getLogger("tinyclaw.actors")

SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Unsettled:
    """A drop file that is not JSON yet but may still be being written: look again at
    ``retry_at`` (epoch seconds)."""

    retry_at: float


def parse_settled(
    data: bytes, mtime: float, now: float, settle: float = SETTLE_SECONDS
) -> object | Unsettled:
    """The JSON value of a file an actor's CLI dropped (``data``, last written at
    ``mtime``), or Unsettled while it is empty or unparseable and younger than
    ``settle`` seconds. Once settled, an empty or unparseable file raises
    InvalidFileError. ``settle <= 0`` never waits."""
    try:
        if not data.strip():
            raise ValueError("the file is empty")
        value: object = json.loads(data)
    except RecursionError:
        # A complete file, not a half-written one: nested past the parser's depth
        # (a few KB of "[[[[" do it). Refused at once, never retried on each pass.
        raise InvalidFileError("JSON nested too deeply to read") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        if settle > 0 and now < mtime + settle:
            return Unsettled(mtime + settle)
        raise InvalidFileError(f"not valid UTF-8 JSON: {exc}") from None
    return value


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
        self._reported: set[tuple[Path, int]] = set()

    def check(self) -> None:
        """Report the unclaimed files not reported before (a replaced one counts as new)."""
        seen: set[tuple[Path, int]] = set()
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
                # A file replaced by a rename is news again; one still being written
                # (its mtime moving under a scan) is the same file, reported once.
                key = (root / name, st.st_ino)
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
