"""systemd's readiness protocol (``sd_notify``): one datagram to ``$NOTIFY_SOCKET``.

A unit with ``Type=notify`` counts as started only when its main process says
``READY=1``, so ``systemctl start`` and every unit ordered after it wait for a worker
that really serves (queue recovered, watcher running), not for a process that merely
exists. ``STOPPING=1`` tells systemd a stop is under way, and ``STATUS=...`` is the line
``systemctl status`` shows. The protocol is a single ``AF_UNIX`` datagram of
newline-separated ``KEY=VALUE`` pairs; an address starting with ``@`` is in the
abstract namespace. Without ``$NOTIFY_SOCKET`` (not run by systemd) every call is a
no-op, and a failure to send never stops the process it describes.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("tinyclaw.core.sdnotify")
SOCKET_ENV = "NOTIFY_SOCKET"


def notify(*fields: str) -> bool:
    """Send ``fields`` (``"READY=1"``, ``"STATUS=serving"``) to systemd; True if sent."""
    address = os.environ.get(SOCKET_ENV)
    if not address or not fields:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    payload = "\n".join(fields).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(payload)
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True


def ready(status: str) -> bool:
    """The process serves now: ``READY=1`` with a status line."""
    return notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")


def stopping(status: str = "stopping") -> bool:
    return notify("STOPPING=1", f"STATUS={status}")


def reloading(status: str = "reloading the configuration") -> bool:
    return notify("RELOADING=1", f"STATUS={status}")
