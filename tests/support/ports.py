"""Loopback ports a test can hand to a server it starts later.

Binding port 0 and closing the socket is not enough: the kernel hands that same port
to the next outgoing connection of any process (it comes from the ephemeral range),
and a ``nats-server`` started a moment later, or restarted after a SIGKILL on the
ports it had, then dies with "address already in use". So a port here comes from
below the ephemeral range, which the kernel never picks by itself, and is reserved
for the life of the process that asked with a lock on one byte of a shared file, so
that the parallel test workers never hand out the same one either.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

LOWEST, HIGHEST = 20_000, 32_000
"""Below Linux's default ephemeral range (32768-60999)."""

_reserved: set[int] = set()
_lock_fd: int | None = None


def _locks() -> int:
    """One descriptor on the shared lock file, kept open for the process's life (a
    POSIX record lock lasts while its process holds the file open)."""
    global _lock_fd
    if _lock_fd is None:
        path = Path(tempfile.gettempdir()) / f"tinyclaw-test-ports-{os.getuid()}.lock"
        _lock_fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    return _lock_fd


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port no other test process holds and no connection will take."""
    fd = _locks()
    pick = random.SystemRandom()
    for _ in range(500):
        port = pick.randrange(LOWEST, HIGHEST)
        if port in _reserved:
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
        except OSError:
            continue  # another test process holds it
        if _bindable(port):
            _reserved.add(port)
            return port
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, port)
    raise AssertionError(f"no free loopback port between {LOWEST} and {HIGHEST}")
