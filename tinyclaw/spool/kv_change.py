"""One read-modify-write of a key in a shared :class:`~tinyclaw.spool.KeyValue`, safe
against writers on other machines: the stores kept on NATS (pairing, sessions, team
conversations) each change a JSON document this way.

The value is read with its revision, edited, and written only over that revision
(``create`` when the key was absent); when another writer came first the write is
refused and the edit runs again on what that writer saved. No lock is held across
machines, and neither change is lost. The edit may therefore run several times: it
must only compute from its argument, and anything it should do once (an event, a
notice) comes after this returns. Between tries a short random pause spreads two
writers so they do not collide again in step."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from tinyclaw.core import SpoolError
from tinyclaw.spool.backend import KeyValue

T = TypeVar("T")

# Tries before a change gives up: the writers of one key are a home's few listeners
# and runs, so 50 refusals in a row mean something else is wrong.
MAX_TRIES = 50


class ChangedMeanwhile(SpoolError):
    """Other writers changed the key every time this change was about to be written."""


def change_key(
    kv: KeyValue,
    key: str,
    edit: Callable[[bytes | None], tuple[bytes | None, T]],
    *,
    tries: int = MAX_TRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Apply ``edit`` to ``key``'s value (None: not set) and store what it returns.
    ``edit`` returns ``(new value, result)``; a new value of None (or the value read)
    writes nothing. Returns the result of the edit that was stored;
    :class:`ChangedMeanwhile` after ``tries`` refused writes."""
    for attempt in range(tries):
        found = kv.entry(key)
        current = None if found is None else found[0]
        new, result = edit(current)
        if new is None or new == current:
            return result
        written = kv.create(key, new) if found is None else kv.update(key, new, found[1])
        if written is not None:
            return result
        sleep(random.uniform(0.0, 0.01 * (attempt + 1)))
    raise ChangedMeanwhile(f"{key}: changed by others {tries} times while this change was made")
