"""The actors' CLI sessions as one part of a home that moves between the files and
NATS (``tinyclaw spool move``), so every conversation resumes where it was after the
move.

The copy replaces what the target held for each actor (sessions left behind by an
earlier move the other way are stale), and the source is kept as it was: nothing
reads it once the backend is switched."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tinyclaw.core import SpoolError
from tinyclaw.runners.kv_sessions import BUCKET, KVSessionStore
from tinyclaw.runners.sessions import Sessions, copy_sessions, home_sessions

if TYPE_CHECKING:
    from tinyclaw.spool import End


def sessions_at(end: End) -> Sessions:
    """The session store at one end of a move."""
    if end.backend == "file":
        return home_sessions(end.home)
    return KVSessionStore(end.spool.kv(BUCKET))


class SessionsToMove:
    """Every actor's sessions: copied, confirmed equal, left in place at the source."""

    name = "sessions"
    replaces = True

    def count(self, end: End) -> dict[str, int]:
        return {"actors": len(sessions_at(end).actors())}

    def copy(self, source: End, target: End, move_id: str, say: Callable[[str], None]) -> int:
        return copy_sessions(sessions_at(source), sessions_at(target))

    def confirm(self, source: End, target: End) -> None:
        there, here = sessions_at(source), sessions_at(target)
        differ = [a for a in there.actors() if there.load_state(a) != here.load_state(a)]
        if differ:
            raise SpoolError(
                f"the copy is not confirmed: the sessions of {', '.join(differ)} on "
                f"{target.label} differ from those on {source.label}; nothing was removed "
                "(run the move again)"
            )

    def empty(self, source: End) -> int:
        return 0  # kept: see the module docstring
