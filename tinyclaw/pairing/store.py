"""The pairing store on disk: ``pairing/store.json``, read often, written rarely.

Two rules make it safe to share between the listeners, the worker and the command line:

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

A file that cannot be parsed or validated is *unreadable*: reads raise
:class:`PairingStoreError` (the gate turns that into "not allowed" for everyone but
the owners and ``allow_from`` entries of ``tinyclaw.toml``) and transactions
refuse to run, so an empty store is never written over a damaged one. A missing file
is simply a new, empty store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import ValidationError

from tinyclaw.core.errors import PairingError, PairingStoreError
from tinyclaw.core.fsutil import atomic_write
from tinyclaw.pairing.models import StoreData

STORE_FILE = "store.json"
LOCK_FILE = "store.lock"
KEY_FILE = "secret.key"


class PairingStore:
    """Load and save :class:`StoreData` under ``root`` (the home's ``pairing/``)."""

    def __init__(self, root: Path, *, lock_timeout: float = 10.0) -> None:
        self.root = root
        self.path = root / STORE_FILE
        self._lock_path = root / LOCK_FILE
        self._lock_timeout = lock_timeout
        self._cached: tuple[bytes | None, StoreData] | None = None

    def read(self) -> StoreData:
        """The current contents, shared with later calls: treat it as read-only."""
        raw = self._raw()
        cached = self._cached
        if cached is not None and cached[0] == raw:
            return cached[1]
        data = self._parse(raw)
        self._cached = (raw, data)
        return data

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
            data = self._parse(raw)
            yield data
            new = _dump(data)
            if new != (raw if raw is not None else _dump(StoreData())):
                atomic_write(self.path, new)
        finally:
            lock.release()

    def _raw(self) -> bytes | None:
        """The file's bytes, or None when there is no store yet."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PairingStoreError(self._unreadable(f"cannot read it: {exc}")) from None

    def _parse(self, raw: bytes | None) -> StoreData:
        if raw is None:
            return StoreData()
        try:
            return StoreData.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top level)"
            detail = f"{exc.error_count()} problem(s), first at {where}: {first['msg']}"
            raise PairingStoreError(self._unreadable(detail)) from None

    def _unreadable(self, detail: str) -> str:
        return (
            f"{self.path}: the pairing store is unreadable ({detail}). Nobody is let in "
            "except the owners and allow_from lists of tinyclaw.toml until it is fixed: "
            "repair the file, or move it aside to start over (all pairings are then lost)"
        )


def _dump(data: StoreData) -> bytes:
    return data.model_dump_json(indent=2).encode() + b"\n"
