"""One-time pairing codes and the per-home key that protects them.

A code is 8 symbols from an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S,
8/B), shown as ``KQ7M-T4XA`` and accepted in any case, with or without the dash or
spaces. 25**8 is about 1.5e11 codes; with the per-sender and per-channel limits in
:mod:`tinyclaw.pairing.records` a guesser gets a few dozen tries a day.

Codes are never stored. The store holds ``HMAC-SHA256(key, code)`` under a key in
``pairing/secret.key`` (32 random bytes, created once with ``O_EXCL`` and mode 0600),
so a copy of the store alone does not let anyone redeem a live code, and a presented
code is compared against every stored hash in constant time.

Invite codes come straight from :mod:`secrets`. Request codes (the ones an unknown
sender is told to pass to the owner) must be shown again if that sender writes again,
so they are *derived*: ``code = HMAC(key, "request" | identity | nonce)`` with a random
16-byte nonce kept in the request. We chose this over keeping the plaintext encrypted
(AES-GCM under the same key) because it needs no second primitive and no ciphertext on
disk: the nonce is useless without the key, and whoever holds the key and the store
could already rewrite the store itself, so neither design protects more.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from tinyclaw.core import PairingError

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8
KEY_BYTES = 32
NONCE_BYTES = 16
_ALLOWED = frozenset(ALPHABET)
# What help texts show: a code that could really be one (never one with a left-out symbol).
EXAMPLE_CODE = "KQ7M-T4XA"
LEFT_OUT = "0 O 1 I L 2 Z 5 S 8 B"
_IGNORED = str.maketrans("", "", "- \t")


def format_code(raw: str) -> str:
    """``ABCDEFGH`` -> ``ABCD-EFGH``: easier to read aloud and to type."""
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str | None:
    """The canonical 8 symbols of what a person typed, or None if it cannot be a code.

    Case, surrounding and inner spaces and dashes do not matter; anything else does.
    """
    raw = text.strip().translate(_IGNORED).upper()
    if len(raw) != CODE_LENGTH or not set(raw) <= _ALLOWED:
        return None
    return raw


def explain_bad_code(text: str) -> str:
    """Why ``text`` is not a code, in one sentence for the person who typed it."""
    raw = text.strip().translate(_IGNORED).upper()
    foreign = sorted({c for c in raw if c not in _ALLOWED})
    if foreign:
        why = f"codes never contain {', '.join(foreign)}"
    else:
        why = f"a code has {CODE_LENGTH} symbols, this has {len(raw)}"
    return (
        f"{text!r} is not a pairing code: {why} (codes use {ALPHABET}; "
        f"there is no {LEFT_OUT}), e.g. {EXAMPLE_CODE}"
    )


def random_code() -> str:
    """A fresh code from the operating system's CSPRNG (canonical form, no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


class CodeKey:
    """The per-home HMAC key: hashes codes, derives request codes, compares hashes.

    The key is loaded (or created) once, on first use, so building a service costs no
    I/O and a home without any pairing activity gets no key file. ``source`` is the
    key file, or a function that returns the key (a store that keeps it elsewhere).
    """

    def __init__(self, source: Path | Callable[[], bytes]) -> None:
        self._load: Callable[[], bytes] = (
            (lambda: load_or_create_key(source)) if isinstance(source, Path) else source
        )
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = self._load()
        return self._key

    def _mac(self, *parts: bytes) -> bytes:
        # Imported here: an idle listener never hashes a code, and this saves it ~7 MB.
        from cryptography.hazmat.primitives import hashes, hmac

        mac = hmac.HMAC(self._secret(), hashes.SHA256())
        for part in parts:
            # Length-prefixed so ("ab", "c") and ("a", "bc") can never collide.
            mac.update(len(part).to_bytes(4, "big"))
            mac.update(part)
        return mac.finalize()

    def hash_code(self, raw: str) -> str:
        """The stored form of a canonical code (hex HMAC-SHA256)."""
        return self._mac(b"tinyclaw-code-v1", raw.encode("ascii")).hex()

    def request_code(self, identity: str, nonce_hex: str) -> str:
        """The request code of ``identity``: recomputable from the nonce, see module doc."""
        digest = self._mac(b"tinyclaw-request-v1", identity.encode(), bytes.fromhex(nonce_hex))
        # 256 bits reduced to 25**8 values: the bias is below 2**-200.
        number = int.from_bytes(digest, "big")
        symbols = []
        for _ in range(CODE_LENGTH):
            number, index = divmod(number, len(ALPHABET))
            symbols.append(ALPHABET[index])
        return "".join(symbols)

    @staticmethod
    def same(stored_hex: str, presented_hex: str) -> bool:
        """Constant-time equality of two hashes."""
        from cryptography.hazmat.primitives import constant_time

        return constant_time.bytes_eq(stored_hex.encode(), presented_hex.encode())


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def load_or_create_key(path: Path) -> bytes:
    """Read the key, creating it first if it does not exist.

    Creation writes a temporary file and links it into place: ``link(2)`` fails if the
    name exists (``O_EXCL`` semantics), and unlike ``open(O_EXCL)`` a racing reader can
    never see the file before its 32 bytes are written and synced.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    tmp = _private_tmp(path, new_key())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race; use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise PairingError(f"{path}: cannot read the pairing key: {exc}") from None
    return checked_key(data, str(path))


def checked_key(data: bytes, where: str) -> bytes:
    """``data`` if it is a whole key; PairingError naming ``where`` otherwise."""
    if len(data) != KEY_BYTES:
        raise PairingError(
            f"{where}: the pairing key is damaged ({len(data)} bytes, expected {KEY_BYTES}); "
            "delete it to make a new one (pending codes and invites then stop working)"
        )
    return data


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def read_key_if_any(path: Path) -> bytes | None:
    """The key in ``path``, or None when none was made yet (nothing is created)."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        return None


def write_key(path: Path, key: bytes) -> None:
    """Replace the key file with ``key`` (atomically, mode 0600): a copied store
    keeps the key its codes were hashed with."""
    tmp = _private_tmp(path, checked_key(key, "the key to write"))
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _private_tmp(path: Path, key: bytes) -> Path:
    """A synced temporary file beside ``path`` holding ``key``, mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask says
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp
