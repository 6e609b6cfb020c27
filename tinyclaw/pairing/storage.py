"""The pairing store: one :class:`StoreData` document, read often, written rarely.

:class:`PairingStorage` is what pairing needs of a store, whatever holds it:

* ``read()`` the current contents (for the gate's check of every message);
* ``change(body)``: a transaction. ``body`` gets the contents afresh, changes them in
  place and returns a value; the change is saved only if nothing else was saved
  since it was read, so two processes (or two machines) approving the same code
  never both succeed. ``body`` may run more than once (again on what the other
  writer saved), so it must do nothing but change the data it is given. If it
  raises, nothing is written;
* ``secret()``: the per-home key that hashes codes (created on first use), kept
  beside the store because a code made on one machine is redeemed on another.

Two implementations: :class:`PairingStore` (this module), the files in the home's
``pairing/``, and :class:`~tinyclaw.pairing.kv_store.KVPairingStore`, a key-value
bucket of the NATS spool for homes whose listeners run on several machines.
:func:`~tinyclaw.pairing.wiring.open_pairing_store` picks one from ``[spool]``;
:func:`copy_pairing` copies everything from one to another.

The file store keeps two rules that make it safe to share between the listeners, the
worker and the command line:

* **Writes are transactions.** A writer takes a cross-process lock
  (``pairing/store.lock``, :mod:`filelock`), reads the file afresh, changes it and
  replaces it atomically (tmp, fsync, rename: :func:`tinyclaw.core.fsutil.atomic_write`).
  Two processes approving the same code serialize on the lock; the second sees the
  code gone.
* **Reads take no lock** and always look at the file, so a revocation made by another
  process counts for the very next message. Because a replace is atomic, a reader sees
  the old or the new file, never half of one. Parsing is cached on the exact bytes
  (not on mtime, whose granularity can hide two quick writes), so a check costs one
  small read when nothing changed.

A store that cannot be parsed or validated is *unreadable*: reads raise
:class:`PairingStoreError` (the gate turns that into "not allowed" for everyone but
the owners and ``allow_from`` entries of ``tinyclaw.toml``) and transactions
refuse to run, so an empty store is never written over a damaged one. A missing file
is simply a new, empty store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from filelock import FileLock, Timeout
from pydantic import ValidationError

from tinyclaw.core import PairingError, PairingStoreError, atomic_write
from tinyclaw.pairing.codes import load_or_create_key, read_key_if_any, write_key
from tinyclaw.pairing.records import StoreData

STORE_FILE = "store.json"
LOCK_FILE = "store.lock"
KEY_FILE = "secret.key"

T = TypeVar("T")


class PairingStorage(Protocol):
    """Where the pairing store lives; see the module docstring for the contract."""

    @property
    def where(self) -> str:
        """The store's place, for messages (a path, or a bucket and key)."""
        ...

    def read(self) -> StoreData: ...

    def change(self, body: Callable[[StoreData], T]) -> T: ...

    def secret(self) -> bytes:
        """The key that hashes codes, made on first use."""
        ...

    def stored_secret(self) -> bytes | None:
        """The key if it was ever made, without making one."""
        ...

    def put_secret(self, key: bytes) -> None:
        """Replace the key (copying a store; live codes follow their key)."""
        ...


class PairingStore:
    """Load and save :class:`StoreData` under ``root`` (the home's ``pairing/``)."""

    def __init__(self, root: Path, *, lock_timeout: float = 10.0) -> None:
        self.root = root
        self.path = root / STORE_FILE
        self._lock_path = root / LOCK_FILE
        self._lock_timeout = lock_timeout
        self._cached: tuple[bytes | None, StoreData] | None = None

    @property
    def where(self) -> str:
        return str(self.path)

    def read(self) -> StoreData:
        """The current contents, shared with later calls: treat it as read-only."""
        raw = self._raw()
        cached = self._cached
        if cached is not None and cached[0] == raw:
            return cached[1]
        data = parse_store(raw, self.where, _FILE_FIX)
        self._cached = (raw, data)
        return data

    def change(self, body: Callable[[StoreData], T]) -> T:
        """Run ``body`` in a :meth:`transaction` and return what it returns."""
        with self.transaction() as data:
            return body(data)

    @contextmanager
    def transaction(self) -> Iterator[StoreData]:
        """Lock, read afresh, let the caller change the data, save it if it changed.

        If the body raises, nothing is written. If the store is unreadable the body never
        runs: the caller gets :class:`PairingStoreError` telling the user how to fix it.
        """
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = FileLock(self._lock_path, timeout=self._lock_timeout, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise PairingError(
                f"{self._lock_path}: another tinyclaw process holds the pairing lock; "
                "try again (if none is running, delete the lock file)"
            ) from None
        try:
            raw = self._raw()
            data = parse_store(raw, self.where, _FILE_FIX)
            yield data
            new = dump_store(data)
            if new != (raw if raw is not None else dump_store(StoreData())):
                atomic_write(self.path, new)
        finally:
            lock.release()

    def secret(self) -> bytes:
        return load_or_create_key(self.root / KEY_FILE)

    def stored_secret(self) -> bytes | None:
        return read_key_if_any(self.root / KEY_FILE)

    def put_secret(self, key: bytes) -> None:
        write_key(self.root / KEY_FILE, key)

    def _raw(self) -> bytes | None:
        """The file's bytes, or None when there is no store yet."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PairingStoreError(
                unreadable(self.where, f"cannot read it: {exc}", _FILE_FIX)
            ) from None


_FILE_FIX = "repair the file, or move it aside to start over (all pairings are then lost)"


def parse_store(raw: bytes | None, where: str, fix: str) -> StoreData:
    """The contents in ``raw`` (None: a new, empty store); PairingStoreError when they
    cannot be read, naming ``where`` and how to ``fix`` it."""
    if raw is None:
        return StoreData()
    try:
        return StoreData.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "(top level)"
        detail = f"{exc.error_count()} problem(s), first at {place}: {first['msg']}"
        raise PairingStoreError(unreadable(where, detail, fix)) from None


def unreadable(where: str, detail: str, fix: str) -> str:
    return (
        f"{where}: the pairing store is unreadable ({detail}). Nobody is let in "
        f"except the owners and allow_from lists of tinyclaw.toml until it is fixed: {fix}"
    )


def dump_store(data: StoreData) -> bytes:
    return data.model_dump_json(indent=2).encode() + b"\n"


def copy_pairing(source: PairingStorage, target: PairingStorage) -> int:
    """Copy everything pairing knows from ``source`` to ``target``: profiles, pending
    requests, invites, lockouts, and the key that hashes codes (so a code handed out
    before the copy still works after it). What ``target`` held is replaced. Returns
    the number of profiles copied. Used to move a home between the files and NATS;
    stop the listeners first, or a change made meanwhile on ``source`` is not copied."""
    contents = source.read()
    key = source.stored_secret()
    if key is not None:
        target.put_secret(key)

    def replace(data: StoreData) -> int:
        data.replace_with(contents)
        return len(data.profiles)

    return target.change(replace)
