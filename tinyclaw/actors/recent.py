"""A second identical request from an actor within a short window is a no-op.

A model that believes its Write failed writes the note again, often under a new
name. Whether the first write really failed or not, the chat must get the note
once. So every accepted note (and every schedule an actor makes) leaves a mark in
``state/recent/``, keyed on the actor, the target and the content; a request with
the same key whose file was written within ``window`` seconds of the marked one is
dropped as a repeat.

Both times are the files' modification times, not the time of the scan, so the
answer is the same after a restart: a leftover file handled again is recognised as
the one that made the mark. Marks are tiny files written atomically; they are
pruned once they are old enough that no file could still match them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tinyclaw.core.fsutil import atomic_write

PRUNE_AFTER = 86400.0  # a leftover file older than a day is handled long before


class RecentRequests:
    """``state/recent/<key>``: ``{"written": <mtime>, "ref": <what it became>}``."""

    def __init__(self, root: Path, window: float) -> None:
        self.root = root
        self.window = window

    @staticmethod
    def key(*parts: str) -> str:
        digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:40]

    def original(self, key: str, written: float) -> str | None:
        """What an identical request written within the window became, or None."""
        if self.window <= 0:
            return None
        try:
            record = json.loads((self.root / key).read_bytes())
            then = float(record["written"])
            ref = str(record["ref"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no mark, or a torn one: not a repeat
        return ref if abs(written - then) <= self.window else None

    def record(self, key: str, written: float, ref: str) -> None:
        if self.window <= 0:
            return
        data = json.dumps({"written": written, "ref": ref}).encode()
        atomic_write(self.root / key, data, durable=False)

    def prune(self, now: float) -> int:
        """Remove marks that no file could match any more; returns how many."""
        age = max(PRUNE_AFTER, 2 * self.window)
        removed = 0
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return 0
        for entry in entries:
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > age:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed
