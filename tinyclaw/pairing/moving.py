"""The pairing store as one part of a home that moves between the files and NATS
(``tinyclaw spool move``): who is paired, the pending requests, the invites and the
key codes are hashed with, so a code handed out before the move still works after it.

The copy replaces what the target held (a store left behind by an earlier move the
other way is stale), and the source is kept as it was: nothing reads it once the
backend is switched, and it is the owner's last copy should the move be undone by
hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tinyclaw.core import SpoolError
from tinyclaw.pairing.kv_store import BUCKET, KVPairingStore
from tinyclaw.pairing.storage import PairingStorage, PairingStore, copy_pairing

if TYPE_CHECKING:
    from tinyclaw.spool import End


def pairing_at(end: End) -> PairingStorage:
    """The pairing store at one end of a move."""
    if end.backend == "file":
        return PairingStore(end.home.pairing)
    return KVPairingStore(end.spool.kv(BUCKET))


class PairingToMove:
    """The pairing store: copied whole, confirmed equal, left in place at the source."""

    name = "pairing"
    replaces = True

    def count(self, end: End) -> dict[str, int]:
        data = pairing_at(end).read()
        return {"profiles": len(data.profiles), "requests": len(data.requests)}

    def copy(self, source: End, target: End, move_id: str, say: Callable[[str], None]) -> int:
        return copy_pairing(pairing_at(source), pairing_at(target))

    def confirm(self, source: End, target: End) -> None:
        there, here = pairing_at(source), pairing_at(target)
        if there.read() != here.read() or there.stored_secret() != here.stored_secret():
            raise SpoolError(
                f"the copy is not confirmed: the pairing store on {target.label} differs "
                f"from the one on {source.label}; nothing was removed (run the move again)"
            )

    def empty(self, source: End) -> int:
        return 0  # kept: see the module docstring
