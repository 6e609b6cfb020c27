"""Filesystem primitives every writer shares: unique names, atomic writes, confinement.

The rules are Maildir's (CPython ``mailbox.Maildir``): write into a temporary file,
fsync it, then ``rename(2)`` it into place, so a reader never sees half a file and a
crash leaves either the old state or the new one. Paths built from outside input are
resolved and checked against their root, so ``../`` and symlinks cannot lead out.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinyclaw.core.errors import InvalidFileError, UnsafePathError

_counter = itertools.count()
_counter_lock = threading.Lock()
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# What a surrogate looks like in the bytes: a JSON escape of one (``\\udc80``) or its
# UTF-8-style encoding (``json.loads`` decodes bytes with "surrogatepass").
_SURROGATE_BYTES_RE = re.compile(rb"\\[uU][dD][89a-fA-F]|\xed[\xa0-\xbf]")
# Deeper nesting than any file of tinyclaw's needs; pydantic cannot serialize ~250.
MAX_JSON_DEPTH = 64


def unique_name() -> str:
    """A name that is unique on this machine and sorts in creation order.

    UTC time to the microsecond, then pid and a per-process counter: two writers can
    never collide, and a sorted directory listing is the FIFO (mailbox's recipe).
    """
    now = time.time_ns()
    seconds, nanos = divmod(now, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    with _counter_lock:
        count = next(_counter)
    return f"{stamp}.{nanos // 1000:06d}Z-{os.getpid()}-{count:06d}"


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_tmp(tmp_dir: Path, data: bytes, *, durable: bool = True) -> Path:
    """Create a new file in ``tmp_dir`` with ``O_EXCL``, write ``data``, fsync it."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"{unique_name()}.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return path


def atomic_write(
    path: Path, data: bytes, *, tmp_dir: Path | None = None, durable: bool = True
) -> None:
    """Replace ``path`` with ``data`` atomically (tmp → fsync → rename)."""
    target_dir = path.parent
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = write_tmp(tmp_dir or target_dir, data, durable=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target_dir)


# Errors of the filesystem, not of a file: the same operation may well succeed later
# (the disk is back, space was freed, the mount is writable again).
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EAGAIN,
        errno.EINTR,
        errno.ENOMEM,
        errno.EMFILE,
        errno.ENFILE,
        errno.EBUSY,
        errno.ESTALE,
        errno.ETIMEDOUT,
    }
)


def is_transient(exc: OSError) -> bool:
    """Whether ``exc`` says the filesystem is in trouble now, rather than that the
    file itself is bad: such a file is left where it is and tried again later."""
    return exc.errno in TRANSIENT_ERRNOS


