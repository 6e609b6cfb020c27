"""One process per role per home: a second worker or listener would double the work.

A second worker started on a home would "recover" the first one's claimed messages at
start-up and run them again; a second listener of one platform would deliver every
reply twice. Both take an exclusive ``flock`` on ``state/<role>.lock`` for their whole
life. The kernel drops the lock when its holder dies, however it dies (SIGKILL too),
so a crash never leaves a stale lock behind and no pid has to be trusted. The holder
writes its pid into the file so the refusal can name it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from tinyclaw.core.errors import AlreadyRunningError, UnsafePathError


class InstanceLock:
    """Held from :meth:`acquire` until :meth:`release` or the process's end."""

    def __init__(self, path: Path, role: str) -> None:
        self.path = path
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunningError` naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _read_pid(self.path)
            who = f" (pid {pid})" if pid else ""
            raise AlreadyRunningError(
                f"a {self.role} is already running for this home{who}; "
                "stop it first (`tinyclaw stop`, or Ctrl-C in its terminal)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _open_lock_file(path: Path) -> int:
    """Open (or create) the lock file itself, never what a symlink in its place points
    to: the holder writes its pid into it, which would overwrite a file outside the
    home. A symlink, or anything but a regular file, is refused."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(
                f"{path} is a symlink; remove it (tinyclaw creates its own lock file)"
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{path} is not a regular file; remove it")
    return fd


def lock_holder(path: Path) -> int | None:
    """The pid holding ``path``'s lock (0 if it wrote none yet); None when it is free."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or 0
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return None


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def worker_lock_path(state: Path) -> Path:
    return state / "worker.lock"


def listener_lock_path(state: Path, channel: str) -> Path:
    return state / f"listen-{channel}.lock"
