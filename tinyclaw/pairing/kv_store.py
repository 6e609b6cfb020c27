"""The pairing store in a key-value bucket of the NATS spool, shared by every machine.

When a home's queue is on NATS, listeners on several machines must agree on who is
paired, and an approval made on one machine (``tinyclaw pair approve``, ``/approve``
from chat) must count on every other at the next message. So the store is not a file
but two keys of the bucket ``PREFIX_pairing``:

* ``store``: the whole :class:`StoreData` document, the same JSON as
  ``pairing/store.json``;
* ``secret``: the 32-byte key that hashes codes (a code shown by the listener on one
  machine is approved on another). Whoever can write the bucket could pair themselves
  anyway, so the key is as safe there as the store is.

**Transactions are compare-and-set.** A change reads the document with its revision,
runs the body on it, and writes it back only over that revision; when another
machine wrote first, the body runs again on what it wrote. Two listeners redeeming
the same invite at once: one write wins, the other's body runs again, finds the
invite gone and answers "wrong code". No lock is held, so a writer that dies holds
nothing up. Keeping the whole store in one key is what makes a change touching
several parts of it (an approval removes a request, a lockout, and adds a profile)
atomic; the store stays small (requests and lockouts expire, pending requests are
capped per channel).

**Fail-closed.** A document that cannot be parsed is unreadable, as a damaged file
is (:class:`PairingStoreError`: only the owners and ``allow_from`` lists of
``tinyclaw.toml`` get in, nothing writes over it). Servers that do not answer raise
:class:`SpoolUnavailableError` from every call, reads included: the listener then
treats the message as one it cannot queue (it is not queued, its sender is not
answered, and the platform hands it over again later), and the worker does not run
it. Nobody is let in on a guess, and no paired user's message is dropped for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tinyclaw.core import PairingError, PairingStoreError, SpoolError, SpoolUnavailableError
from tinyclaw.pairing.codes import checked_key, new_key
from tinyclaw.pairing.records import StoreData
from tinyclaw.pairing.storage import dump_store, parse_store, unreadable
from tinyclaw.spool import ChangedMeanwhile, KeyValue, change_key

BUCKET = "pairing"
STORE_KEY = "store"
SECRET_KEY = "secret"
MAX_TRIES = 50  # writers that keep winning against this one: give up and say so

T = TypeVar("T")


class KVPairingStore:
    """The pairing store in ``kv`` (the home's ``pairing`` bucket); ``where`` names it
    in messages (``NATS bucket tinyclaw_pairing``)."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        where: str = f"the NATS bucket {BUCKET}",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kv = kv
        self._where = where
        self._fix = (
            f"put a repaired document under the key {STORE_KEY!r} of {where}, or delete "
            "that key to start over (all pairings are then lost)"
        )
        self._sleep = sleep
        self._cached: tuple[bytes | None, StoreData] | None = None

    @property
    def where(self) -> str:
        return f"{self._where}, key {STORE_KEY}"

    def read(self) -> StoreData:
        """The current contents (one read of the bucket; parsed again only when they
        changed): treat them as read-only."""
        found = self._entry(STORE_KEY)
        raw = None if found is None else found[0]
        cached = self._cached
        if cached is not None and cached[0] == raw:
            return cached[1]
        data = parse_store(raw, self.where, self._fix)
        self._cached = (raw, data)
        return data

    def change(self, body: Callable[[StoreData], T]) -> T:
        """Read, run ``body``, write over the revision read; again when another writer
        came first (see the module docstring)."""

        def edit(raw: bytes | None) -> tuple[bytes | None, T]:
            data = parse_store(raw, self.where, self._fix)
            result = body(data)
            new = dump_store(data)
            unchanged = new == (raw if raw is not None else dump_store(StoreData()))
            return (None if unchanged else new), result

        try:
            return self._call(
                lambda: change_key(self.kv, STORE_KEY, edit, tries=MAX_TRIES, sleep=self._sleep)
            )
        except ChangedMeanwhile:
            raise PairingError(
                f"{self.where}: changed by others {MAX_TRIES} times while this change was "
                "being made; try again"
            ) from None

    def secret(self) -> bytes:
        """The key that hashes codes: the bucket's, or a new one if none is there yet
        (two machines making one at once: the first written wins, both use it)."""
        found = self.stored_secret()
        if found is not None:
            return found
        self._call(lambda: self.kv.create(SECRET_KEY, new_key()))
        made = self.stored_secret()
        if made is None:
            raise PairingError(f"{self._where}: the pairing key vanished as it was made")
        return made

    def stored_secret(self) -> bytes | None:
        found = self._entry(SECRET_KEY)
        if found is None:
            return None
        return checked_key(found[0], f"{self._where}, key {SECRET_KEY}")

    def put_secret(self, key: bytes) -> None:
        checked_key(key, "the key to write")
        self._call(lambda: self.kv.put(SECRET_KEY, key))

    # -- the bucket ------------------------------------------------------------------

    def _entry(self, key: str) -> tuple[bytes, int] | None:
        return self._call(lambda: self.kv.entry(key))

    def _call(self, fn: Callable[[], T]) -> T:
        """``fn()``; the servers being away stays SpoolUnavailableError (try again
        later), any other refusal (permissions, a broken bucket) makes the store
        unreadable, which fails closed."""
        try:
            return fn()
        except (SpoolUnavailableError, ChangedMeanwhile):
            raise
        except SpoolError as exc:
            raise PairingStoreError(unreadable(self._where, str(exc), self._fix)) from None