def read_regular(path: Path, limit: int, *, follow_symlinks: bool = False) -> bytes:
    """Read at most ``limit + 1`` bytes of ``path``, which must be a regular file.

    Queue files are input: a symlink planted in a box must not make tinyclaw read a
    file outside the home, a FIFO must not block the reader forever, ``/dev/zero``
    must not fill its memory. So: ``O_NOFOLLOW`` (a symlink fails to open),
    ``O_NONBLOCK`` (opening a FIFO returns at once), ``fstat`` on the open descriptor
    (no race with a rename) and a bounded read; one byte past ``limit`` lets the
    caller say "too large" without reading the rest. Raises UnsafePathError for
    anything that is not a regular file; FileNotFoundError passes through.
    ``follow_symlinks`` is for a file the user may keep elsewhere (``tinyclaw.toml``
    in a dotfiles repository): the link is followed, the rest still holds.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{path.name} is a symlink, not a regular file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafePathError(f"{path.name} is not a regular file")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_json_object(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Bytes that must hold one JSON object; InvalidFileError says what is wrong.

    Every way the bytes can fail to parse ends as that one error, because each caller
    turns it into a move to ``failed/`` and goes on: ``json.loads`` raises
    ``RecursionError`` past about 1,000 levels of nesting (10 KB of ``[`` is enough,
    so the size limits do not help), and ``ValueError`` for invalid UTF-8 or an integer
    of more than 4,300 digits. Two things ``json.loads`` accepts are refused as well,
    because the file could never be written back out (a retry rewrites it): nesting
    deeper than ``max_depth``, and a lone UTF-16 surrogate (``"\\ud800"``), which is
    no character of any text."""
    if not data.strip():
        raise InvalidFileError("file is empty")
    try:
        raw = json.loads(data)
    except RecursionError:
        raise InvalidFileError(_too_deep(max_depth)) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5,000-digit number
        raise InvalidFileError(f"not valid UTF-8 JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidFileError(f"expected a JSON object, got {type(raw).__name__}")
    if _may_be_refused(data, max_depth):
        _check_parsed(raw, max_depth)
    return raw


def _may_be_refused(data: bytes, max_depth: int) -> bool:
    """Whether the walk of :func:`_check_parsed` could refuse what ``data`` parsed to.

    Two scans in C spare the walk in Python for nearly every file: nesting deeper than
    ``max_depth`` needs more than ``max_depth`` opening brackets (those inside strings
    only overcount), and a lone surrogate needs a surrogate escape or encoding in the
    bytes."""
    if data.count(b"[") + data.count(b"{") > max_depth:
        return True
    return _SURROGATE_BYTES_RE.search(data) is not None


def _too_deep(max_depth: int) -> str:
    return f"JSON nested too deeply (more than {max_depth} levels of lists or objects)"


def _check_parsed(value: object, max_depth: int) -> None:
    """Walk a parsed JSON value (iteratively: it may nest past the recursion limit)
    and refuse nesting deeper than ``max_depth`` and lone surrogates in strings."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE_RE.search(item):
                raise InvalidFileError(f"not valid unicode text: a lone surrogate in {item[:40]!r}")
            continue
        children: Iterable[object]
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            raise InvalidFileError(_too_deep(max_depth))
        stack.extend((child, depth + 1) for child in children)


def read_foreign(path: Path, limit: int) -> bytes:
    """The bytes of a file written by someone else (a job file, an actor's request):
    a regular file (no symlink, FIFO or device), at most ``limit`` bytes. Any problem
    is an InvalidFileError; FileNotFoundError passes through."""
    try:
        data = read_regular(path, limit)
    except UnsafePathError as exc:
        raise InvalidFileError(str(exc)) from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InvalidFileError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        with contextlib.suppress(OSError):
            raise InvalidFileError(f"file is {path.stat().st_size} bytes; the limit is {limit}")
        raise InvalidFileError(f"file is over the limit of {limit} bytes")
    return data


def read_json_object(path: Path, limit: int) -> dict[str, Any]:
    """A JSON object from a file written by someone else (see :func:`read_foreign`)."""
    return parse_json_object(read_foreign(path, limit))


def sanitize_name(name: str, *, default: str = "file", max_length: int = 120) -> str:
    """A file name safe on any filesystem: no separators, no dot-files, no control bytes."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME_RE.sub("_", base).strip("._")
    if not base:
        base = default
    if len(base) > max_length:
        stem, dot, ext = base.rpartition(".")
        if dot and len(ext) <= 16:
            base = stem[: max_length - len(ext) - 1] + "." + ext
        else:
            base = base[:max_length]
    return base


def confine(root: Path, candidate: str | os.PathLike[str]) -> Path:
    """Resolve ``candidate`` (relative to ``root`` unless absolute) and require that it
    stays inside ``root`` after following every symlink; raise UnsafePathError if not."""
    text = os.fspath(candidate)
    if "\x00" in text:
        raise UnsafePathError("path contains a NUL byte")
    root_resolved = root.resolve()
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = root_resolved / path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13),
        # or a link swapped for a file while it was being resolved (EINVAL)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UnsafePathError(f"{text!r} cannot be resolved ({why})") from None
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError(f"{text!r} is outside {root_resolved}")
    return resolved
